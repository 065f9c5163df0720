"""The XPath 1.0 and ODK function library (dates live in ``datefuncs``).

``FUNCTIONS`` maps a name to ``(impl, min_args, max_args)``; ``impl(ctx, *args)``
gets evaluated arguments. ``if``, ``once`` and ``indexed-repeat`` are compiled
specially (lazy or path-shaped arguments); ``SPECIAL_ARITY`` gives their counts.
"""

from __future__ import annotations

import math
import random
import re
import string
import uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from forms.xpath import datefuncs
from forms.xpath.values import NAN, to_bool, to_num, to_str

SPECIAL_ARITY = {"if": (3, 3), "once": (1, 1), "indexed-repeat": (3, None)}


def divide(a: float, b: float) -> float:
    if b == 0:
        if a != a or a == 0:
            return NAN
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def modulo(a: float, b: float) -> float:
    if b == 0 or a != a or b != b or math.isinf(a):
        return NAN
    return math.fmod(a, b)


def _nodes(value, fname) -> list:
    if type(value) is not list:
        raise TypeError(f"{fname}() needs a node-set")
    return value


def _texts(args) -> list[str]:
    """Each argument's strings: all nodes of a node-set, or the value itself."""
    out: list[str] = []
    for a in args:
        if type(a) is list:
            out.extend(n.text() for n in a)
        else:
            out.append(to_str(a))
    return out


def _numbers(args) -> list[float]:
    out: list[float] = []
    for a in args:
        if type(a) is list:
            out.extend(to_num(n.text()) for n in a)
        else:
            out.append(to_num(a))
    return out


def _context_or(ctx, args):
    return args[0] if args else [ctx.node]


def _safe(fn):
    def wrapped(ctx, *args):
        try:
            return float(fn(*[to_num(a) for a in args]))
        except (ValueError, OverflowError, ZeroDivisionError):
            return NAN

    return wrapped


# -- node-sets and aggregates -------------------------------------------------

def f_count(ctx, nodes):
    return float(len(_nodes(nodes, "count")))


def f_count_non_empty(ctx, nodes):
    return float(sum(1 for n in _nodes(nodes, "count-non-empty") if n.text() != ""))


def f_sum(ctx, nodes):
    return float(math.fsum(to_num(n.text()) for n in _nodes(nodes, "sum")))


def _extreme(pick):
    def f(ctx, *args):
        values = _numbers(args)
        if not values or any(v != v for v in values):
            return NAN
        return pick(values)

    return f


def f_position(ctx, *args):
    if args:
        nodes = _nodes(args[0], "position")
        return float(nodes[0].index) if nodes else NAN
    return float(ctx.position)


def f_last(ctx):
    return float(ctx.size)


def f_current(ctx):
    return [ctx.current]


def f_instance(ctx, name):
    form = ctx.env.form
    doc = form.instance_doc(to_str(name)) if form is not None else None
    if doc is None:
        raise ValueError(f"there is no instance '{to_str(name)}'")
    return [doc]


def indexed_repeat(ctx, value_names, pairs):
    """``indexed-repeat(/r/rep/x, /r/rep, i)``: walk down, picking instance i of each repeat."""
    picks = {depth: to_num(index(ctx)) for depth, index in pairs}
    nodes = [ctx.env.doc]
    for depth, name in enumerate(value_names, 1):
        nodes = [k for n in nodes for k in n.children(name)]
        if depth in picks:
            i = picks[depth]
            nodes = nodes[int(i) - 1:int(i)] if i == i and i >= 1 and i == int(i) else []
        if not nodes:
            return []
    return nodes


# -- selects --------------------------------------------------------------------

def f_selected(ctx, items, value):
    return to_str(value).strip() in to_str(items).split()


def f_selected_at(ctx, items, index):
    values = to_str(items).split()
    i = to_num(index)
    if i != i or i < 0 or i != int(i) or int(i) >= len(values):
        return ""
    return values[int(i)]


def f_count_selected(ctx, items):
    return float(len(to_str(items).split()))


def f_choice_name(ctx, value, ref):
    form = ctx.env.form
    if form is None:
        return ""
    return form.choice_label(to_str(value), to_str(ref), ctx.current)


# -- strings --------------------------------------------------------------------

def f_concat(ctx, *args):
    return "".join(_texts(args))


def f_join(ctx, sep, *args):
    return to_str(sep).join(_texts(args))


def f_coalesce(ctx, a, b):
    first = to_str(a)
    return first if first != "" else b


def f_substr(ctx, text, start, *end):
    s = to_str(text)
    begin = to_num(start)
    stop = to_num(end[0]) if end else float(len(s))
    if begin != begin or stop != stop:
        return ""
    begin, stop = int(begin), int(min(stop, len(s)))
    if begin < 0:
        begin = max(len(s) + begin, 0)
    if stop < 0:
        stop = max(len(s) + stop, 0)
    return s[begin:stop]


def f_substring(ctx, text, start, *length):
    """XPath 1.0 substring(): 1-based, rounded positions."""
    s = to_str(text)
    first = _xpath_round(to_num(start))
    last = first + _xpath_round(to_num(length[0])) if length else math.inf
    if first != first or last != last:
        return ""
    return "".join(ch for p, ch in enumerate(s, 1) if first <= p < last)


def f_string_length(ctx, *args):
    return float(len(to_str(_context_or(ctx, args))))


def f_normalize_space(ctx, *args):
    return " ".join(to_str(_context_or(ctx, args)).split())


def f_translate(ctx, text, src, dst):
    src, dst = to_str(src), to_str(dst)
    table: dict[int, int | None] = {}
    for i, ch in enumerate(src):
        table.setdefault(ord(ch), ord(dst[i]) if i < len(dst) else None)
    return to_str(text).translate(table)


def f_regex(ctx, text, pattern):
    return re.search(to_str(pattern), to_str(text)) is not None


def f_substring_before(ctx, text, sep):
    s, sep = to_str(text), to_str(sep)
    i = s.find(sep)
    return s[:i] if i >= 0 else ""


def f_substring_after(ctx, text, sep):
    s, sep = to_str(text), to_str(sep)
    i = s.find(sep)
    return s[i + len(sep):] if i >= 0 else ""


def f_uuid(ctx, *length):
    if not length:
        return str(uuid.uuid4())
    n = to_num(length[0])
    n = int(n) if n == n and n > 0 else 0
    alphabet = string.ascii_letters + string.digits
    return "".join(random.choice(alphabet) for _ in range(n))


# -- numbers and booleans ---------------------------------------------------------

def _xpath_round(x: float) -> float:
    if x != x or math.isinf(x):
        return x
    return float(math.floor(x + 0.5))


def f_round(ctx, value, *places):
    x = to_num(value)
    if not places:
        return _xpath_round(x)
    digits = to_num(places[0])
    if x != x or math.isinf(x) or digits != digits:
        return NAN if digits != digits else x
    try:
        quantum = Decimal(1).scaleb(-int(digits))
        return float(Decimal(repr(x)).quantize(quantum, rounding=ROUND_HALF_UP))
    except InvalidOperation:
        return x


def f_int(ctx, value):
    x = to_num(value)
    if x != x or math.isinf(x):
        return x
    return float(math.trunc(x))


def f_pow(ctx, base, exponent):
    b, e = to_num(base), to_num(exponent)
    try:
        result = math.pow(b, e)
    except (ValueError, ZeroDivisionError):
        return math.inf if b == 0 and e < 0 else NAN
    except OverflowError:
        return math.inf
    return result


def f_boolean_from_string(ctx, value):
    return to_str(value).strip() in ("true", "1")


FUNCTIONS = {
    "count": (f_count, 1, 1),
    "count-non-empty": (f_count_non_empty, 1, 1),
    "sum": (f_sum, 1, 1),
    "min": (_extreme(min), 1, None),
    "max": (_extreme(max), 1, None),
    "position": (f_position, 0, 1),
    "last": (f_last, 0, 0),
    "current": (f_current, 0, 0),
    "instance": (f_instance, 1, 1),
    "selected": (f_selected, 2, 2),
    "is-selected": (f_selected, 2, 2),
    "selected-at": (f_selected_at, 2, 2),
    "count-selected": (f_count_selected, 1, 1),
    "jr:choice-name": (f_choice_name, 2, 2),
    "concat": (f_concat, 0, None),
    "join": (f_join, 1, None),
    "coalesce": (f_coalesce, 2, 2),
    "substr": (f_substr, 2, 3),
    "substring": (f_substring, 2, 3),
    "substring-before": (f_substring_before, 2, 2),
    "substring-after": (f_substring_after, 2, 2),
    "string-length": (f_string_length, 0, 1),
    "contains": (lambda ctx, a, b: to_str(b) in to_str(a), 2, 2),
    "starts-with": (lambda ctx, a, b: to_str(a).startswith(to_str(b)), 2, 2),
    "ends-with": (lambda ctx, a, b: to_str(a).endswith(to_str(b)), 2, 2),
    "regex": (f_regex, 2, 2),
    "normalize-space": (f_normalize_space, 0, 1),
    "translate": (f_translate, 3, 3),
    "string": (lambda ctx, *a: to_str(_context_or(ctx, a)), 0, 1),
    "number": (lambda ctx, *a: to_num(_context_or(ctx, a)), 0, 1),
    "int": (f_int, 1, 1),
    "round": (f_round, 1, 2),
    "floor": (_safe(math.floor), 1, 1),
    "ceiling": (_safe(math.ceil), 1, 1),
    "abs": (lambda ctx, x: abs(to_num(x)), 1, 1),
    "pow": (f_pow, 2, 2),
    "sqrt": (_safe(math.sqrt), 1, 1),
    "exp": (_safe(math.exp), 1, 1),
    "exp10": (_safe(lambda x: 10.0 ** x), 1, 1),
    "log": (_safe(math.log), 1, 1),
    "log10": (_safe(math.log10), 1, 1),
    "pi": (lambda ctx: math.pi, 0, 0),
    "sin": (_safe(math.sin), 1, 1),
    "cos": (_safe(math.cos), 1, 1),
    "tan": (_safe(math.tan), 1, 1),
    "asin": (_safe(math.asin), 1, 1),
    "acos": (_safe(math.acos), 1, 1),
    "atan": (_safe(math.atan), 1, 1),
    "atan2": (_safe(math.atan2), 2, 2),
    "random": (lambda ctx: random.random(), 0, 0),
    "uuid": (f_uuid, 0, 1),
    "boolean": (lambda ctx, x: to_bool(x), 1, 1),
    "not": (lambda ctx, x: not to_bool(x), 1, 1),
    "true": (lambda ctx: True, 0, 0),
    "false": (lambda ctx: False, 0, 0),
    "boolean-from-string": (f_boolean_from_string, 1, 1),
    **datefuncs.FUNCTIONS,
}

"""The XPath 1.0 and ODK function library (dates in ``datefuncs``, geography in
``geo``, data outside the record in ``secondary``).

``FUNCTIONS`` maps a name to ``(impl, min_args, max_args)``; ``impl(ctx, *args)``
gets evaluated arguments. ``if``, ``once``, ``coalesce`` and ``indexed-repeat``
are compiled specially (lazy or path-shaped arguments); ``SPECIAL_ARITY`` gives
their counts. ``NOT_CHECKED`` names the ODK functions a form may use that the
server cannot evaluate, with their counts and why: an expression calling one is
kept in the form and left out of server-side validation.

Where the ODK XForms specification leaves a case open, the answers follow ODK
Collect's engine (JavaRosa) and Enketo where they agree, and say so where they
do not (``docs/expressions.md``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import random
import re
import string
import uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from forms.xpath import datefuncs, geo, secondary
from forms.xpath.values import NAN, to_bool, to_num, to_str

SPECIAL_ARITY = {"if": (3, 3), "once": (1, 1), "coalesce": (2, 2),
                 "indexed-repeat": (3, 11)}
NOT_CHECKED = {
    "property": (1, 1, "it reads a property of the tablet (device id, user name, phone "
                       "number), which the server does not know"),
    "extract-signed": (2, 2, "checking a signature needs a cryptography library the "
                             "server does not use"),
}
# XPath's whitespace: what normalize-space() collapses (not \f, \v or Unicode spaces)
_XPATH_SPACE = re.compile(r"[ \t\r\n]+")


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


def _values(args) -> list:
    """Each argument as values: every node of a node-set, or the value itself."""
    out: list = []
    for a in args:
        if type(a) is list:
            out.extend(n.text() for n in a)
        else:
            out.append(a)
    return out


def _numbers(args) -> list[float]:
    return [to_num(v) for v in _values(args)]


def _context_or(ctx, args):
    return args[0] if args else [ctx.node]


def _math(fn):
    """A one-argument math function as XPath 3.0 has it: NaN outside its domain,
    infinities where the limit is one (``log(0)`` is -Infinity)."""
    def wrapped(ctx, x):
        x = to_num(x)
        try:
            return float(fn(x))
        except OverflowError:
            return math.inf
        except (ValueError, ZeroDivisionError):
            return NAN

    return wrapped


def _log(base_log):
    def log(x: float) -> float:
        if x == 0:
            return -math.inf
        if x == math.inf:
            return math.inf
        return base_log(x)

    return log


def _exp(x: float) -> float:
    if x == -math.inf:
        return 0.0
    return math.exp(x)


def _exp10(x: float) -> float:
    if x == -math.inf:
        return 0.0
    return 10.0 ** x


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
    """Without an argument, the context position (a node's rank among its
    same-named siblings when evaluated for a node); with one, that of the
    node-set's first node."""
    if args:
        nodes = _nodes(args[0], "position")
        return float(nodes[0].index) if nodes else NAN
    return float(ctx.position)


def f_last(ctx):
    return float(ctx.size)


def f_current(ctx):
    return [ctx.current]


def _resolve(shape, ctx) -> tuple[str, ...]:
    """An indexed-repeat() path as names from the instance root down."""
    start, steps = shape
    if start == "root":
        return steps
    node = ctx.node
    parts = [next(iter(ctx.env.doc.value))] + (node.path.split("/") if node.path else [])
    for step in steps:
        if step == "..":
            if len(parts) > 1:
                parts.pop()
        elif step != ".":
            parts.append(step)
    return tuple(parts)


def indexed_repeat(ctx, value_shape, pairs):
    """indexed-repeat(/r/rep/x, /r/rep, i): the value inside the i-th instance of
    each repeat named (an index below 1 counts as 1, as in ODK Collect); the
    other repeats holding the context node stay at its own instances."""
    names = _resolve(value_shape, ctx)
    picks = {}
    for shape, index in pairs:
        repeat = _resolve(shape, ctx)
        if names[:len(repeat)] != repeat or len(repeat) >= len(names):
            raise ValueError(f"indexed-repeat(): '/{'/'.join(repeat)}' does not contain "
                             f"'/{'/'.join(names)}'")
        picks[len(repeat)] = max(1, _int(to_num(index(ctx))))
    current = ctx.current
    held = ctx.env.repeat_ancestors(current) if current is not None else {}
    nodes = [ctx.env.doc]
    for depth, name in enumerate(names, 1):
        nodes = [k for n in nodes for k in n.children(name)]
        if depth in picks:
            i = picks[depth]
            nodes = nodes[i - 1:i]
        elif depth > 1 and held:
            mine = held.get("/".join(names[1:depth]))
            if mine is not None and any(n is mine for n in nodes):
                nodes = [mine]
        if not nodes:
            return []
    return nodes


# -- selects --------------------------------------------------------------------

def f_selected(ctx, items, value):
    """Whether ``value`` is one of the space-separated items (as JavaRosa and
    Enketo test it: an empty value is 'selected' in an empty list)."""
    return f" {to_str(value).strip()} " in f" {to_str(items)} "


def _items(text: str) -> list[str]:
    return [item for item in text.split(" ") if item]


def f_selected_at(ctx, items, index):
    values = _items(to_str(items))
    i = _int(to_num(index))
    return values[i] if 0 <= i < len(values) else ""


def f_count_selected(ctx, items):
    return float(len(_items(to_str(items))))


def f_choice_name(ctx, value, ref):
    form = ctx.env.form
    if form is None:
        return ""
    return form.choice_label(to_str(value), to_str(ref), ctx.current)


def f_checklist(ctx, low, high, *factors):
    """How many factors are true is between ``low`` and ``high`` (-1: no bound)."""
    lo, hi = _int(to_num(low)), _int(to_num(high))
    count = sum(1 for v in _values(factors) if to_bool(v))
    return (lo < 0 or count >= lo) and (hi < 0 or count <= hi)


def _one(value):
    """A node-set argument as its first node's text (JavaRosa unpacks it so)."""
    if type(value) is list:
        return value[0].text() if value else ""
    return value


def f_weighted_checklist(ctx, low, high, *pairs):
    """The weights of the true factors add up to between ``low`` and ``high``."""
    if len(pairs) == 2 and type(pairs[0]) is list and type(pairs[1]) is list:
        flags, weights = _values([pairs[0]]), _values([pairs[1]])
        if len(flags) != len(weights):
            raise ValueError("weighted-checklist() needs as many weights as factors")
    else:
        flags, weights = [_one(f) for f in pairs[0::2]], list(pairs[1::2])
    total = math.fsum(to_num(w) for f, w in zip(flags, weights) if to_bool(f))
    return to_num(low) <= total <= to_num(high)


# -- strings --------------------------------------------------------------------

def f_concat(ctx, *args):
    return "".join(_texts(args))


def f_join(ctx, sep, *args):
    return to_str(sep).join(_texts(args))


def _int(x: float) -> int:
    """A number as JavaRosa's (int) cast takes it: truncated, NaN as 0."""
    if x != x:
        return 0
    if math.isinf(x):
        return 2**31 - 1 if x > 0 else -(2**31)
    return int(x)


def f_substr(ctx, text, start, *end):
    s = to_str(text)
    size = len(s)
    begin = _int(to_num(start))
    stop = _int(to_num(end[0])) if end else size
    if begin < 0:
        begin += size
    if stop < 0:
        stop += size
    begin, stop = min(max(0, begin), size), min(max(0, stop), size)
    return s[begin:stop] if begin <= stop else ""


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
    return _XPATH_SPACE.sub(" ", to_str(_context_or(ctx, args))).strip(" ")


def f_translate(ctx, text, src, dst):
    src, dst = to_str(src), to_str(dst)
    table: dict[int, int | None] = {}
    for i, ch in enumerate(src):
        table.setdefault(ord(ch), ord(dst[i]) if i < len(dst) else None)
    return to_str(text).translate(table)


def f_regex(ctx, text, pattern):
    """Whether the whole text matches (ODK Collect matches the whole value)."""
    return re.fullmatch(to_str(pattern), to_str(text)) is not None


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
    n = int(n) if n == n and 0 < n < 1_000_000 else 0
    alphabet = string.ascii_letters + string.digits
    return "".join(random.choice(alphabet) for _ in range(n))


_DIGESTS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
            "SHA-512": "sha512"}


def f_digest(ctx, text, algorithm, *encoding):
    """digest(text, 'SHA-256', 'hex'|'base64'): the UTF-8 text's hash, base64 by default."""
    name = _DIGESTS.get(to_str(algorithm))
    if name is None:
        raise ValueError(f"digest() knows {', '.join(_DIGESTS)}, not '{to_str(algorithm)}'")
    how = to_str(encoding[0]) if encoding else "base64"
    if how not in ("base64", "hex"):
        raise ValueError(f"digest() encodes as 'base64' or 'hex', not '{how}'")
    raw = hashlib.new(name, to_str(text).encode("utf-8")).digest()
    return raw.hex() if how == "hex" else base64.b64encode(raw).decode("ascii")


def f_base64_decode(ctx, text):
    """The UTF-8 text a base64 value encodes (bytes that are not UTF-8 become U+FFFD)."""
    try:
        raw = base64.b64decode(to_str(text).encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"'{to_str(text)[:40]}' is not base64") from None
    return raw.decode("utf-8", "replace")


# -- numbers and booleans ---------------------------------------------------------

def _xpath_round(x: float) -> float:
    if x != x or math.isinf(x):
        return x
    return float(math.floor(x + 0.5))


def f_round(ctx, value, *places):
    """round(x[, digits]): half away from zero (``round(-1.5)`` is -2), as ODK's
    evaluators round with or without digits; negative digits round to tens,
    hundreds, ..."""
    x = to_num(value)
    digits = to_num(places[0]) if places else 0.0
    if x != x or math.isinf(x):
        return x
    if digits != digits:
        return NAN
    digits = int(digits)
    if abs(digits) > 30:
        return NAN
    try:
        quantum = Decimal(1).scaleb(-digits)
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


def f_atan2(ctx, y, x):
    return math.atan2(to_num(y), to_num(x))


def f_boolean_from_string(ctx, value):
    return to_str(value).strip() in ("true", "1")


def f_depend(ctx, first, *others):
    """JavaRosa's depend(): its first argument (the others only trigger recalculation)."""
    return first


FUNCTIONS = {
    "count": (f_count, 1, 1),
    "count-non-empty": (f_count_non_empty, 1, 1),
    "sum": (f_sum, 1, 1),
    "min": (_extreme(min), 1, None),
    "max": (_extreme(max), 1, None),
    "position": (f_position, 0, 1),
    "last": (f_last, 0, 0),
    "current": (f_current, 0, 0),
    "selected": (f_selected, 2, 2),
    "is-selected": (f_selected, 2, 2),
    "selected-at": (f_selected_at, 2, 2),
    "count-selected": (f_count_selected, 1, 1),
    "jr:choice-name": (f_choice_name, 2, 2),
    "checklist": (f_checklist, 2, None),
    "weighted-checklist": (f_weighted_checklist, 2, None),
    "concat": (f_concat, 0, None),
    "join": (f_join, 1, None),
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
    "digest": (f_digest, 2, 3),
    "base64-decode": (f_base64_decode, 1, 1),
    "int": (f_int, 1, 1),
    "round": (f_round, 1, 2),
    "floor": (_math(math.floor), 1, 1),
    "ceiling": (_math(math.ceil), 1, 1),
    "abs": (lambda ctx, x: abs(to_num(x)), 1, 1),
    "pow": (f_pow, 2, 2),
    "sqrt": (_math(math.sqrt), 1, 1),
    "exp": (_math(_exp), 1, 1),
    "exp10": (_math(_exp10), 1, 1),
    "log": (_math(_log(math.log)), 1, 1),
    "log10": (_math(_log(math.log10)), 1, 1),
    "pi": (lambda ctx: math.pi, 0, 0),
    "sin": (_math(math.sin), 1, 1),
    "cos": (_math(math.cos), 1, 1),
    "tan": (_math(math.tan), 1, 1),
    "asin": (_math(math.asin), 1, 1),
    "acos": (_math(math.acos), 1, 1),
    "atan": (_math(math.atan), 1, 1),
    "atan2": (f_atan2, 2, 2),
    "random": (lambda ctx: random.random(), 0, 0),
    "uuid": (f_uuid, 0, 1),
    "boolean": (lambda ctx, x: to_bool(x), 1, 1),
    "not": (lambda ctx, x: not to_bool(x), 1, 1),
    "true": (lambda ctx: True, 0, 0),
    "false": (lambda ctx: False, 0, 0),
    "boolean-from-string": (f_boolean_from_string, 1, 1),
    "depend": (f_depend, 1, None),
    **datefuncs.FUNCTIONS,
    **geo.FUNCTIONS,
    **secondary.FUNCTIONS,
}

"""Compile a parsed expression into nested Python closures, once per text.

``compile_xpath(text)`` parses and compiles, refusing (``FormsError``) only what
a tablet's form engine refuses: a syntax error, a function ODK forms do not
have, a wrong number of arguments. What the server cannot evaluate (a tablet's
property, an axis the specification leaves out, a regular expression Python
cannot run) is kept: the expression's ``unchecked`` names each such construct
and why, and evaluating it raises ``FormsError("expression_not_checked")``. The
result is cached on the
text, so every form version sharing an expression shares its compiled form.
``Expression.evaluate(node, env)`` runs it with ``node`` as both the context
node and ``current()``.
"""

from __future__ import annotations

import math
import operator
import re
from functools import lru_cache

from forms.errors import FormsError
from forms.xpath import functions
from forms.xpath.lexer import CODE
from forms.xpath.parser import parse
from forms.xpath.secondary import NOT_CHECKED
from forms.xpath.values import compare, str_to_num, to_bool, to_num, to_str


class Env:
    """Per-record evaluation state: the primary instance, the clock, the form
    (``FormExpressions``) and the version's media files (``FormMedia``)."""

    __slots__ = ("doc", "now", "form", "media", "_anc_node", "_anc")

    def __init__(self, doc, now, form=None, media=None):
        self.doc = doc
        self.now = now
        self.form = form
        self.media = media
        self._anc_node = None
        self._anc = None

    def repeat_ancestors(self, node) -> dict:
        """{repeat path: instance node} for the repeat instances holding ``node``."""
        if node is self._anc_node:
            return self._anc
        found = {}
        repeats = node.schema.repeat_paths
        if repeats:
            n = node
            while n is not None:
                if n.path in repeats:
                    found[n.path] = n
                n = n.parent
        self._anc_node, self._anc = node, found
        return found


class Ctx:
    __slots__ = ("node", "position", "size", "current", "env")

    def __init__(self, node, position, size, current, env):
        self.node = node
        self.position = position
        self.size = size
        self.current = current
        self.env = env


class Expression:
    """A compiled expression; ``functions`` names the functions it calls,
    ``instances`` the secondary instances it names (``instance('x')``,
    ``pulldata('x', ...)``) and ``unchecked`` what in it the server leaves to
    the tablet, as ``(construct, reason)`` pairs."""

    __slots__ = ("text", "fn", "functions", "paths", "instances", "unchecked")

    def __init__(self, text, fn, names, paths, instances=(), unchecked=()):
        self.text = text
        self.fn = fn
        self.functions = frozenset(names)
        self.paths = tuple(paths)
        self.instances = frozenset(instances)
        self.unchecked = tuple(dict.fromkeys(unchecked))

    def evaluate(self, node, env):
        try:
            return self.fn(Ctx(node, node.index, 1, node, env))
        except FormsError:
            raise
        except (TypeError, ValueError, AttributeError, IndexError, OverflowError,
                re.error, RecursionError) as exc:
            raise FormsError(
                CODE,
                f"The expression '{self.text}' could not be evaluated: {exc}.",
                {"expression": self.text},
            ) from None


@lru_cache(maxsize=8192)
def compile_xpath(text: str) -> Expression:
    tree = parse(text)
    compiler = _Compiler(text)
    fn = compiler.compile(tree)
    return Expression(text, fn, compiler.names, compiler.paths, compiler.instances,
                      compiler.unchecked)


class _Compiler:
    def __init__(self, text):
        self.text = text
        self.names: list[str] = []
        self.paths: list[tuple[str, ...]] = []
        self.instances: list[str] = []
        self.unchecked: list[tuple[str, str]] = []

    def error(self, message, offset=None):
        return FormsError(CODE, f"In the expression '{self.text}': {message}.",
                          {"expression": self.text, "offset": offset})

    def not_checked(self, construct: str, reason: str):
        """Note that ``construct`` is left to the tablet; its compiled form raises."""
        self.unchecked.append((construct, reason))

        def unchecked(ctx):
            raise FormsError(NOT_CHECKED, f"'{construct}' is not checked on the server: "
                             f"{reason}", {"expression": self.text})

        return unchecked

    def compile(self, node):
        kind = node[0]
        return getattr(self, f"c_{kind}")(node)

    def c_num(self, node):
        value = node[1]
        return lambda ctx: value

    def c_str(self, node):
        value = node[1]
        return lambda ctx: value

    def c_var(self, node):
        return self.not_checked(f"${node[1]}", "XForms binds no variables")

    def c_or(self, node):
        a, b = self.compile(node[1]), self.compile(node[2])
        return lambda ctx: to_bool(a(ctx)) or to_bool(b(ctx))

    def c_and(self, node):
        a, b = self.compile(node[1]), self.compile(node[2])
        return lambda ctx: to_bool(a(ctx)) and to_bool(b(ctx))

    def c_cmp(self, node):
        op, left, right = node[1], node[2], node[3]
        a, b = self.compile(left), self.compile(right)
        if left[0] == "path" and right[0] in ("str", "num"):
            fast = _path_against_literal(a, right, op)
        elif right[0] == "path" and left[0] in ("str", "num"):
            fast = _path_against_literal(b, left, _MIRROR[op])
        else:
            fast = None
        return fast or (lambda ctx: compare(a(ctx), b(ctx), op))

    def c_neg(self, node):
        a = self.compile(node[1])
        return lambda ctx: -to_num(a(ctx))

    def c_arith(self, node):
        op, a, b = node[1], self.compile(node[2]), self.compile(node[3])
        if op == "+":
            return lambda ctx: to_num(a(ctx)) + to_num(b(ctx))
        if op == "-":
            return lambda ctx: to_num(a(ctx)) - to_num(b(ctx))
        if op == "*":
            return lambda ctx: to_num(a(ctx)) * to_num(b(ctx))
        if op == "div":
            return lambda ctx: functions.divide(to_num(a(ctx)), to_num(b(ctx)))
        return lambda ctx: functions.modulo(to_num(a(ctx)), to_num(b(ctx)))

    def c_union(self, node):
        a, b = self.compile(node[1]), self.compile(node[2])

        def union(ctx):
            left, right = a(ctx), b(ctx)
            if type(left) is not list or type(right) is not list:
                raise TypeError("'|' joins node-sets only")
            return sort_unique(left + right)

        return union

    def c_call(self, node):
        _, name, args, offset = node
        self.names.append(name)
        special = getattr(self, "special_" + name.replace("-", "_").replace(":", "_"), None)
        spec = functions.FUNCTIONS.get(name)
        left_out = functions.NOT_CHECKED.get(name)
        if spec is None and special is None and left_out is None:
            raise self.error(f"the function '{name}()' is not an ODK XForms function, so a "
                             "tablet cannot load the form", offset)
        low, high = (spec[1:] if spec else left_out[:2] if left_out
                     else functions.SPECIAL_ARITY[name])
        if len(args) < low or (high is not None and len(args) > high):
            want = f"{low}" if low == high else (f"{low} to {high}" if high else f"at least {low}")
            raise self.error(f"'{name}()' takes {want} argument(s), not {len(args)}", offset)
        if name == "weighted-checklist" and len(args) % 2:
            raise self.error("'weighted-checklist()' takes an even number of arguments: min, "
                             f"max, then pairs of a factor and its weight, not {len(args)}",
                             offset)
        if left_out is not None:
            for a in args:
                self.compile(a)
            return self.not_checked(f"{name}()", left_out[2])
        if special is not None:
            return special(args)
        if name in ("instance", "pulldata") and args[0][0] == "str":
            self.instances.append(args[0][1])
        if name == "randomize" and len(args) == 1:
            self.names.append("random")  # a different order at each evaluation
        if name == "regex" and args[1][0] == "str":
            try:
                re.compile(args[1][1])
            except re.error as exc:
                return self.not_checked(f"regex('{args[1][1]}')", "the server cannot run "
                                        f"this regular expression ({exc})")
        impl = spec[0]
        compiled = [self.compile(a) for a in args]
        if not compiled:
            return lambda ctx: impl(ctx)
        if len(compiled) == 1:
            only = compiled[0]
            return lambda ctx: impl(ctx, only(ctx))
        if len(compiled) == 2:
            first, second = compiled
            return lambda ctx: impl(ctx, first(ctx), second(ctx))
        if len(compiled) == 3:
            first, second, third = compiled
            return lambda ctx: impl(ctx, first(ctx), second(ctx), third(ctx))
        return lambda ctx: impl(ctx, *[c(ctx) for c in compiled])

    def special_if(self, args):
        cond, yes, no = (self.compile(a) for a in args)
        return lambda ctx: yes(ctx) if to_bool(cond(ctx)) else no(ctx)

    def special_once(self, args):
        """once(x): the node's own value when it has one, else x; a number x that
        is not finite (``once(. * 10)`` on an empty node) gives "" as a
        calculate storing it would."""
        inner = self.compile(args[0])

        def once(ctx):
            held = ctx.current.text()
            if held != "":
                return held
            value = inner(ctx)
            if type(value) is float and (value != value or math.isinf(value)):
                return ""
            return value

        return once

    def special_coalesce(self, args):
        """coalesce(a, b): a unless it is empty (or NaN, as JavaRosa counts it), else b."""
        first, second = self.compile(args[0]), self.compile(args[1])

        def coalesce(ctx):
            value = first(ctx)
            if type(value) is not float or value == value:
                text = to_str(value)
                if text != "":
                    return text
            return second(ctx)

        return coalesce

    def special_indexed_repeat(self, args):
        """indexed-repeat(value, repeat1, index1[, repeat2, index2[, repeat3, index3]]):
        paths absolute or relative to the context node, without predicates."""
        if len(args) % 2 == 0:
            raise self.error("'indexed-repeat()' takes a path then pairs of a repeat and an "
                             f"index, not {len(args)} argument(s)")
        shapes = [_path_shape(a) for a in [args[0], *args[1::2]]]
        if any(shape is None for shape in shapes):
            for a in args:
                self.compile(a)
            return self.not_checked("indexed-repeat()", "its paths have predicates or "
                                    "start from an expression")
        for start, steps in shapes:
            if start == "root":
                self.paths.append(tuple(steps))
        indexes = [self.compile(args[i]) for i in range(2, len(args), 2)]
        value, repeats = shapes[0], shapes[1:]
        return lambda ctx: functions.indexed_repeat(ctx, value, list(zip(repeats, indexes)))

    def c_filter(self, node):
        base = self.compile(node[1])
        preds = [self.compile_predicate(p) for p in node[2]]

        def filtered(ctx):
            nodes = base(ctx)
            if type(nodes) is not list:
                raise TypeError("a predicate '[...]' needs a node-set")
            for pred in preds:
                nodes = pred(nodes, ctx)
            return nodes

        return filtered

    def compile_predicate(self, tree):
        if tree[0] == "num":
            k = int(tree[1]) if tree[1] == int(tree[1]) else 0
            return lambda nodes, ctx: nodes[k - 1:k] if k >= 1 else []
        test = self.compile(tree)

        def predicate(nodes, ctx):
            size = len(nodes)
            kept = []
            for i, n in enumerate(nodes, 1):
                v = test(Ctx(n, i, size, ctx.current, ctx.env))
                if (v == i) if type(v) is float else to_bool(v):
                    kept.append(n)
            return kept

        return predicate

    def c_path(self, node):
        _, start, steps = node
        from forms.xpath.steps import compile_path

        if start == "root":
            if all(s[0] == "child" and not s[2] and s[1] != "*" for s in steps):
                self.paths.append(tuple(s[1] for s in steps))
            return compile_path(self, None, steps)
        if start == "context":
            return compile_path(self, "context", steps)
        return compile_path(self, self.compile(start), steps)


def _path_shape(arg):
    """An indexed-repeat() path as ``("root", names)`` or ``("context", steps)``
    (steps '..', '.' or a name); None for any other expression."""
    if arg[0] != "path" or arg[1] not in ("root", "context"):
        return None
    steps = []
    for axis, test, preds in arg[2]:
        if preds:
            return None
        if axis == "child" and test not in ("*", "node()") and not test.endswith("()"):
            steps.append(test)
        elif axis == "parent" and test == "node()":
            steps.append("..")
        elif axis == "self" and test == "node()":
            steps.append(".")
        else:
            return None
    if arg[1] == "root" and any(s in ("..", ".") for s in steps):
        return None
    return arg[1], tuple(steps)


_MIRROR = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_RELATE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _path_against_literal(path, literal, op):
    """A comparison of a path with a literal (``/data/consent = 'yes'``,
    ``. >= 0``: most relevances and constraints) as one loop over the path's
    nodes, with what ``compare`` would decide for that pair of types known at
    compile time; None for the shapes left to ``compare``. ``op`` reads with
    the path on the left (a literal on the left has its operator mirrored)."""
    kind, value = literal[0], literal[1]
    if kind == "str" and op == "=":
        def equal(ctx):
            for n in path(ctx):
                if n.text() == value:
                    return True
            return False
        return equal
    if kind == "str" and op == "!=":
        def differ(ctx):
            for n in path(ctx):
                if n.text() != value:
                    return True
            return False
        return differ
    if kind != "num":
        return None  # a string ordered against nodes: both read as numbers, rare
    value = float(value)
    test = operator.eq if op == "=" else operator.ne if op == "!=" else _RELATE[op]

    def number(ctx):
        for n in path(ctx):
            if test(str_to_num(n.text()), value):
                return True
        return False

    return number


def sort_unique(nodes: list) -> list:
    seen = set()
    out = []
    for n in nodes:
        if id(n) not in seen:
            seen.add(id(n))
            out.append(n)
    out.sort(key=lambda n: n.order_key())
    return out

"""Compile a parsed expression into nested Python closures, once per text.

``compile_xpath(text)`` parses and compiles, refusing unknown functions, wrong
argument counts and bad literal regexes up front, and caches the result on the
text, so every form version sharing an expression shares its compiled form.
``Expression.evaluate(node, env)`` runs it with ``node`` as both the context
node and ``current()``.
"""

from __future__ import annotations

import operator
import re
from functools import lru_cache

from forms.errors import FormsError
from forms.xpath import functions
from forms.xpath.lexer import CODE
from forms.xpath.parser import parse
from forms.xpath.values import compare, str_to_num, to_bool, to_num


class Env:
    """Per-record evaluation state: the primary instance, the clock, the form."""

    __slots__ = ("doc", "now", "form", "_anc_node", "_anc")

    def __init__(self, doc, now, form=None):
        self.doc = doc
        self.now = now
        self.form = form
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
    """A compiled expression; ``functions`` names the functions it calls."""

    __slots__ = ("text", "fn", "functions", "paths")

    def __init__(self, text, fn, names, paths):
        self.text = text
        self.fn = fn
        self.functions = frozenset(names)
        self.paths = tuple(paths)

    def evaluate(self, node, env):
        try:
            return self.fn(Ctx(node, 1, 1, node, env))
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
    names: list[str] = []
    paths: list[tuple[str, ...]] = []
    fn = _Compiler(text, names, paths).compile(tree)
    return Expression(text, fn, names, paths)


class _Compiler:
    def __init__(self, text, names, paths):
        self.text = text
        self.names = names
        self.paths = paths

    def error(self, message, offset=None):
        return FormsError(CODE, f"In the expression '{self.text}': {message}.",
                          {"expression": self.text, "offset": offset})

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
        raise self.error(f"variables such as '${node[1]}' are not supported; use a path")

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
        if spec is None and special is None:
            raise self.error(f"the function '{name}()' is not supported", offset)
        low, high = spec[1:] if spec else functions.SPECIAL_ARITY[name]
        if len(args) < low or (high is not None and len(args) > high):
            want = f"{low}" if low == high else (f"{low} to {high}" if high else f"at least {low}")
            raise self.error(f"'{name}()' takes {want} argument(s), not {len(args)}", offset)
        if special is not None:
            return special(args)
        if name == "regex" and args[1][0] == "str":
            try:
                re.compile(args[1][1])
            except re.error as exc:
                raise self.error(f"the regular expression '{args[1][1]}' is invalid ({exc})")
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
        inner = self.compile(args[0])

        def once(ctx):
            held = ctx.current.text()
            return held if held != "" else inner(ctx)

        return once

    def special_indexed_repeat(self, args):
        if len(args) % 2 == 0:
            raise self.error("'indexed-repeat()' takes a path then pairs of repeat and index")
        value = self._static_path(args[0])
        pairs = []
        for i in range(1, len(args), 2):
            repeat = self._static_path(args[i])
            if value[: len(repeat)] != repeat:
                raise self.error("in 'indexed-repeat()' each repeat must contain the value path")
            pairs.append((len(repeat), self.compile(args[i + 1])))
        return lambda ctx: functions.indexed_repeat(ctx, value, pairs)

    def _static_path(self, arg) -> tuple[str, ...]:
        if arg[0] != "path" or arg[1] != "root" or any(
            s[0] != "child" or s[2] or s[1] in ("*",) for s in arg[2]
        ):
            raise self.error("'indexed-repeat()' needs absolute paths without predicates")
        names = tuple(s[1] for s in arg[2])
        self.paths.append(names)
        return names

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

"""Parse XPath 1.0 (the subset XForms use) into a small tuple tree.

Nodes: ``("num", x)``, ``("str", s)``, ``("var", name)``, ``("or", a, b)``,
``("and", a, b)``, ``("cmp", op, a, b)``, ``("arith", op, a, b)``, ``("neg", a)``,
``("union", a, b)``, ``("call", name, args, offset)``, ``("filter", expr, preds)``
and ``("path", start, steps)`` where ``start`` is ``"root"``, ``"context"`` or an
expression, and each step is ``(axis, test, preds)`` with ``axis`` one of XPath's
thirteen axes and ``test`` a name, ``*``, ``node()``, ``text()``, ``comment()`` or
``processing-instruction()``. Every XPath 1.0 expression parses; what the
evaluator leaves out is decided when compiling.
"""

from __future__ import annotations

from forms.xpath.lexer import NODE_TYPES, syntax_error, tokenize

AXES = {name: name for name in (
    "ancestor", "ancestor-or-self", "attribute", "child", "descendant", "descendant-or-self",
    "following", "following-sibling", "namespace", "parent", "preceding",
    "preceding-sibling", "self",
)}
_DOUBLE_SLASH_STEP = ("descendant-or-self", "node()", [])


def parse(text: str):
    parser = _Parser(text)
    if not parser.tokens:
        raise syntax_error(text, 0, "the expression is empty")
    tree = parser.expr()
    if parser.pos < len(parser.tokens):
        _, value, offset = parser.tokens[parser.pos]
        raise syntax_error(text, offset, f"unexpected '{value}'")
    return tree


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self, offset: int = 0):
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else (None, None, len(self.text))

    def take(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def expect(self, kind: str):
        tok = self.take()
        if tok[0] != kind:
            found = "the end" if tok[0] is None else f"'{tok[1]}'"
            raise syntax_error(self.text, tok[2], f"expected '{kind}' but found {found}")
        return tok

    def is_op(self, *ops) -> bool:
        kind, value, _ = self.peek()
        return kind == "op" and value in ops

    def expr(self):
        return self.binary_or()

    def binary_or(self):
        left = self.binary_and()
        while self.is_op("or"):
            self.take()
            left = ("or", left, self.binary_and())
        return left

    def binary_and(self):
        left = self.equality()
        while self.is_op("and"):
            self.take()
            left = ("and", left, self.equality())
        return left

    def equality(self):
        left = self.relational()
        while self.is_op("=", "!="):
            op = self.take()[1]
            left = ("cmp", op, left, self.relational())
        return left

    def relational(self):
        left = self.additive()
        while self.is_op("<", "<=", ">", ">="):
            op = self.take()[1]
            left = ("cmp", op, left, self.additive())
        return left

    def additive(self):
        left = self.multiplicative()
        while self.is_op("+", "-"):
            op = self.take()[1]
            left = ("arith", op, left, self.multiplicative())
        return left

    def multiplicative(self):
        left = self.unary()
        while self.is_op("*", "div", "mod"):
            op = self.take()[1]
            left = ("arith", op, left, self.unary())
        return left

    def unary(self):
        if self.is_op("-"):
            self.take()
            return ("neg", self.unary())
        return self.union()

    def union(self):
        left = self.path_expr()
        while self.peek()[0] == "|":
            self.take()
            left = ("union", left, self.path_expr())
        return left

    def path_expr(self):
        kind = self.peek()[0]
        if kind in ("num", "str", "var", "(") or (
            kind == "func" and self.peek()[1] not in NODE_TYPES
        ):
            base = self.primary()
            preds = self.predicates()
            if preds:
                base = ("filter", base, preds)
            if self.peek()[0] in ("/", "//"):
                return ("path", base, self.relative_steps(after_slash=True))
            return base
        return self.location_path()

    def primary(self):
        kind, value, offset = self.take()
        if kind == "num":
            return ("num", value)
        if kind == "str":
            return ("str", value)
        if kind == "var":
            return ("var", value)
        if kind == "(":
            inner = self.expr()
            self.expect(")")
            return inner
        self.expect("(")
        args = []
        if self.peek()[0] != ")":
            args.append(self.expr())
            while self.peek()[0] == ",":
                self.take()
                args.append(self.expr())
        self.expect(")")
        return ("call", value, args, offset)

    def predicates(self):
        preds = []
        while self.peek()[0] == "[":
            self.take()
            preds.append(self.expr())
            self.expect("]")
        return preds

    def location_path(self):
        kind = self.peek()[0]
        if kind == "/":
            self.take()
            if self.peek()[0] in ("name", "star", "axis", "@", ".", "..", "func"):
                return ("path", "root", self.relative_steps(after_slash=False))
            return ("path", "root", [])
        if kind == "//":
            return ("path", "root", self.relative_steps(after_slash=True))
        return ("path", "context", self.relative_steps(after_slash=False))

    def relative_steps(self, after_slash: bool):
        steps = []
        if after_slash:
            if self.take()[0] == "//":
                steps.append(_DOUBLE_SLASH_STEP)
        steps.append(self.step())
        while self.peek()[0] in ("/", "//"):
            if self.take()[0] == "//":
                steps.append(_DOUBLE_SLASH_STEP)
            steps.append(self.step())
        return steps

    def step(self):
        kind, value, offset = self.peek()
        if kind == ".":
            self.take()
            return ("self", "node()", [])
        if kind == "..":
            self.take()
            return ("parent", "node()", [])
        axis = "child"
        if kind == "@":
            self.take()
            axis = "attribute"
        elif kind == "axis":
            self.take()
            if value not in AXES:
                raise syntax_error(self.text, offset, f"'{value}' is not an XPath axis")
            axis = AXES[value]
        kind, value, offset = self.take()
        if kind == "name" or kind == "star":
            test = value
        elif kind == "func" and value in NODE_TYPES:
            self.expect("(")
            if value == "processing-instruction" and self.peek()[0] == "str":
                self.take()
            self.expect(")")
            test = f"{value}()"
        else:
            found = "the end" if kind is None else f"'{value}'"
            raise syntax_error(self.text, offset, f"expected a step but found {found}")
        return (axis, test, self.predicates())

"""Split an XPath expression into tokens, with XPath 1.0's operator-name rule.

A token is ``(kind, value, offset)``; kinds are ``num``, ``str``, ``name``,
``func`` (a name followed by ``(``), ``axis`` (a name followed by ``::``),
``op`` (an operator, including the words ``and or div mod`` and ``*`` as
multiplication), ``star`` (``*`` as a name test), ``var`` (``$name``), and
punctuation (``( ) [ ] , / // . .. @ |``) as its own kind.
"""

from __future__ import annotations

import re

from forms.errors import FormsError

CODE = "xlsform_expression_unsupported"  # an expression a form engine refuses
NODE_TYPES = {"node", "text", "comment", "processing-instruction"}
_OPERATOR_WORDS = {"and", "or", "div", "mod"}
_AFTER_NOT_OPERATOR = {"@", "axis", "(", "[", ",", "op", "/", "//", "|"}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>\d+(?:\.\d*)?|\.\d+)
  | (?P<str>"[^"]*"|'[^']*')
  | (?P<dotdot>\.\.)
  | (?P<dot>\.)
  | (?P<dslash>//)
  | (?P<punct>[/()\[\],@|])
  | (?P<cmp>!=|<=|>=|=|<|>)
  | (?P<arith>[+\-*])
  | (?P<var>\$[^\W\d][\w.\-]*(?::[^\W\d][\w.\-]*)?)
  | (?P<dcolon>::)
  | (?P<name>[^\W\d][\w.\-]*(?::(?:[^\W\d][\w.\-]*|\*))?)
    """,
    re.VERBOSE,
)
# Where an operator is expected, a name that starts with an operator word and
# goes on with a digit, '.' or '-' is that operator then a number: ``1div1``,
# ``1 and1`` (an element name cannot follow a value there).
_OPERATOR_PREFIX = re.compile(r"(and|or|div|mod)(?=[\d.\-])")


def syntax_error(text: str, offset: int, what: str) -> FormsError:
    return FormsError(
        CODE,
        f"The expression '{text}' has a syntax error at character {offset + 1}: {what}.",
        {"expression": text, "offset": offset},
    )


def tokenize(text: str) -> list[tuple[str, object, int]]:
    tokens: list[tuple[str, object, int]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise syntax_error(text, pos, f"unexpected character '{text[pos]}'")
        kind = m.lastgroup
        value = m.group()
        start, pos = pos, m.end()
        if kind == "ws":
            continue
        prev = tokens[-1][0] if tokens else None
        operator_position = prev is not None and prev not in _AFTER_NOT_OPERATOR
        if kind == "num":
            tokens.append(("num", float(value), start))
        elif kind == "str":
            tokens.append(("str", value[1:-1], start))
        elif kind in ("dotdot", "dot", "dslash"):
            tokens.append(({"dotdot": "..", "dot": ".", "dslash": "//"}[kind], value, start))
        elif kind == "punct":
            tokens.append((value, value, start))
        elif kind in ("cmp",):
            tokens.append(("op", value, start))
        elif kind == "arith":
            if value == "*" and not operator_position:
                tokens.append(("star", value, start))
            else:
                tokens.append(("op", value, start))
        elif kind == "var":
            tokens.append(("var", value[1:], start))
        elif kind == "dcolon":
            raise syntax_error(text, start, "'::' must follow an axis name")
        else:
            glued = _OPERATOR_PREFIX.match(value) if operator_position else None
            if glued:
                tokens.append(("op", glued.group(1), start))
                pos = start + glued.end()
                continue
            tokens.append(_name_token(text, value, start, pos, operator_position))
            if tokens[-1][0] == "axis":
                pos = text.index("::", pos) + 2
    return tokens


def _name_token(text, value, start, end, operator_position):
    if operator_position and value in _OPERATOR_WORDS:
        return ("op", value, start)
    rest = text[end:].lstrip()
    if rest.startswith("::"):
        return ("axis", value, start)
    if rest.startswith("("):
        return ("func", value, start)
    return ("name", value, start)

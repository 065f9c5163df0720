"""OData query options of a data document, parsed and checked (no SQL here).

    q = parse_query("Submissions", request.args, prefer=request.headers.get("Prefer"))
    q.filter   # ("and", ("cmp", "ge", ("prop", ("__system", "submissionDate"), False),
               #          ("lit", "2026-01-01", "date")), ...)

``$filter`` supports what ODK Central documents and a little more: ``eq ne lt
le gt ge`` (and Central's spelling ``neq``), ``and or not``, parentheses,
``now() year() month() day() hour() minute() second()``, ``contains()
startswith() endswith() tolower() toupper() length()``; string, number,
boolean, ``null``, date and date-time literals; property paths such as
``__system/reviewState``, ``econ/econ_satisfaction`` and, on a repeat's
table, ``$root/Submissions/__system/submissionDate``. Other OData features
are refused with ``odata_unsupported`` (501), malformed ones with
``odata_query_invalid`` (400). Which properties exist is checked later,
against the form (``server.store.odata``).

``$skiptoken`` is opaque to clients: base64url of the table, the last row's
key and the page size, so a ``@odata.nextLink`` resumes exactly after the
last row it served.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from server.central.errors import CentralError

MAX_FILTER = 4000
MAX_DEPTH = 40
COMPARISONS = {"eq": "eq", "ne": "ne", "neq": "ne", "lt": "lt", "le": "le", "gt": "gt",
               "ge": "ge"}
FUNCTIONS = {"now": 0, "year": 1, "month": 1, "day": 1, "hour": 1, "minute": 1, "second": 1,
             "contains": 2, "startswith": 2, "endswith": 2, "tolower": 1, "toupper": 1,
             "length": 1}
UNSUPPORTED_OPERATORS = {"add", "sub", "mul", "div", "divby", "mod", "has", "in"}
UNSUPPORTED_OPTIONS = ("$search", "$apply", "$compute", "$levels", "$index", "$deltatoken")
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})?)
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>\$?[A-Za-z_][A-Za-z0-9_\-]*(?:/\$?[A-Za-z_][A-Za-z0-9_\-]*)*)
  | (?P<punct>[(),])
""", re.VERBOSE)
_TABLE_KEY = re.compile(r"^Submissions\('((?:[^']|'')+)'\)((?:/[A-Za-z_][A-Za-z0-9_]*)*)$")
_TABLE = re.compile(r"^Submissions(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass
class Query:
    table: str
    key: str | None = None          # Submissions('...'): one record
    top: int | None = None
    skip: int = 0
    count: bool = False
    filter: tuple | None = None
    select: list[tuple[str, ...]] | None = None
    orderby: list[tuple[tuple[str, ...], bool]] = field(default_factory=list)
    expand: bool = False
    wkt: bool = False
    after: int | None = None        # from $skiptoken: the last key served
    page: int | None = None         # rows per response, with a nextLink after
    maxpagesize: int | None = None  # from Prefer, when it set the page size


def parse_table(path: str) -> tuple[str, str | None]:
    """``Submissions``, ``Submissions.a.b`` or ``Submissions('id')[/a/b]`` ->
    (entity set name, record key or None)."""
    match = _TABLE_KEY.match(path)
    if match:
        key = match.group(1).replace("''", "'")
        rest = [p for p in match.group(2).split("/") if p]
        return ".".join(["Submissions", *rest]), key
    if _TABLE.match(path):
        return path, None
    if "(" in path:
        raise CentralError("odata_unsupported", "Only Submissions('instanceId') and the "
                           "repeat paths under it can be addressed by key here.")
    raise CentralError("odata_table_unknown", f"No table '{path}' in this service; the "
                       "service document lists them.")


def parse_query(table: str, args: Mapping[str, str], *, key: str | None = None,
                prefer: str | None = None) -> Query:
    for name in UNSUPPORTED_OPTIONS:
        if name in args:
            raise CentralError("odata_unsupported",
                               f"The requested feature {name} is not supported by this server.")
    fmt = (args.get("$format") or "json").lower()
    if fmt not in ("json", "application/json") and not fmt.startswith("application/json;"):
        raise CentralError("odata_format_unacceptable", "Requested format not acceptable; "
                           "this resource allows: (application/json, json).")
    q = Query(table=table, key=key)
    q.top = _count_arg(args, "$top")
    q.skip = _count_arg(args, "$skip") or 0
    q.count = _bool_arg(args, "$count")
    q.wkt = _bool_arg(args, "$wkt")
    expand = args.get("$expand")
    if expand:
        if expand.strip() != "*":
            raise CentralError("odata_unsupported", "Only $expand=* (every repeat) is "
                               "supported.")
        q.expand = True
    if args.get("$select") and args["$select"].strip() != "*":
        if q.expand:
            raise CentralError("odata_unsupported", "$select and $expand cannot be used "
                               "together.")
        q.select = [_path(p.strip(), "$select") for p in args["$select"].split(",")]
    if args.get("$orderby"):
        q.orderby = [_order(item) for item in args["$orderby"].split(",")]
    if args.get("$filter"):
        q.filter = parse_filter(args["$filter"])
    if args.get("$skiptoken"):
        q.after, q.page = _read_skiptoken(args["$skiptoken"], table)
    if q.top is not None:
        q.page = q.top
    elif q.page is None:
        q.maxpagesize = q.page = _maxpagesize(prefer)
    return q


def skiptoken(table: str, after: int, page: int) -> str:
    raw = json.dumps({"t": table, "k": after, "n": page}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _read_skiptoken(token: str, table: str) -> tuple[int, int | None]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        ok = (isinstance(raw, dict) and raw.get("t") == table
              and type(raw.get("k")) is int and raw["k"] >= 0
              and (raw.get("n") is None or (type(raw["n"]) is int and raw["n"] >= 0)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        ok = False
    if not ok:
        raise CentralError("odata_query_invalid", "$skiptoken is not one this table's "
                           "@odata.nextLink gave; follow the link as it is.")
    return raw["k"], raw.get("n")


def _maxpagesize(prefer: str | None) -> int | None:
    for part in (prefer or "").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "odata.maxpagesize" and value.strip().isdigit():
            return max(1, int(value.strip()))
    return None


def _count_arg(args: Mapping[str, str], name: str) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.strip().isdigit():
        raise CentralError("odata_query_invalid", f"{name} must be a non-negative integer.")
    return int(raw.strip())


def _bool_arg(args: Mapping[str, str], name: str) -> bool:
    raw = (args.get(name) or "false").strip().lower()
    if raw not in ("true", "false"):
        raise CentralError("odata_query_invalid", f"{name} must be true or false.")
    return raw == "true"


def _path(text: str, option: str) -> tuple[str, ...]:
    if not re.fullmatch(r"\$?[A-Za-z_][A-Za-z0-9_\-]*(/\$?[A-Za-z_][A-Za-z0-9_\-]*)*", text):
        raise CentralError("odata_query_invalid", f"{option}: '{text[:80]}' is not a "
                           "property path such as __id or econ/econ_satisfaction.")
    return tuple(text.split("/"))


def _order(item: str) -> tuple[tuple[str, ...], bool]:
    parts = item.split()
    if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in
                                        ("asc", "desc")):
        raise CentralError("odata_query_invalid", f"$orderby: '{item.strip()[:80]}' must be "
                           "a property path, then optionally asc or desc.")
    return _path(parts[0], "$orderby"), len(parts) == 2 and parts[1].lower() == "desc"


# $filter -------------------------------------------------------------------------

def parse_filter(text: str) -> tuple:
    if len(text) > MAX_FILTER:
        raise CentralError("odata_query_invalid", f"$filter is longer than {MAX_FILTER} "
                           "characters.")
    parser = _Parser(_tokens(text))
    node = parser.expression(0)
    if parser.peek() is not None:
        raise _invalid(f"unexpected '{parser.peek()[1]}'")
    return node


def _tokens(text: str) -> list[tuple[str, str]]:
    out, at = [], 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise _invalid(f"cannot read '{text[at:at + 20]}'")
        kind = match.lastgroup
        if kind != "ws":
            out.append((kind, match.group()))
        at = match.end()
    return out


def _invalid(what: str) -> CentralError:
    return CentralError("odata_query_invalid", f"$filter: {what}. Write comparisons such as "
                        "__system/submissionDate ge 2026-01-01 and __system/reviewState eq "
                        "'approved', joined by and/or.")


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens = tokens
        self.at = 0

    def peek(self):
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self):
        token = self.peek()
        if token is None:
            raise _invalid("the expression ends too soon")
        self.at += 1
        return token

    def word(self) -> str | None:
        token = self.peek()
        return token[1].lower() if token and token[0] == "name" else None

    def expect(self, text: str) -> None:
        if self.take()[1] != text:
            raise _invalid(f"expected '{text}'")

    def expression(self, depth: int) -> tuple:
        if depth > MAX_DEPTH:
            raise _invalid("the expression nests too deep")
        node = self.conjunction(depth)
        while self.word() == "or":
            self.take()
            node = ("or", node, self.conjunction(depth))
        return node

    def conjunction(self, depth: int) -> tuple:
        node = self.negation(depth)
        while self.word() == "and":
            self.take()
            node = ("and", node, self.negation(depth))
        return node

    def negation(self, depth: int) -> tuple:
        if self.word() == "not":
            self.take()
            return ("not", self.negation(depth + 1))
        return self.comparison(depth)

    def comparison(self, depth: int) -> tuple:
        left = self.operand(depth)
        word = self.word()
        if word in COMPARISONS:
            self.take()
            return ("cmp", COMPARISONS[word], left, self.operand(depth))
        if word in UNSUPPORTED_OPERATORS:
            raise CentralError("odata_unsupported", f"The $filter operator '{word}' is not "
                               "supported by this server.")
        return left

    def operand(self, depth: int) -> tuple:
        kind, text = self.take()
        if text == "(":
            node = self.expression(depth + 1)
            self.expect(")")
            return node
        if kind == "string":
            return ("lit", text[1:-1].replace("''", "'"), "string")
        if kind in ("date", "datetime"):
            return ("lit", text, kind)
        if kind == "number":
            value = float(text) if any(c in text for c in ".eE") else int(text)
            return ("lit", value, "number")
        if kind != "name":
            raise _invalid(f"unexpected '{text}'")
        lower = text.lower()
        if lower in ("true", "false"):
            return ("lit", lower == "true", "bool")
        if lower == "null":
            return ("lit", None, "null")
        if self.peek() == ("punct", "("):
            return self.call(lower, depth)
        if lower in COMPARISONS or lower in ("and", "or", "not"):
            raise _invalid(f"'{text}' needs something to compare")
        return ("prop", tuple(text.split("/")))

    def call(self, name: str, depth: int) -> tuple:
        if name not in FUNCTIONS:
            raise CentralError("odata_unsupported", f"The $filter function '{name}' is not "
                               "supported by this server.")
        self.expect("(")
        args = []
        if self.peek() != ("punct", ")"):
            args.append(self.expression(depth + 1))
            while self.peek() == ("punct", ","):
                self.take()
                args.append(self.expression(depth + 1))
        self.expect(")")
        if len(args) != FUNCTIONS[name]:
            raise _invalid(f"{name}() takes {FUNCTIONS[name]} argument(s)")
        return ("call", name, tuple(args))

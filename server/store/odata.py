"""OData data documents as SQL over the flat answers tables.

Every row of a data document is built by SQLite itself (``json_object``), so
Python only joins finished JSON texts: ``Submissions`` reads the form's
answers table joined with ``submissions``; a repeat's table reads its answers
table (``server.store.answers.repeat_table``). Only current versions are
shown (``s.state = 'current'``). Rows come in the order of a key that only
grows: the submission's row id for ``Submissions`` (the answers table's own
rowid), the repeat row's rowid for a repeat. A page after key K is
``key > K``: records that arrive while a client pages get larger keys, so a
``$skiptoken`` never skips or repeats a row.

Values keep the types the metadata document declares: an int column yields
integers only, a date only ``YYYY-MM-DD`` text, geo answers GeoJSON (or WKT);
anything else is ``null`` in JSON (the answer stays in the store as received).

Two SQL functions are registered on the connections ``open_reader`` opens:
``central_row_id`` (a repeat row's ``__id``, sha1 like Central's) and
``central_geo`` (ODK geo text -> GeoJSON or WKT).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from sqlite_utils import Database

from server.store import central as c
from server.store.answers import main_table, q, repeat_table
from server.store.db import open_db

DATE_GLOB = "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'"
DATETIME_GLOB = "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]*'"
OPS = {"eq": "IS", "ne": "IS NOT", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
STRFTIME = {"year": "%Y", "month": "%m", "day": "%d", "hour": "%H", "minute": "%M",
            "second": "%S"}
GEO = ("geopoint", "geotrace", "geoshape")


# The entity model the statements are built from: ``server.central.edm.build``
# makes it from a form's published versions; it is defined here, beside the SQL
# that reads it, so that the store imports nothing of the doors above it.

SYSTEM_NS = "org.opendatakit.submission"
# __system: Central's properties, then fieldsync's (docs/central-api.md).
SYSTEM = (
    ("submissionDate", "Edm.DateTimeOffset"), ("updatedAt", "Edm.DateTimeOffset"),
    ("submitterId", "Edm.String"), ("submitterName", "Edm.String"),
    ("attachmentsPresent", "Edm.Int64"), ("attachmentsExpected", "Edm.Int64"),
    ("status", f"{SYSTEM_NS}.Status"), ("reviewState", f"{SYSTEM_NS}.ReviewState"),
    ("deviceId", "Edm.String"), ("edits", "Edm.Int64"), ("formVersion", "Edm.String"),
    ("deletedAt", "Edm.DateTimeOffset"),
    ("scoringVersion", "Edm.String"), ("validation", "Edm.String"), ("flags", "Edm.String"),
    ("conflict", "Edm.Boolean"), ("duplicate", "Edm.String"), ("duplicateOf", "Edm.String"),
    ("office", "Edm.String"),
)


@dataclass
class Leaf:
    name: str       # OData property name
    path: str       # the field's path, the answers column
    type: str       # bind type
    edm: str


@dataclass
class Group:
    name: str
    path: str
    type_name: str  # dotted, as Central names complex types
    members: list = field(default_factory=list)


@dataclass
class Table:
    """``Submissions`` or one repeat's entity set."""

    name: str                     # entity set and type name
    path: str | None              # the repeat's path; None for Submissions
    prop: str | None = None       # navigation property name in the parent
    parent: Table | None = None
    parent_key: str | None = None  # "__Submissions-id", ...
    members: list = field(default_factory=list)

    def all_leaves(self, prefix: str = "") -> list[tuple[str, Leaf]]:
        """(OData path, leaf) of this table's primitive properties, groups walked."""
        out: list[tuple[str, Leaf]] = []

        def walk(members, pre):
            for m in members:
                if isinstance(m, Leaf):
                    out.append((pre + m.name, m))
                elif isinstance(m, Group):
                    walk(m.members, f"{pre}{m.name}/")
        walk(self.members, prefix)
        return out


@dataclass
class EntityModel:
    form_id: str
    namespace: str
    tables: dict[str, Table]
    groups: list[Group]
    score_dims: list[str]

    @property
    def submissions(self) -> Table:
        return self.tables["Submissions"]


class QueryRefused(ValueError):
    """A query the statements cannot be built for; ``code`` is the Central error
    code (server.central.errors) the door refuses it with."""

    def __init__(self, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.details = code, message, details or {}


def open_reader(path: str) -> Database:
    """A connection for one data document, with the two SQL functions registered."""
    db = open_db(path)
    db.conn.create_function("central_row_id", 4, row_id, deterministic=True)
    db.conn.create_function("central_geo", 3, geo, deterministic=True)
    return db


def row_id(logical_id: str, repeat_path: str, index: str, depth: int) -> str:
    """A repeat instance's ``__id``: stable, unique, URL-safe (40 hex digits)."""
    prefix = "/".join(str(index).split("/")[:depth])
    return hashlib.sha1(f"{logical_id}\x00{repeat_path}\x00{prefix}".encode()).hexdigest()


def geo(text, kind: str, wkt: int):
    """ODK's ``lat lon [alt [acc]]`` (``;``-separated for traces and shapes) as
    GeoJSON text or WKT, (lon, lat, alt) ordered; None when unreadable."""
    if not isinstance(text, str) or not text.strip():
        return None
    points, accuracy = [], []
    for part in text.strip().rstrip(";").split(";"):
        nums = part.split()
        try:
            lat, lon = float(nums[0]), float(nums[1])
            rest = [float(n) for n in nums[2:4]]
        except (IndexError, ValueError):
            return None
        points.append([lon, lat] + rest[:1])
        accuracy.append(rest[1] if len(rest) > 1 else None)
    if kind == "geopoint":
        if wkt:
            return "POINT (" + " ".join(_num(v) for v in points[0]) + ")"
        out = {"type": "Point", "coordinates": points[0]}
        if accuracy[0] is not None:
            out["properties"] = {"accuracy": accuracy[0]}
        return json.dumps(out)
    ring = ",".join(" ".join(_num(v) for v in p) for p in points)
    if wkt:
        return f"LINESTRING ({ring})" if kind == "geotrace" else f"POLYGON (({ring}))"
    return json.dumps({"type": "LineString", "coordinates": points} if kind == "geotrace"
                      else {"type": "Polygon", "coordinates": [points]})


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


@dataclass
class Plan:
    """One data document's statements, ready to run."""

    rows_sql: str
    rows_params: list
    count_sql: str
    count_params: list


class Compiler:
    """SQL for one table of a form's entity model (``em``) and one query."""

    def __init__(self, db: Database, em: EntityModel, table: Table, *, wkt: bool = False,
                 expand: bool = False):
        self.em, self.table, self.wkt, self.expand = em, table, wkt, expand
        self.columns = {name: _columns(db, name) for name in self._sql_tables()}
        self.depth = _depth(table)
        self.alias = "a" if table.path is None else "r"

    def _sql_tables(self) -> list[str]:
        return [main_table(self.em.form_id)] + [repeat_table(self.em.form_id, t.path)
                                                for t in self.em.tables.values() if t.path]

    def sql_table(self, table: Table) -> str:
        return (main_table(self.em.form_id) if table.path is None
                else repeat_table(self.em.form_id, table.path))

    # Rows ------------------------------------------------------------------------

    def plan(self, *, filter_node=None, select=None, orderby=(), after=None, limit=None,
             skip=0, submission_id=None) -> Plan:
        """Statements for the rows (``(json, key)``, at most ``limit`` after key
        ``after``, ``skip`` rows skipped first) and for their count (all pages)."""
        if select is not None:
            self.check_select(select)
        params: list = []
        row = self.row_json(self.table, self.alias, self.depth, select, params)
        where, where_params = self.where(filter_node, submission_id)
        key = self.key()
        order, order_params = [], []
        for path, desc in orderby:
            expr, _, eparams = self.prop(path)
            order.append(f"{expr} {'DESC' if desc else 'ASC'}")
            order_params += eparams
        order.append(f"{key} ASC")
        paged, paged_params = list(where), list(where_params)
        if after is not None:
            paged.append(f"{key} > ?")
            paged_params.append(after)
        tail, tail_params = "", []
        if limit is not None or skip:
            tail = " LIMIT ? OFFSET ?"
            tail_params = [-1 if limit is None else limit, skip]
        source = self.source()
        rows_sql = (f"SELECT {row}, {key} FROM {source} WHERE {' AND '.join(paged)} "
                    f"ORDER BY {', '.join(order)}{tail}")
        count_sql = f"SELECT count(*) FROM {source} WHERE {' AND '.join(where)}"
        return Plan(rows_sql, params + paged_params + order_params + tail_params,
                    count_sql, list(where_params))

    def check_select(self, select) -> None:
        names = {name for name, _ in SYSTEM} | ({"scores"} if self.em.score_dims else set())
        for path in select:
            if path == ("__id",) or path == ("__system",):
                continue
            if path[0] == "__system":
                if self.table.path is None and len(path) == 2 and path[1] in names:
                    continue
            elif self.table.path is not None and path == (self.table.parent_key,):
                continue
            elif _find_member(self.table.members, path) is not None:
                continue
            raise _unknown("/".join(path), "$select names properties of this table")

    def key(self) -> str:
        return "a.submission_id" if self.table.path is None else "r.rowid"

    def source(self) -> str:
        # CROSS JOIN keeps the answers table outermost, read in key order: a page
        # after key K is a range of it, not a sort of the whole form.
        own = q(self.sql_table(self.table))
        return (f"{own} {self.alias} CROSS JOIN submissions s ON "
                f"s.id = {self.alias}.submission_id {c.USER_JOIN}")

    def where(self, filter_node, submission_id) -> tuple[list[str], list]:
        clauses, params = ["s.state = 'current'"], []
        if submission_id is not None:
            clauses.append(f"{self.alias}.submission_id = ?")
            params.append(submission_id)
        if filter_node is not None:
            sql, kind, fparams = self.condition(filter_node)
            clauses.append(f"({sql})")
            params += fparams
        return clauses, params

    def row_json(self, table: Table, alias: str, depth: int, select, params: list) -> str:
        parts = [f"'__id', {self.id_expr(table, alias, depth)}"]
        wanted = _selection(select)
        if table.path is None:
            system = None if wanted is None else wanted.get("__system", False)
            if system is not False:
                parts.append(f"'__system', "
                             f"{self.system_json(None if system is True else system, params)}")
        parts += self.members(table, table.members, alias, depth, wanted, params)
        if table.path is not None and (wanted is None or table.parent_key in wanted):
            parts.append(f"{_lit(table.parent_key)}, {self.parent_expr(table, alias, depth)}")
        return f"json_object({', '.join(parts)})"

    def members(self, table: Table, members: list, alias: str, depth: int, wanted,
                params: list) -> list[str]:
        parts = []
        for m in members:
            name = m.prop if isinstance(m, Table) else m.name
            sub = None if wanted is None else wanted.get(name, False)
            if sub is False:
                continue
            if isinstance(m, Leaf):
                parts.append(f"{_lit(m.name)}, {self.value(table, m, alias)}")
            elif isinstance(m, Group):
                inner = self.members(table, m.members, alias, depth,
                                     None if sub is True else sub, params)
                parts.append(f"{_lit(m.name)}, json_object({', '.join(inner)})")
            elif self.expand:
                parts.append(f"{_lit(m.prop)}, {self.expanded(m, alias, depth, params)}")
            else:
                parts.append(f"{_lit(m.prop + '@odata.navigationLink')}, "
                             f"{self.navigation_link(m, alias, depth)}")
        return parts

    def expanded(self, child: Table, alias: str, depth: int, params: list) -> str:
        inner = f"c{depth + 1}"
        row = self.row_json(child, inner, depth + 1, None, params)
        link = f"{inner}.submission_id = s.id"
        if depth > 0:
            link += f" AND {inner}._parent_index = {alias}._index"
        return (f"(SELECT json_group_array(json(x)) FROM (SELECT {row} AS x FROM "
                f"{q(self.sql_table(child))} {inner} WHERE {link} ORDER BY {inner}.rowid))")

    def navigation_link(self, child: Table, alias: str, depth: int) -> str:
        """``Submissions('id')/group/repeat`` (with ``repeat('rowid')`` for each
        enclosing repeat), as Central links a row to one of its repeats."""
        chain, t = [], child
        while t is not None:
            chain.append(t)
            t = t.parent
        chain.reverse()  # Submissions, ..., child
        sql = ["'Submissions('''", "s.logical_id", "''')'"]
        for level, t in enumerate(chain[1:], start=1):
            segments = t.name.split(".")[len(t.parent.name.split(".")):]
            sql.append(_lit("/" + "/".join(segments)))
            if t is not child:
                sql += ["'('''", f"central_row_id(s.logical_id, {_lit(t.path)}, "
                        f"{alias}._index, {level})", "''')'"]
        return " || ".join(sql)

    def id_expr(self, table: Table, alias: str, depth: int) -> str:
        if table.path is None:
            return "s.logical_id"
        return f"central_row_id(s.logical_id, {_lit(table.path)}, {alias}._index, {depth})"

    def parent_expr(self, table: Table, alias: str, depth: int) -> str:
        if table.parent.path is None:
            return "s.logical_id"
        return (f"central_row_id(s.logical_id, {_lit(table.parent.path)}, {alias}._index, "
                f"{depth - 1})")

    def value(self, table: Table, leaf: Leaf, alias: str, *, raw: bool = False) -> str:
        if leaf.path == "meta/instanceID":
            return "s.instance_id"
        sql_types = self.columns[self.sql_table(table)]
        if leaf.path not in sql_types:
            return "NULL"
        col = f"{alias}.{q(leaf.path)}"
        if raw:
            return col
        edm = leaf.edm
        if edm == "Edm.Int64":
            return f"CASE typeof({col}) WHEN 'integer' THEN {col} END"
        if edm == "Edm.Decimal":
            return f"CASE WHEN typeof({col}) IN ('integer', 'real') THEN {col} END"
        if edm == "Edm.Boolean":
            return (f"CASE lower({col}) WHEN 'true' THEN json('true') WHEN '1' THEN json('true') "
                    f"WHEN 'false' THEN json('false') WHEN '0' THEN json('false') END")
        if edm == "Edm.Date":
            return f"CASE WHEN {col} GLOB {DATE_GLOB} THEN {col} END"
        if edm == "Edm.DateTimeOffset":
            return f"CASE WHEN {col} GLOB {DATETIME_GLOB} THEN {col} END"
        if leaf.type in GEO:
            call = f"central_geo({col}, {_lit(leaf.type)}, {int(self.wkt)})"
            return call if self.wkt else f"json({call})"
        return col if sql_types[leaf.path] in ("TEXT", "") else f"CAST({col} AS TEXT)"

    # __system ----------------------------------------------------------------------

    def system_exprs(self, *, for_filter: bool = False) -> dict:
        """``__system``'s SQL by property; for filters, comparable values (an integer
        submitter id, the conflict flag as 0/1) rather than the JSON shown."""
        return {
            "submissionDate": c.CREATED_AT, "updatedAt": c.UPDATED_AT,
            "submitterId": "u.id" if for_filter else "CAST(u.id AS TEXT)",
            "submitterName": c.SUBMITTER_NAME,
            "attachmentsPresent": c.ATTACHMENTS_PRESENT,
            "attachmentsExpected": c.ATTACHMENTS_EXPECTED, "status": "NULL",
            "reviewState": c.REVIEW_STATE, "deviceId": c.DEVICE_ID, "edits": c.EDITS,
            "formVersion": "s.form_version", "deletedAt": "NULL",
            "scoringVersion": "s.scoring_version", "validation": c.VALIDATION,
            "flags": c.FLAGS,
            "conflict": c.CONFLICT if for_filter else
            f"CASE WHEN {c.CONFLICT} THEN json('true') ELSE json('false') END",
            "duplicate": c.DUPLICATE, "duplicateOf": c.DUPLICATE_OF, "office": c.OFFICE,
        }

    def system_json(self, wanted, params: list) -> str:
        exprs = self.system_exprs()
        parts = []
        for name, _ in SYSTEM:
            if wanted is None or name in wanted:
                parts.append(f"{_lit(name)}, {exprs[name]}")
            if name == "scoringVersion" and self.em.score_dims and (
                    wanted is None or "scores" in wanted):
                dims = []
                for dim in self.em.score_dims:
                    expr, p = c.score_expr(dim)
                    dims.append(f"{_lit(dim)}, {expr}")
                    params += p
                parts.append(f"'scores', json_object({', '.join(dims)})")
        return f"json_object({', '.join(parts)})"

    # $filter and $orderby ----------------------------------------------------------

    def prop(self, path: tuple[str, ...]) -> tuple[str, str, list]:
        """(SQL, kind, params) of a property path of this table."""
        if path[:2] == ("$root", "Submissions"):
            path = path[2:]
            if path and path[0] not in ("__id", "__system"):
                raise _unknown("/".join(("$root", "Submissions") + path),
                               "$root/Submissions/ reaches __id and __system/... only")
            if path == ("__id",):
                return "s.logical_id", "string", []
        elif path and path[0] == "$root":
            raise _unknown("/".join(path), "use $root/Submissions/__system/...")
        if path == ("__id",):
            return self.id_expr(self.table, self.alias, self.depth), "string", []
        if self.table.path is not None and path == (self.table.parent_key,):
            return self.parent_expr(self.table, self.alias, self.depth), "string", []
        if len(path) == 2 and path[0] == "__system":
            kinds = dict(SYSTEM)
            if path[1] in kinds:
                kind = _kind(kinds[path[1]])
                return self.system_exprs(for_filter=True)[path[1]], kind, []
        if len(path) == 3 and path[:2] == ("__system", "scores") and path[2] in \
                self.em.score_dims:
            expr, params = c.score_expr(path[2])
            return expr, "number", params
        if path and path[0] == "__system" or (self.table.path is not None and
                                              path and path[0].startswith("__")):
            raise _unknown("/".join(path), "see $metadata for the table's properties")
        leaf = _find_leaf(self.table.members, path)
        if leaf is None:
            raise _unknown("/".join(path), "see $metadata for the table's properties")
        return self.value(self.table, leaf, self.alias, raw=True), _kind(leaf.edm), []

    def condition(self, node) -> tuple[str, str, list]:
        sql, kind, params = self.expr(node)
        if kind != "bool":
            raise QueryRefused("odata_query_invalid", "$filter must be a condition (a "
                               "comparison, a function such as contains(), or and/or/not of "
                               "those).")
        return sql, kind, params

    def expr(self, node) -> tuple[str, str, list]:
        op = node[0]
        if op in ("and", "or"):
            ls, _, lp = self.condition(node[1])
            rs, _, rp = self.condition(node[2])
            return f"({ls} {op.upper()} {rs})", "bool", lp + rp
        if op == "not":
            s, _, p = self.condition(node[1])
            return f"(NOT {s})", "bool", p
        if op == "lit":
            value, kind = node[1], node[2]
            if kind == "null":
                return "NULL", "null", []
            if kind == "bool":
                return ("1" if value else "0"), "bool", []
            if kind == "datetime" and value.endswith("z"):
                value = value[:-1] + "Z"
            return "?", kind, [value]
        if op == "prop":
            sql, kind, params = self.prop(node[1])
            return (f"({sql} = 1)", "bool", params) if kind == "bool" else (sql, kind, params)
        if op == "call":
            return self.call(node[1], node[2])
        return self.compare(node[1], node[2], node[3])

    def compare(self, operator: str, left, right) -> tuple[str, str, list]:
        ls, lk, lp = self.operand(left)
        rs, rk, rp = self.operand(right)
        if "null" in (lk, rk) and operator not in ("eq", "ne"):
            return "0", "bool", []
        if "datetime" in (lk, rk) and "null" not in (lk, rk):
            ls, rs = f"julianday({ls})", f"julianday({rs})"
        return f"({ls} {OPS[operator]} {rs})", "bool", lp + rp

    def operand(self, node) -> tuple[str, str, list]:
        if node[0] == "prop":
            return self.prop(node[1])
        if node[0] == "lit" and node[2] == "bool":
            return ("1" if node[1] else "0"), "bool", []
        return self.expr(node)

    def call(self, name: str, args) -> tuple[str, str, list]:
        if name == "now":
            return "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')", "datetime", []
        values = [self.operand(a) for a in args]
        sqls = [v[0] for v in values]
        params = [p for v in values for p in v[2]]
        if name in STRFTIME:
            return f"CAST(strftime('{STRFTIME[name]}', {sqls[0]}) AS INTEGER)", "number", params
        if name == "contains":
            return f"(instr({sqls[0]}, {sqls[1]}) > 0)", "bool", params
        if name in ("startswith", "endswith"):
            (a, _, ap), (b, _, bp) = values
            if name == "startswith":
                return f"(substr({a}, 1, length({b})) = {b})", "bool", ap + bp + bp
            return (f"(length({b}) = 0 OR substr({a}, -length({b})) = {b})", "bool",
                    bp + ap + bp + bp)
        if name == "length":
            return f"length({sqls[0]})", "number", params
        return f"{'lower' if name == 'tolower' else 'upper'}({sqls[0]})", "string", params


def _columns(db: Database, table: str) -> dict[str, str]:
    rows = db.execute(f"PRAGMA table_info({q(table)})").fetchall()
    return {r[1]: (r[2] or "").upper() for r in rows}


def _depth(table: Table) -> int:
    depth, t = 0, table
    while t.parent is not None:
        depth, t = depth + 1, t.parent
    return depth


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _kind(edm: str) -> str:
    return {"Edm.Int64": "number", "Edm.Decimal": "number", "Edm.Boolean": "bool",
            "Edm.Date": "date", "Edm.DateTimeOffset": "datetime"}.get(edm, "string")


def _find_member(members: list, path: tuple[str, ...]):
    """The leaf, group or repeat at an OData path of a table (None if absent)."""
    for m in members:
        name = m.prop if isinstance(m, Table) else m.name
        if path and name == path[0]:
            if len(path) == 1:
                return m
            return _find_member(m.members, path[1:]) if isinstance(m, Group) else None
    return None


def _find_leaf(members: list, path: tuple[str, ...]) -> Leaf | None:
    for m in members:
        if isinstance(m, Leaf) and (m.name,) == path:
            return m
        if isinstance(m, Group) and path and m.name == path[0]:
            return _find_leaf(m.members, path[1:])
    return None


def _selection(select) -> dict | None:
    """$select paths as a tree: {name: True (whole) or {child: ...}}; None: all."""
    if select is None:
        return None
    tree: dict = {}
    for path in select:
        node = tree
        for part in path[:-1]:
            existing = node.get(part)
            if existing is True:
                break
            node = node.setdefault(part, {})
        else:
            node[path[-1]] = True
    return tree


def _unknown(path: str, hint: str) -> QueryRefused:
    return QueryRefused("odata_property_unknown", f"Could not find a property named "
                        f"'{path}' ({hint}).", {"property": path})

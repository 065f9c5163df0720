"""The flat answers tables: one row per submission, one column per field path.

Each form gets ``answers__{form_id}`` (columns named by the field's path, typed
by its bind type) and one child table per repeat, ``answers__{form_id}__{repeat}``
with the instance's position, as ODK's OData does. A form_id that is not a
plain name (``Spec test``, ``2011_07_25 transport``) is used as ``table_key``
makes it: its letters and digits and a hash of the whole id. New form versions add
columns; old ones stay. Exports, trends and duplicate lookups run as SQL over
these columns instead of decoding a JSON document per row.
"""

from __future__ import annotations

import hashlib
import re

from sqlite_utils import Database

from forms.model import Field, FormModel, PerModel

SQL_TYPES = {"int": "INTEGER", "decimal": "REAL"}
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")
_NOT_WORD = re.compile(r"[^A-Za-z0-9_]+")


def table_key(form_id: str) -> str:
    """``form_id`` when it is a plain name (letters, digits, '_', '-', '.'; what
    form ids were before any text was allowed, so old tables keep their names),
    else its letters and digits and the start of its SHA-1: distinct ids give
    distinct keys."""
    if _PLAIN.fullmatch(form_id):
        return form_id
    slug = _NOT_WORD.sub("_", form_id).strip("_")[:40]
    return f"{slug}_{hashlib.sha1(form_id.encode('utf-8')).hexdigest()[:10]}"


def main_table(form_id: str) -> str:
    return f"answers__{table_key(form_id)}"


def repeat_table(form_id: str, repeat_path: str) -> str:
    return f"answers__{table_key(form_id)}__{repeat_path.replace('/', '__')}"


def q(name: str) -> str:
    """Quote an identifier (names come from the form's XML names, never from clients)."""
    return '"' + name.replace('"', '""') + '"'


def _columns_by_table(model: FormModel) -> dict[str | None, list[Field]]:
    """Leaf fields grouped by the repeat that holds them (None: the main table)."""
    out: dict[str | None, list[Field]] = {None: []}
    for rep in model.repeats():
        out[rep.path] = []
    for f in model.questions():
        if f.path == "meta/instanceID":
            continue
        out[f.repeat].append(f)
    return out


def ensure_tables(db: Database, model: FormModel) -> None:
    """Create the form's answers tables, or add the columns a new version brings."""
    for repeat, fields_ in _columns_by_table(model).items():
        if repeat is None:
            table = main_table(model.form_id)
            base = "submission_id INTEGER PRIMARY KEY REFERENCES submissions(id)"
        else:
            table = repeat_table(model.form_id, repeat)
            base = ("submission_id INTEGER NOT NULL REFERENCES submissions(id), "
                    "_index TEXT NOT NULL, _parent_index TEXT, "
                    "PRIMARY KEY (submission_id, _index)")
        db.execute(f"CREATE TABLE IF NOT EXISTS {q(table)} ({base})")
        have = {row[1] for row in db.execute(f"PRAGMA table_info({q(table)})").fetchall()}
        for f in fields_:
            if f.path not in have:
                db.execute(f"ALTER TABLE {q(table)} ADD COLUMN {q(f.path)} "
                           f"{SQL_TYPES.get(f.type, 'TEXT')}")


def _make_plan(model: FormModel):
    """The INSERT statements for a model (built once per model, ``_plan``)."""
    plan = []
    for repeat, fields_ in _columns_by_table(model).items():
        if repeat is None:
            table = main_table(model.form_id)
            cols = ["submission_id"] + [f.path for f in fields_]
        else:
            table = repeat_table(model.form_id, repeat)
            cols = ["submission_id", "_index", "_parent_index"] + [f.path for f in fields_]
        sql = (f"INSERT OR REPLACE INTO {q(table)} ({', '.join(q(c) for c in cols)}) "
               f"VALUES ({', '.join('?' * len(cols))})")
        strip = len(repeat) + 1 if repeat else 0
        # runs of neighbouring leaves with the same group: (group's path parts,
        # ((name, cast), ...)), in column order; the group is found once per run
        getters: list = []
        for f in fields_:
            *group, name = f.path[strip:].split("/")
            if getters and getters[-1][0] == tuple(group):
                getters[-1][1].append((name, _CASTS.get(f.type)))
            else:
                getters.append((tuple(group), [(name, _CASTS.get(f.type))]))
        plan.append((repeat, table, sql, getters))
    return plan


_plan = PerModel(_make_plan)


def project(db: Database, model: FormModel, submission_id: int, data: dict) -> None:
    """Write one submission's answers into the flat tables (replacing earlier ones)."""
    conn = db.conn
    for repeat, table, sql, getters in _plan(model):
        if repeat is None:
            conn.execute(sql, [submission_id] + _values(data, getters))
            continue
        conn.execute(f"DELETE FROM {q(table)} WHERE submission_id = ?", [submission_id])
        for index, parent_index, item in _instances(data, repeat):
            conn.execute(sql, [submission_id, index, parent_index] + _values(item, getters))


def _values(node: dict, getters) -> list:
    """The columns' values: None for a missing or empty answer (or a group where
    a value should be), numbers cast by the column's type where they read as one."""
    out: list = []
    append = out.append
    for group_parts, leaves in getters:
        group = node
        for part in group_parts:
            group = group.get(part) if isinstance(group, dict) else None
        if not isinstance(group, dict):
            out.extend([None] * len(leaves))
            continue
        get = group.get
        for name, cast in leaves:
            value = get(name)
            if type(value) is str:  # the common case: a text answer
                if not value:
                    append(None)
                    continue
            elif value is None or isinstance(value, (dict, list)):
                append(None)
                continue
            if cast is None:
                append(value)
                continue
            try:
                append(cast(value))
            except (TypeError, ValueError):
                append(value)
    return out


def _instances(data: dict, repeat: str):
    """Yield (index, parent_index, item) for each instance of a (nested) repeat."""
    def walk(node, parts, index, parent):
        if not parts:
            return
        head, rest = parts[0], parts[1:]
        child = node.get(head) if isinstance(node, dict) else None
        if child is None:
            return
        items = child if isinstance(child, list) else [child]
        if not rest:
            for i, item in enumerate(items, 1):
                if isinstance(item, dict):
                    yield (f"{index}/{i}" if index else str(i)), (index or None), item
            return
        if isinstance(child, list):
            for i, item in enumerate(child, 1):
                yield from walk(item, rest, f"{index}/{i}" if index else str(i), index)
        else:
            yield from walk(child, rest, index, parent)

    yield from walk(data, repeat.split("/"), "", None)


def _int(value):
    """An answer as an integer where it is one SQLite can hold; otherwise left as
    it came (validation flags it)."""
    number = int(value)
    return number if -2**63 <= number < 2**63 else value


_CASTS = {"int": _int, "decimal": float}

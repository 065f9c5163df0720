"""Queries on entity lists: lists, entities and their versions, conflicts kept
for review, teams (who carries which part of a list) and due schedules.

Every change to an entity is a new row of ``entity_versions`` in the same
transaction; the newest of a list's rows is its revision, from which the list
file's OpenRosa hash is derived, so a tablet downloads a list again exactly
when something in it changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import orjson
from sqlite_utils import Database

from server.store.answers import main_table, q
from server.store.clock import utcnow

LIST_COLUMNS = ("name", "properties", "key_property", "created_at", "created_by")
ENTITY_COLUMNS = ("id", "list", "uuid", "label", "version", "properties", "assignee",
                  "key_norm", "created_at", "updated_at", "open_conflicts")
VERSION_COLUMNS = ("entity_id", "version", "label", "properties", "changes", "source",
                   "submission_id", "base_version", "branch_id", "actor", "at")
CONFLICT_COLUMNS = ("id", "list", "entity_uuid", "entity_id", "submission_id", "reason",
                    "base_version", "current_version", "proposed", "detected_at",
                    "resolution", "resolved_by", "resolved_at", "comment")
PAGE = 1000  # rows per statement when streaming a list


def _dict(columns, row, json_keys=()) -> dict | None:
    if row is None:
        return None
    out = dict(zip(columns, row))
    for key in json_keys:
        if out.get(key) is not None:
            out[key] = orjson.loads(out[key])
    return out


def _json(value) -> str:
    return orjson.dumps(value).decode()


# Lists ----------------------------------------------------------------------------

def get_list(db: Database, name: str) -> dict | None:
    row = db.execute(f"SELECT {', '.join(LIST_COLUMNS)} FROM entity_lists WHERE name = ?",
                     [name]).fetchone()
    return _dict(LIST_COLUMNS, row, ("properties",))


def list_lists(db: Database) -> list[dict]:
    rows = db.execute(
        f"SELECT {', '.join('l.' + c for c in LIST_COLUMNS)}, "
        "(SELECT count(*) FROM entities e WHERE e.list = l.name), "
        "(SELECT count(*) FROM entity_conflicts c WHERE c.list = l.name "
        "AND c.resolution IS NULL) FROM entity_lists l ORDER BY l.name").fetchall()
    return [{**_dict(LIST_COLUMNS, r[:-2], ("properties",)), "entities": r[-2],
             "open_conflicts": r[-1]} for r in rows]


def ensure_list(db: Database, name: str, actor: str | None) -> None:
    db.execute("INSERT OR IGNORE INTO entity_lists (name, created_at, created_by) "
               "VALUES (?, ?, ?)", [name, utcnow(), actor])


def set_list(db: Database, name: str, *, properties: list[str] | None = None,
             key_property: str | None = None) -> None:
    if properties is not None:
        db.execute("UPDATE entity_lists SET properties = ? WHERE name = ?",
                   [json.dumps(properties), name])
    if key_property is not None:
        db.execute("UPDATE entity_lists SET key_property = ? WHERE name = ?",
                   [key_property or None, name])


def rekey(db: Database, name: str, key_property: str | None, normalise) -> None:
    """Recompute every entity's ``key_norm`` from its properties (after the list's
    key property changed); ``normalise`` turns a value into its key."""
    rows = db.execute("SELECT id, properties FROM entities WHERE list = ?", [name]).fetchall()
    db.conn.executemany(
        "UPDATE entities SET key_norm = ? WHERE id = ?",
        [(normalise(json.loads(props).get(key_property)) if key_property else None, eid)
         for eid, props in rows])


def count_open_conflicts(db: Database, name: str) -> int:
    return db.execute("SELECT count(*) FROM entity_conflicts WHERE list = ? AND "
                      "resolution IS NULL", [name]).fetchone()[0]


def revision(db: Database, name: str) -> int:
    """The list's newest version row (0 for a list without entities)."""
    row = db.execute("SELECT max(rowid) FROM entity_versions WHERE list = ?", [name]).fetchone()
    return row[0] or 0


# Entities -------------------------------------------------------------------------

_SELECT_ENTITY = f"SELECT {', '.join(ENTITY_COLUMNS)} FROM entities"


def entity_by_uuid(db: Database, list_name: str, uuid: str) -> dict | None:
    row = db.execute(f"{_SELECT_ENTITY} WHERE list = ? AND uuid = ?",
                     [list_name, uuid]).fetchone()
    return _dict(ENTITY_COLUMNS, row, ("properties",))


def list_and_entity(db: Database, list_name: str, uuid: str) -> tuple[dict | None,
                                                                     dict | None]:
    """The list and one of its entities, in one statement (ingest reads both for
    every record that touches an entity)."""
    row = db.conn.execute(
        f"SELECT {', '.join('l.' + c for c in LIST_COLUMNS)}, "
        f"{', '.join('e.' + c for c in ENTITY_COLUMNS)} FROM entity_lists l "
        "LEFT JOIN entities e ON e.list = l.name AND e.uuid = ? WHERE l.name = ?",
        [uuid, list_name]).fetchone()
    if row is None:
        return None, None
    lst = _dict(LIST_COLUMNS, row[:len(LIST_COLUMNS)], ("properties",))
    entity_row = row[len(LIST_COLUMNS):]
    entity = _dict(ENTITY_COLUMNS, entity_row, ("properties",)) if entity_row[0] else None
    return lst, entity


def entity_by_key(db: Database, list_name: str, key_norm: str) -> dict | None:
    row = db.execute(f"{_SELECT_ENTITY} WHERE list = ? AND key_norm = ? ORDER BY id LIMIT 1",
                     [list_name, key_norm]).fetchone()
    return _dict(ENTITY_COLUMNS, row, ("properties",))


def entity_by_id(db: Database, entity_id: int) -> dict | None:
    row = db.execute(f"{_SELECT_ENTITY} WHERE id = ?", [entity_id]).fetchone()
    return _dict(ENTITY_COLUMNS, row, ("properties",))


def insert_entity(db: Database, *, list_name: str, uuid: str, label: str,
                  properties: dict, assignee: str | None, key_norm: str | None,
                  at: str) -> int:
    cur = db.execute(
        "INSERT INTO entities (list, uuid, label, version, properties, assignee, key_norm, "
        "created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)",
        [list_name, uuid, label, _json(properties), assignee, key_norm, at, at])
    return cur.lastrowid


def update_entity(db: Database, entity_id: int, *, label: str, version: int,
                  properties: dict, key_norm: str | None, at: str, set_key: bool = True,
                  assignee: str | None = None, set_assignee: bool = False) -> None:
    """Write an entity's new version; ``set_key``/``set_assignee`` False leave those
    columns (and so their indexes) untouched."""
    sql = "UPDATE entities SET label = ?, version = ?, properties = ?, updated_at = ?"
    params = [label, version, _json(properties), at]
    if set_key:
        sql += ", key_norm = ?"
        params.append(key_norm)
    if set_assignee:
        sql += ", assignee = ?"
        params.append(assignee)
    db.conn.execute(sql + " WHERE id = ?", [*params, entity_id])


def insert_version(db: Database, *, list_name: str, entity_id: int, version: int,
                   label: str, properties: dict, changes: dict, source: str, at: str,
                   submission_id: int | None = None, base_version: int | None = None,
                   branch_id: str | None = None, actor: str | None = None) -> None:
    db.conn.execute(
        "INSERT INTO entity_versions (list, entity_id, version, label, properties, changes, "
        "source, submission_id, base_version, branch_id, actor, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [list_name, entity_id, version, label, _json(properties), _json(changes), source,
         submission_id, base_version, branch_id, actor, at])


def version_branch(db: Database, entity_id: int, version: int) -> tuple[bool, str | None]:
    """Whether that version exists, and the branch (offline chain) that made it."""
    row = db.execute("SELECT branch_id FROM entity_versions WHERE entity_id = ? AND "
                     "version = ?", [entity_id, version]).fetchone()
    return (row is not None, row[0] if row else None)


def versions(db: Database, entity_id: int) -> list[dict]:
    rows = db.execute(
        f"SELECT {', '.join('v.' + c for c in VERSION_COLUMNS)}, s.instance_id, "
        "s.submitted_by FROM entity_versions v LEFT JOIN submissions s "
        "ON s.id = v.submission_id WHERE v.entity_id = ? ORDER BY v.version",
        [entity_id]).fetchall()
    return [{**_dict(VERSION_COLUMNS, r[:-2], ("properties", "changes")),
             "instance_id": r[-2], "submitted_by": r[-1]} for r in rows]


def version_logicals(db: Database, entity_id: int, since: int) -> list[str | None]:
    """The logical record id behind each version from ``since`` on (None for a
    version an import or a reviewer made)."""
    return [r[0] for r in db.execute(
        "SELECT s.logical_id FROM entity_versions v LEFT JOIN submissions s "
        "ON s.id = v.submission_id WHERE v.entity_id = ? AND v.version >= ? "
        "ORDER BY v.version", [entity_id, since]).fetchall()]


def entities_of_submission(db: Database, submission_id: int) -> list[tuple[int, int]]:
    """``(entity_id, version)`` of the versions a submission made."""
    return [tuple(r) for r in db.execute(
        "SELECT entity_id, version FROM entity_versions WHERE submission_id = ?",
        [submission_id]).fetchall()]


def count_entities(db: Database, list_name: str) -> int:
    return db.execute("SELECT count(*) FROM entities WHERE list = ?",
                      [list_name]).fetchone()[0]


def iter_entities(db: Database, list_name: str, assignees: list[str] | None = None,
                  extra: tuple[str, list] | None = None) -> Iterator[tuple]:
    """Yield ``(id, uuid, label, version, properties JSON, assignee[, extra])`` of a
    list, a page at a time (flat memory whatever the list's size). ``assignees``:
    only entities assigned to one of these names or to nobody; None: all of them.
    ``extra``: an SQL expression over the entity ``e`` and its parameters, added
    as a last column (``rounds_column``)."""
    columns = "e.id, e.uuid, e.label, e.version, e.properties, e.assignee"
    params: list = []
    if extra is not None:
        columns += f", {extra[0]}"
        params = list(extra[1])
    if assignees is None:
        # '+' keeps the planner on the rowid range: through the list's index it
        # would sort the whole list for every page.
        yield from _pages(db, f"SELECT {columns} FROM entities e WHERE +e.list = ? AND "
                          "e.id > ? ORDER BY e.id LIMIT ?", [*params, list_name])
        return
    yield from _pages(db, f"SELECT {columns} FROM entities e WHERE e.list = ? AND "
                      "e.assignee IS NULL AND e.id > ? ORDER BY e.id LIMIT ?",
                      [*params, list_name])
    for name in dict.fromkeys(assignees):
        yield from _pages(db, f"SELECT {columns} FROM entities e WHERE e.list = ? AND "
                          "e.assignee = ? AND e.id > ? ORDER BY e.id LIMIT ?",
                          [*params, list_name, name])


def _pages(db: Database, sql: str, params: list) -> Iterator[tuple]:
    after = 0
    while True:
        rows = db.execute(sql, [*params, after, PAGE]).fetchall()
        yield from rows
        if len(rows) < PAGE:
            return
        after = rows[-1][0]


def key_index(db: Database, list_name: str) -> dict[str, tuple]:
    """``{key_norm: (id, uuid)}`` of a list's entities that have a key."""
    return {r[0]: (r[1], r[2]) for r in db.execute(
        "SELECT key_norm, id, uuid FROM entities WHERE list = ? AND key_norm IS NOT NULL",
        [list_name])}


def entities_by_uuids(db: Database, list_name: str, uuids: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for at in range(0, len(uuids), 500):
        part = uuids[at:at + 500]
        rows = db.execute(f"{_SELECT_ENTITY} WHERE list = ? AND uuid IN "
                          f"({','.join('?' * len(part))})", [list_name, *part]).fetchall()
        for r in rows:
            e = _dict(ENTITY_COLUMNS, r, ("properties",))
            out[e["uuid"]] = e
    return out


# Conflicts ------------------------------------------------------------------------

def insert_conflict(db: Database, *, list_name: str, entity_uuid: str,
                    entity_id: int | None, submission_id: int | None, reason: str,
                    base_version: int | None, current_version: int | None,
                    proposed: dict, at: str) -> int:
    cur = db.execute(
        "INSERT INTO entity_conflicts (list, entity_uuid, entity_id, submission_id, reason, "
        "base_version, current_version, proposed, detected_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [list_name, entity_uuid, entity_id, submission_id, reason, base_version,
         current_version, _json(proposed), at])
    if entity_id is not None:
        db.execute("UPDATE entities SET open_conflicts = open_conflicts + 1 WHERE id = ?",
                   [entity_id])
    return cur.lastrowid


_SELECT_CONFLICT = (f"SELECT {', '.join('c.' + c for c in CONFLICT_COLUMNS)}, s.instance_id, "
                    "s.submitted_by FROM entity_conflicts c LEFT JOIN submissions s "
                    "ON s.id = c.submission_id")


def _conflict(row) -> dict | None:
    if row is None:
        return None
    return {**_dict(CONFLICT_COLUMNS, row[:-2], ("proposed",)), "instance_id": row[-2],
            "submitted_by": row[-1]}


def get_conflict(db: Database, conflict_id: int) -> dict | None:
    return _conflict(db.execute(f"{_SELECT_CONFLICT} WHERE c.id = ?",
                                [conflict_id]).fetchone())


def list_conflicts(db: Database, list_name: str | None = None, status: str = "open",
                   entity_id: int | None = None, limit: int = 100,
                   after: int = 0) -> list[dict]:
    sql, params = f"{_SELECT_CONFLICT} WHERE c.id > ?", [after]
    if list_name:
        sql += " AND c.list = ?"
        params.append(list_name)
    if entity_id is not None:
        sql += " AND c.entity_id = ?"
        params.append(entity_id)
    if status == "open":
        sql += " AND c.resolution IS NULL"
    elif status == "resolved":
        sql += " AND c.resolution IS NOT NULL"
    rows = db.execute(sql + " ORDER BY c.id LIMIT ?", [*params, limit]).fetchall()
    return [_conflict(r) for r in rows]


def waiting_blocks(db: Database, submission_id: int, reason: str) -> list[dict]:
    """A record's open conflicts of one reason (the blocks kept for its release)."""
    rows = db.execute(f"{_SELECT_CONFLICT} WHERE c.submission_id = ? AND c.reason = ? "
                      "AND c.resolution IS NULL ORDER BY c.id", [submission_id, reason])
    return [_conflict(r) for r in rows.fetchall()]


def resolve_conflict(db: Database, conflict_id: int, resolution: str, actor: str | None,
                     comment: str | None) -> bool:
    """Mark an open conflict resolved; False if it was resolved already."""
    row = db.execute(
        "UPDATE entity_conflicts SET resolution = ?, resolved_by = ?, resolved_at = ?, "
        "comment = ? WHERE id = ? AND resolution IS NULL RETURNING entity_id",
        [resolution, actor, utcnow(), comment, conflict_id]).fetchone()
    if row is None:
        return False
    if row[0] is not None:
        db.execute("UPDATE entities SET open_conflicts = max(open_conflicts - 1, 0) "
                   "WHERE id = ?", [row[0]])
    return True


# Teams ----------------------------------------------------------------------------

def teams_of(db: Database, user_name: str) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT team FROM entity_teams WHERE user_name = ? ORDER BY team", [user_name])]


def set_team(db: Database, team: str, members: list[str]) -> None:
    db.execute("DELETE FROM entity_teams WHERE team = ?", [team])
    db.conn.executemany("INSERT OR IGNORE INTO entity_teams (team, user_name) VALUES (?, ?)",
                        [(team, m) for m in members])


def list_teams(db: Database) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for team, user in db.execute("SELECT team, user_name FROM entity_teams "
                                 "ORDER BY team, user_name"):
        out.setdefault(team, []).append(user)
    return out


# Due schedules --------------------------------------------------------------------

def get_schedule(db: Database, form_id: str) -> dict | None:
    row = db.execute("SELECT schedule FROM due_schedules WHERE form_id = ?",
                     [form_id]).fetchone()
    return json.loads(row[0]) if row else None


def put_schedule(db: Database, form_id: str, schedule: dict, actor: str | None) -> None:
    db.execute(
        "INSERT INTO due_schedules (form_id, schedule, updated_at, updated_by) "
        "VALUES (?, ?, ?, ?) ON CONFLICT(form_id) DO UPDATE SET schedule = excluded.schedule, "
        "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        [form_id, json.dumps(schedule), utcnow(), actor])


ROUND_SEPARATOR = "\x1f"


def rounds_column(db: Database, form_id: str, round_field: str,
                  excluded_reviews: tuple[str, ...]) -> tuple[str, list]:
    """An ``iter_entities`` column: the values of ``round_field``, joined by
    ``ROUND_SEPARATOR``, in the current records of ``form_id`` that created or
    updated the entity or whose change to it waits in a conflict (either way
    the person was interviewed), records a reviewer rejected left out."""
    table = main_table(form_id)
    have = {r[1] for r in db.execute(f"PRAGMA table_info({q(table)})").fetchall()}
    if round_field not in have:
        return "NULL", []
    marks = ",".join("?" * len(excluded_reviews)) or "NULL"
    sql = (f"(SELECT group_concat(r, char(31)) FROM (SELECT DISTINCT a.{q(round_field)} AS r "
           f"FROM submissions s JOIN {q(table)} a ON a.submission_id = s.id WHERE s.id IN ("
           "SELECT submission_id FROM entity_versions WHERE entity_id = e.id "
           "AND submission_id IS NOT NULL UNION SELECT submission_id FROM entity_conflicts "
           "WHERE entity_id = e.id AND submission_id IS NOT NULL) AND s.state = 'current' "
           f"AND s.review_state NOT IN ({marks})))")
    return sql, list(excluded_reviews)

"""Entity lists as the office and the tablets see them: the lists, one entity
with its history, the list file a form reads (``returnees.csv``) and its hash.

A form reads a list through a CSV media file named after it
(``select_one_from_file returnees.csv``, ``csv-external``, ``instance('returnees')``);
the file has ODK's columns ``name`` (the entity's UUID), ``label`` and
``__version``, then the list's properties in the order they were first used,
then, when the form has a due schedule for the list, ``due_round``,
``due_date`` and ``due_status``. It is written row by row while it is sent
(flat memory whatever the list's size).

A tablet receives the part of a list assigned to its user: entities whose
``assignee`` is the user or one of the user's teams, and those assigned to
nobody. Supervisors, admins and analysts receive the whole list. The file's
hash in the OpenRosa manifest is derived from the list's revision (its newest
version row), the part received and, for files with due columns, the schedule
and the day: it changes exactly when the file would, so Collect downloads it
again then and only then.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import date

from sqlite_utils import Database

from forms.entities import NAME_RE
from server.entities import apply
from server.entities.due import COLUMNS as DUE_COLUMNS
from server.entities.due import DueColumns, schedule_for
from server.entities.errors import EntitiesError
from server.store import entities as store

WHOLE_LIST_ROLES = frozenset({"admin", "supervisor", "analyst"})
SYSTEM_COLUMNS = ("name", "label", "__version")
FLUSH_BYTES = 64 * 1024
LIST_FILE_SUFFIX = ".csv"


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name) or name.startswith("__"):
        raise EntitiesError("list_name_invalid", f"'{str(name)[:80]}' is not a list name: use "
                            "letters, digits, '_' and '-', starting with a letter or '_'.")
    return name


def list_get(db: Database, name: str) -> dict:
    lst = store.get_list(db, check_name(name))
    if lst is None:
        raise EntitiesError("list_unknown", f"No entity list '{name}' here; see GET "
                            "/api/v1/entities.", {"list": name})
    return {**lst, "entities": store.count_entities(db, name),
            "open_conflicts": store.count_open_conflicts(db, name)}


def lists_list(db: Database) -> list[dict]:
    return store.list_lists(db)


def list_set(db: Database, name: str, *, key_property: str | None = None,
             actor: str | None = None) -> dict:
    """Create a list, or change its key property ('' removes it). Entities keep
    their keys in step: a new key is read from each entity's properties."""
    check_name(name)
    if key_property and (not NAME_RE.match(key_property) or key_property.startswith("__")
                         or key_property in ("name", "label")):
        raise EntitiesError("property_invalid", f"'{key_property}' is not a property name.")
    with db.atomic():
        apply.ensure_list(db, name, actor)
        if key_property is not None:
            store.set_list(db, name, key_property=key_property)
            store.rekey(db, name, key_property or None, apply.key_norm)
    return list_get(db, name)


def entity_get(db: Database, name: str, entity_id: str) -> dict:
    """One entity, its versions (what changed, from which record or import, by
    whom) and its conflicts."""
    list_get(db, name)
    uuid = apply.entity_uuid(entity_id)
    entity = store.entity_by_uuid(db, name, uuid) if uuid else None
    if entity is None:
        raise EntitiesError("entity_unknown", f"List '{name}' has no entity "
                            f"'{str(entity_id)[:80]}'.", {"list": name, "id": entity_id})
    return {**_public(entity), "versions": store.versions(db, entity["id"]),
            "conflicts": store.list_conflicts(db, name, status="all",
                                              entity_id=entity["id"])}


def _public(entity: dict) -> dict:
    return {"list": entity["list"], "id": entity["uuid"], "label": entity["label"],
            "version": entity["version"], "properties": entity["properties"],
            "assignee": entity["assignee"], "created_at": entity["created_at"],
            "updated_at": entity["updated_at"], "open_conflicts": entity["open_conflicts"]}


def visible_to(db: Database, user: dict | None) -> list[str] | None:
    """The assignees whose entities ``user``'s tablet receives (None: all)."""
    if user is None or user.get("role") in WHOLE_LIST_ROLES:
        return None
    return [user["name"], *store.teams_of(db, user["name"])]


def lists_read_by(db: Database, form_id: str, version: str, referenced: list[str]) -> list[str]:
    """The entity lists a form version reads: each referenced ``NAME.csv`` whose
    NAME is a list here or the list the form itself fills."""
    decl = apply.declaration(db, form_id, version)
    own = decl.dataset if decl else None
    out = []
    for filename in referenced:
        if not filename.endswith(LIST_FILE_SUFFIX):
            continue
        name = filename[:-len(LIST_FILE_SUFFIX)]
        if name == own or (NAME_RE.match(name) and store.get_list(db, name) is not None):
            out.append(name)
    return out


def _due_for(db: Database, form_id: str, name: str) -> dict | None:
    schedule = schedule_for(db, form_id)
    return schedule if schedule and schedule["list"] == name else None


def list_hash(db: Database, form_id: str, name: str, assignees: list[str] | None,
              on: date | None = None) -> str:
    """The list file's manifest hash (md5 hex): the list's revision, the part
    received and, with due columns, the schedule and the day."""
    part = "*" if assignees is None else "\x1f".join(sorted(set(assignees)))
    schedule = _due_for(db, form_id, name)
    due = (f"{(on or date.today()).isoformat()}{json.dumps(schedule, sort_keys=True)}"
           if schedule else "")
    token = f"{name}\x1e{store.revision(db, name)}\x1e{part}\x1e{due}"
    return hashlib.md5(token.encode("utf-8")).hexdigest()


def manifest_files(db: Database, form_id: str, version: str, referenced: list[str],
                   user: dict | None) -> list[dict]:
    """The manifest entries of the lists a form version reads, for ``user``."""
    assignees = visible_to(db, user)
    return [{"name": f"{name}{LIST_FILE_SUFFIX}", "md5": list_hash(db, form_id, name, assignees),
             "entity_list": name} for name in lists_read_by(db, form_id, version, referenced)]


def list_file(db: Database, form_id: str, name: str, user: dict | None,
              on: date | None = None) -> Iterator[bytes]:
    """The list file a form reads, as ``user``'s tablet receives it (streamed)."""
    schedule = _due_for(db, form_id, name)
    due = DueColumns(db, form_id, schedule, on or date.today()) if schedule else None
    return stream_csv(db, name, visible_to(db, user), due=due)


def stream_csv(db: Database, name: str, assignees: list[str] | None, *,
               due: DueColumns | None = None, with_assignee: bool = False) -> Iterator[bytes]:
    """The list as CSV, ``FLUSH_BYTES`` at a time."""
    lst = store.get_list(db, name)
    props = lst["properties"] if lst else []
    extra = list(DUE_COLUMNS) if due else []
    header = [*SYSTEM_COLUMNS, *[p for p in props if p not in extra], *extra]
    if with_assignee:
        header.append("assignee")
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(header)
    if lst is None:
        yield buf.getvalue().encode("utf-8")
        return
    names = header[len(SYSTEM_COLUMNS):len(header) - (1 if with_assignee else 0)]
    for row in store.iter_entities(db, name, assignees, due.column if due else None):
        uuid, label, version, props_json, assignee = row[1:6]
        values = json.loads(props_json)
        if due:
            values.update(due.values(row[6], values))
        row = [uuid, label, version, *[values.get(n, "") for n in names]]
        if with_assignee:
            row.append(assignee or "")
        out.writerow(row)
        if buf.tell() >= FLUSH_BYTES:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def list_export(db: Database, name: str) -> Iterator[bytes]:
    """The whole list with each entity's assignee (what the office exports)."""
    list_get(db, name)
    return stream_csv(db, name, None, with_assignee=True)


def team_set(db: Database, team: str, members: list[str], actor: str | None = None) -> dict:
    """Set who belongs to a team (an assignee name shared by several users)."""
    if not NAME_RE.match(team or ""):
        raise EntitiesError("team_invalid", f"'{str(team)[:80]}' is not a team name: use "
                            "letters, digits, '_' and '-'.")
    members = [m.strip() for m in members if m and m.strip()]
    with db.atomic():
        store.set_team(db, team, members)
    return {"team": team, "members": sorted(set(members))}


def teams_list(db: Database) -> dict[str, list[str]]:
    return store.list_teams(db)


"""Importing a case list from CSV (a case-management system's export), with a
dry run that shows what would change.

The CSV has a header row. Columns:

- ``name`` (optional): the entity's UUID, as in an ODK list file; a row whose
  ``name`` is in the list updates that entity;
- the label column (``label`` unless told otherwise): the entity's label;
- the assignee column (``assignee`` unless told otherwise): the user or team
  whose tablets carry the entity;
- ``__version`` and other columns starting with ``__`` are ignored;
- every other column is a property.

With a key property (``key``, or the list's own), a row without ``name`` whose
key value (a case id; case, spaces and punctuation ignored) an entity holds
updates that entity; otherwise the row creates a new entity with a new UUID.
An empty cell leaves the property as it is. Entities the file does not mention
are left alone. A file with any unusable row imports nothing: the errors name
the row and column.
"""

from __future__ import annotations

import csv
import io
import uuid as uuidlib

from sqlite_utils import Database

from forms.entities import NAME_RE
from server.entities import apply
from server.entities.errors import EntitiesError
from server.entities.lists import check_name
from server.store import entities as store
from server.store.clock import utcnow

MAX_IMPORT_BYTES = 64 * 1024 * 1024
MAX_ERRORS = 50        # errors listed in one answer
MAX_CHANGES = 200      # changes listed in one answer (the counts cover all rows)


def entities_import(db: Database, name: str, data: bytes, *, key: str | None = None,
                    label_column: str = "label", assignee_column: str = "assignee",
                    dry_run: bool = True, actor: str | None = None) -> dict:
    """Import (or, with ``dry_run``, only compare) a CSV into list ``name``.

    Returns ``{"list", "dry_run", "rows", "created", "updated", "unchanged",
    "changes": [{"row", "id", "action", "label", "changes"}], "key"}``; raises
    ``import_invalid`` with ``details.errors = [{"row", "column", "message"}]``."""
    check_name(name)
    if len(data) > MAX_IMPORT_BYTES:
        raise EntitiesError("import_invalid", f"The file is {len(data)} bytes; the limit is "
                            f"{MAX_IMPORT_BYTES}. Split it.", {"errors": []})
    header, rows = _read(data)
    lst = store.get_list(db, name)
    key = key if key is not None else (lst["key_property"] if lst else None)
    plan = _Plan(db, name, header, key or None, label_column, assignee_column)
    plan.compare(rows)
    if plan.errors:
        first = plan.errors[0]
        where = f"row {first['row']}" + (f", column '{first['column']}'" if first["column"]
                                         else "")
        raise EntitiesError(
            "import_invalid", f"{len(plan.errors)} problem(s) in the file, the first at "
            f"{where}: {first['message']}. Nothing was imported; fix the file (every "
            "problem is listed in details) and import again.",
            {"errors": plan.errors[:MAX_ERRORS], "count": len(plan.errors)})
    if not dry_run:
        with db.atomic():
            plan.apply(actor)
    return {"list": name, "dry_run": dry_run, "key": key or None, "rows": len(rows),
            **plan.counts, "changes": plan.listed}


def _read(data: bytes) -> tuple[list[str], list[dict]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EntitiesError("import_invalid", "The file is not UTF-8 text; save the CSV as "
                            "UTF-8.", {"errors": []}) from None
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise EntitiesError("import_invalid", "The file is empty: it needs a header row.",
                            {"errors": []}) from None
    try:
        rows = [dict(zip(header, (v.strip() for v in values))) for values in reader
                if any(v.strip() for v in values)]
    except csv.Error as exc:
        raise EntitiesError("import_invalid", f"The CSV could not be read ({exc}).",
                            {"errors": []}) from None
    return header, rows


class _Plan:
    """The rows compared with the list: what each would do, and the problems."""

    def __init__(self, db, name, header, key, label_column, assignee_column):
        self.db, self.name, self.key = db, name, key
        self.label_column, self.assignee_column = label_column, assignee_column
        self.errors: list[dict] = []
        self.counts = {"created": 0, "updated": 0, "unchanged": 0}
        self.listed: list[dict] = []
        self.writes: list[apply.Write] = []
        self.props = []
        for column in header:
            if column in ("name", label_column, assignee_column) or column.startswith("__"):
                continue
            if not NAME_RE.match(column) or column == "label":
                self.error(1, column, "not a usable property name (letters, digits, '_' and "
                                      "'-', starting with a letter or '_')")
            self.props.append(column)
        if len(set(header)) != len(header):
            self.error(1, None, "a column name appears twice")
        if key and key not in self.props:
            self.error(1, key, f"the key property '{key}' is not a column of the file")

    def error(self, row: int, column: str | None, message: str) -> None:
        self.errors.append({"row": row, "column": column, "message": message})

    def compare(self, rows: list[dict]) -> None:
        if self.errors:
            return
        ids = [apply.entity_uuid(r.get("name")) for r in rows]
        by_uuid = store.entities_by_uuids(self.db, self.name, [i for i in ids if i])
        by_key = store.key_index(self.db, self.name) if self.key else {}
        keyed = store.entities_by_uuids(self.db, self.name, [u for _, u in by_key.values()])
        seen_ids, seen_keys, at = set(), set(), utcnow()
        for n, (row, uuid) in enumerate(zip(rows, ids), start=2):
            if row.get("name") and uuid is None:
                self.error(n, "name", "not a UUID (the 'name' column holds entity ids; put a "
                                      "person's name in another column)")
                continue
            norm = apply.key_norm(row.get(self.key)) if self.key else None
            if (uuid and uuid in seen_ids) or (norm and norm in seen_keys):
                self.error(n, "name" if uuid in seen_ids else self.key,
                           "this entity appears on an earlier row too")
                continue
            if uuid:
                seen_ids.add(uuid)
            if norm:
                seen_keys.add(norm)
            entity = by_uuid.get(uuid) if uuid else (
                keyed.get(by_key[norm][1]) if norm in by_key else None)
            self.row(n, row, uuid, entity, at)

    def row(self, n: int, row: dict, uuid: str | None, entity: dict | None, at: str) -> None:
        props = {p: row[p] for p in self.props if row.get(p)}
        label = row.get(self.label_column) or None
        has_assignee = self.assignee_column in row and bool(row[self.assignee_column])
        assignee = row.get(self.assignee_column) or None
        if entity is None:
            if not label:
                self.error(n, self.label_column, "a new entity needs a label")
                return
            w = apply.Write(list_name=self.name, uuid=uuid or str(uuidlib.uuid4()), label=label,
                            properties=props, source="import", at=at, actor=None,
                            assignee=assignee)
            self.note(n, w.uuid, "create", label, {p: [None, v] for p, v in props.items()})
            self.counts["created"] += 1
            self.writes.append(w)
            return
        changes = {p: [entity["properties"].get(p), v] for p, v in props.items()
                   if entity["properties"].get(p) != v}
        if label and label != entity["label"]:
            changes["label"] = [entity["label"], label]
        if has_assignee and assignee != entity["assignee"]:
            changes["assignee"] = [entity["assignee"], assignee]
        if not changes:
            self.counts["unchanged"] += 1
            return
        self.note(n, entity["uuid"], "update", label or entity["label"], changes)
        self.counts["updated"] += 1
        self.writes.append(apply.Write(
            list_name=self.name, uuid=entity["uuid"], label=label,
            properties={p: v for p, v in props.items() if p in changes}, source="import",
            at=at, entity=entity, base_version=entity["version"], assignee=assignee,
            set_assignee=has_assignee))

    def note(self, n, uuid, action, label, changes) -> None:
        if len(self.listed) < MAX_CHANGES:
            self.listed.append({"row": n, "id": uuid, "action": action, "label": label,
                                "changes": changes})

    def apply(self, actor: str | None) -> None:
        apply.ensure_list(self.db, self.name, actor)
        lst = store.get_list(self.db, self.name)
        if self.key and lst["key_property"] != self.key:
            store.set_list(self.db, self.name, key_property=self.key)
            store.rekey(self.db, self.name, self.key, apply.key_norm)
            lst = store.get_list(self.db, self.name)
        for w in self.writes:
            w.actor = actor
            apply.write(self.db, w, lst)

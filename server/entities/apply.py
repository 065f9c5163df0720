"""Writing entities: from a submission (``apply_record``, called by ingest in the
record's own transaction), and the one way every change lands (``write``),
shared with imports and a reviewer's decisions.

A submission's entity block (``forms.entities``) says create and/or update,
which entity (its UUID), the version the tablet saw (``baseVersion``) and the
label; the properties come from the record's answers to the fields the form
saves (``save_to``). What happens:

- **update**, base version = the entity's current version: applied, version + 1;
- **update** from an older base version (another tablet changed it since), or a
  newer one, or none: a **conflict**, kept whole for review; the entity is not
  touched. An offline chain (``trunkVersion``/``branchId``) continues only on
  versions its own branch made. An edit of a record may change what that same
  record changed before;
- **create**: a new entity, assigned to the user who sent it; an id already in
  the list, or a value of the list's key property (a case id) another entity
  holds, is a conflict instead of a second entity;
- an update of an entity the list does not hold (and no create): a conflict.

Nothing is ever dropped: every change asked for is either a version in the
entity's history (with the record it came from) or a conflict a reviewer
applies or dismisses (server/entities/conflicts.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlite_utils import Database

from forms.entities import EntityDeclaration, is_true, read_declaration
from forms.model import FormModel
from scoring import normalise_key_part, respondent_key_fields
from server.store import entities as store
from server.store import forms as forms_q

UUID_RE = re.compile(r"^(?:uuid:)?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")
ROUND_FIELD = "survey_round"  # the respondent-key part that names the round, not the person
REASONS = ("stale_base", "base_version_unknown", "base_version_missing", "entity_unknown",
           "entity_exists", "key_taken", "entity_id_invalid", "form_version_unknown")
WAITING = "form_version_unknown"  # a block kept until its record's form version is published

_DECLARATIONS: dict[tuple[str, str], EntityDeclaration | None] = {}


def declaration(db: Database, form_id: str, version: str) -> EntityDeclaration | None:
    """The entity declaration of a published form version (read once: versions
    never change)."""
    key = (form_id, version)
    if key not in _DECLARATIONS:
        row = forms_q.get_version(db, form_id, version)
        _DECLARATIONS[key] = read_declaration(row["xform"]) if row else None
    return _DECLARATIONS[key]


def key_norm(value) -> str | None:
    """A key property's value as compared: case, spaces and punctuation ignored."""
    if value is None:
        return None
    norm = normalise_key_part(value)
    return norm or None


def entity_uuid(text: str | None) -> str | None:
    """The UUID an entity id names (``uuid:`` prefix allowed), lower case; else None."""
    found = UUID_RE.match((text or "").strip())
    return found.group(1).lower() if found else None


@dataclass
class Write:
    """One change to land on an entity: a new one (``entity`` None) or a new version."""

    list_name: str
    uuid: str
    label: str | None
    properties: dict[str, str]
    source: str
    at: str
    entity: dict | None = None
    submission_id: int | None = None
    base_version: int | None = None
    branch_id: str | None = None
    actor: str | None = None
    assignee: str | None = None
    set_assignee: bool = False


def write(db: Database, w: Write, lst: dict | None = None) -> tuple[int, int]:
    """Land a change: the entity row, its version in the history (which is the
    list's new revision) and the list's columns. Returns ``(entity id, new
    version)``. ``lst``: the list as read in this transaction, if the caller has it."""
    lst = lst or store.get_list(db, w.list_name)
    key = lst["key_property"]
    if w.entity is None:
        label = w.label or w.properties.get(key or "", "") or w.uuid
        entity_id = store.insert_entity(
            db, list_name=w.list_name, uuid=w.uuid, label=label, properties=w.properties,
            assignee=w.assignee, key_norm=key_norm(w.properties.get(key)) if key else None,
            at=w.at)
        version, changes, props = 1, {p: [None, v] for p, v in w.properties.items()}, w.properties
        changes["label"] = [None, label]
    else:
        old = w.entity["properties"]
        props = {**old, **w.properties}
        label = w.label or w.entity["label"]
        changes = {p: [old.get(p), v] for p, v in w.properties.items() if old.get(p) != v}
        if label != w.entity["label"]:
            changes["label"] = [w.entity["label"], label]
        if w.set_assignee and w.assignee != w.entity["assignee"]:
            changes["assignee"] = [w.entity["assignee"], w.assignee]
        entity_id, version = w.entity["id"], w.entity["version"] + 1
        norm = key_norm(props.get(key)) if key else None
        store.update_entity(db, entity_id, label=label, version=version, properties=props,
                            key_norm=norm, set_key=norm != w.entity["key_norm"], at=w.at,
                            assignee=w.assignee, set_assignee=w.set_assignee)
    store.insert_version(db, list_name=w.list_name, entity_id=entity_id, version=version,
                         label=label,
                         properties=props, changes=changes, source=w.source, at=w.at,
                         submission_id=w.submission_id, base_version=w.base_version,
                         branch_id=w.branch_id, actor=w.actor)
    new_columns = [p for p in w.properties if p not in lst["properties"]]
    if new_columns:
        lst["properties"] = lst["properties"] + new_columns
        store.set_list(db, w.list_name, properties=lst["properties"])
    return entity_id, version


def ensure_list(db: Database, name: str, actor: str | None,
                model: FormModel | None = None, decl: EntityDeclaration | None = None) -> dict:
    """The list, created on first use. A list a form creates takes as its key
    the property saved from the person part of the form's respondent key (the
    RSS: ``case_id``), so one person is never two entities."""
    lst = store.get_list(db, name)
    if lst is None:
        store.ensure_list(db, name, actor)
        key = _derived_key(model, decl) if model is not None and decl is not None else None
        store.set_list(db, name, properties=list(decl.properties) if decl else [],
                       key_property=key)
        lst = store.get_list(db, name)
    return lst


def _derived_key(model: FormModel, decl: EntityDeclaration) -> str | None:
    person = [p for p in respondent_key_fields(model) if p.rsplit("/", 1)[-1] != ROUND_FIELD]
    saved = {path: prop for prop, path in decl.properties.items()}
    return saved.get(person[0]) if len(person) == 1 else None


def apply_record(db: Database, model: FormModel, row: dict, block: dict,
                 user: str | None) -> dict | None:
    """Create or update the entity a stored record's entity block asks for.

    Runs inside the record's transaction, after its row is inserted; returns
    ``{"list", "id", "action", "outcome", "version"}`` (outcome ``created``,
    ``updated`` or ``conflict`` with its ``reason``), or None when the record
    asks nothing of an entity."""
    decl = declaration(db, row["form_id"], row["form_version"])
    create, update = is_true(block.get("create")), is_true(block.get("update"))
    if decl is None or not (create or update):
        return None
    uuid = entity_uuid(block.get("id"))
    lst, entity = store.list_and_entity(db, decl.dataset, uuid or "")
    if lst is None:
        lst = ensure_list(db, decl.dataset, user, model, decl)
    props = _properties(decl, row["data"])
    ask = _Ask(db, lst, row, block, props, row["received_at"], user,
               "update" if update else "create")
    if uuid is None:
        return ask.conflict(block.get("id") or "", None, "entity_id_invalid")
    ask.uuid = uuid
    if entity is not None and (update or _made_by(db, entity, row, 1)):
        return ask.update(entity)
    if entity is not None:
        return ask.conflict(uuid, entity, "entity_exists")
    if not create:
        return ask.conflict(uuid, None, "entity_unknown")
    ask.action = "create"
    return ask.create()


def _properties(decl: EntityDeclaration, data: dict) -> dict[str, str]:
    """The record's values of the saved fields; a field the record leaves out
    (not sent at all) does not change the property, an empty answer clears it."""
    out = {}
    for prop, path in decl.properties.items():
        node, present = data, True
        for part in path.split("/"):
            if not isinstance(node, dict) or part not in node:
                present = False
                break
            node = node[part]
        if present and not isinstance(node, (dict, list)):
            out[prop] = "" if node is None else str(node)
    return out


def _made_by(db: Database, entity: dict, row: dict, after: int) -> bool:
    """Whether every version of ``entity`` from ``after`` on was made by an earlier
    version of the same logical record (so its edit may change them again)."""
    if not row.get("deprecated_id"):
        return False
    logicals = store.version_logicals(db, entity["id"], after)
    return bool(logicals) and all(lid == row["logical_id"] for lid in logicals)


class _Ask:
    """What one record asks of one entity, and the answer written for it."""

    def __init__(self, db, lst, row, block, props, at, user, action):
        self.db, self.lst, self.row, self.block = db, lst, row, block
        self.props, self.at, self.user, self.action = props, at, user, action
        self.uuid = ""

    def outcome(self, outcome: str, version: int | None, **extra) -> dict:
        return {"list": self.lst["name"], "id": self.uuid, "action": self.action,
                "outcome": outcome, "version": version, **extra}

    def write(self, entity: dict | None, base: int | None = None) -> dict:
        w = Write(list_name=self.lst["name"], uuid=self.uuid, label=self.block.get("label"),
                  properties=self.props, source="submission", at=self.at, entity=entity,
                  submission_id=self.row["id"], base_version=base,
                  branch_id=self.block.get("branchId") or None, actor=self.user,
                  assignee=self.user if entity is None else None)
        _, version = write(self.db, w, self.lst)
        return self.outcome("created" if entity is None else "updated", version)

    def create(self) -> dict:
        key = self.lst["key_property"]
        norm = key_norm(self.props.get(key)) if key else None
        if norm is not None:
            holder = store.entity_by_key(self.db, self.lst["name"], norm)
            if holder is not None:
                return self.conflict(self.uuid, holder, "key_taken")
        return self.write(None)

    def update(self, entity: dict) -> dict:
        base = _int(self.block.get("baseVersion"))
        current = entity["version"]
        if base is None:
            if self.action == "create":  # an edit re-sending its own create
                return self.write(entity, current)
            return self.conflict(self.uuid, entity, "base_version_missing")
        if base > current:
            return self.conflict(self.uuid, entity, "base_version_unknown", base)
        if base < current and not _made_by(self.db, entity, self.row, base + 1):
            return self.conflict(self.uuid, entity, "stale_base", base)
        trunk, branch = _int(self.block.get("trunkVersion")), self.block.get("branchId")
        if trunk is not None and base > trunk and branch:
            exists, made_by = store.version_branch(self.db, entity["id"], base)
            if not exists or made_by != branch:
                return self.conflict(self.uuid, entity, "stale_base", base)
        return self.write(entity, base)

    def conflict(self, uuid: str, entity: dict | None, reason: str,
                 base: int | None = None) -> dict:
        proposed = {"action": self.action, "label": self.block.get("label") or None,
                    "properties": self.props, "block": self.block}
        conflict_id = store.insert_conflict(
            self.db, list_name=self.lst["name"], entity_uuid=uuid,
            entity_id=entity["id"] if entity else None, submission_id=self.row["id"],
            reason=reason, base_version=base if base is not None else _int(
                self.block.get("baseVersion")),
            current_version=entity["version"] if entity else None, proposed=proposed,
            at=self.at)
        return self.outcome("conflict", entity["version"] if entity else None,
                            reason=reason, conflict_id=conflict_id)


def _int(text) -> int | None:
    text = str(text).strip() if text is not None else ""
    return int(text) if text.isdigit() else None



def keep_waiting(db: Database, row: dict, block: dict) -> None:
    """Keep the entity block of a record whose form version is not published yet
    (the record waits in quarantine): without the form, what it saves is
    unknown. ``apply_waiting`` applies it when the version arrives."""
    store.insert_conflict(
        db, list_name=str(block.get("dataset") or ""), entity_uuid=str(block.get("id") or ""),
        entity_id=None, submission_id=row["id"], reason=WAITING,
        base_version=_int(block.get("baseVersion")), current_version=None,
        proposed={"action": "update" if is_true(block.get("update")) else "create",
                  "label": block.get("label") or None, "properties": {}, "block": block},
        at=row["received_at"])


def apply_waiting(db: Database, row: dict, model: FormModel) -> None:
    """Apply the kept blocks of a record released from quarantine (its form
    version was just published), as if it had just arrived."""
    for waiting in store.waiting_blocks(db, row["id"], WAITING):
        store.resolve_conflict(db, waiting["id"], "applied", "fieldsync",
                               "form version published")
        apply_record(db, model, row, waiting["proposed"]["block"], row["submitted_by"])

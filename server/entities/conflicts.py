"""Entity conflicts kept for review: list them, apply or dismiss them.

A conflict holds a change a submission asked for that was not applied (see
server/entities/apply.py for when): the proposed label and properties, the
version the tablet saw and the version the entity had. A reviewer either
**applies** it (the proposed values, or the ones the reviewer gives, become a
new version of the entity, with the record they came from and the reviewer's
name in the history) or **dismisses** it (the entity stays as it is; the
record stays stored). Either way the conflict is closed, once.
"""

from __future__ import annotations

import uuid as uuidlib

from sqlite_utils import Database

from server.entities import apply
from server.entities.errors import EntitiesError
from server.errors import FieldsyncError
from server.store import entities as store
from server.store.clock import utcnow

ACTIONS = ("apply", "dismiss")
STATUSES = ("open", "resolved", "all")


def conflicts_list(db: Database, list_name: str | None = None, status: str = "open",
                   limit: int = 100, after: int = 0) -> dict:
    if status not in STATUSES:
        raise FieldsyncError("bad_request", f"status is one of {', '.join(STATUSES)}.")
    items = store.list_conflicts(db, list_name, status, limit=min(max(limit, 1), 1000),
                                 after=after)
    return {"conflicts": items, "next": items[-1]["id"] if len(items) >= limit else None}


def conflict_get(db: Database, conflict_id: int) -> dict:
    conflict = store.get_conflict(db, conflict_id)
    if conflict is None:
        raise EntitiesError("entity_conflict_unknown", f"No entity conflict {conflict_id}; "
                            "see GET /api/v1/entities/conflicts.", {"id": conflict_id})
    entity = store.entity_by_id(db, conflict["entity_id"]) if conflict["entity_id"] else None
    return {**conflict, "entity": entity and {"id": entity["uuid"], "label": entity["label"],
                                              "version": entity["version"],
                                              "properties": entity["properties"]}}


def conflict_resolve(db: Database, conflict_id: int, action: str, *,
                     comment: str | None = None, properties: dict | None = None,
                     actor: str | None = None) -> dict:
    """Apply or dismiss an open conflict; ``properties`` (apply only) replaces the
    proposed values. Returns the conflict as closed, with the entity's new version."""
    if action not in ACTIONS:
        raise FieldsyncError("bad_request", f"action is one of {', '.join(ACTIONS)}.")
    if properties is not None and (not isinstance(properties, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in properties.items())):
        raise FieldsyncError("bad_request", "properties is an object of texts.")
    with db.atomic():
        conflict = conflict_get(db, conflict_id)
        if conflict["resolution"] is not None:
            raise EntitiesError(
                "entity_conflict_resolved", f"Conflict {conflict_id} was already "
                f"{conflict['resolution']} by {conflict['resolved_by'] or 'someone'}; "
                "nothing changed.", {"resolution": conflict["resolution"],
                                     "resolved_by": conflict["resolved_by"]})
        if action == "apply" and conflict["reason"] == apply.WAITING:
            raise FieldsyncError(
                "bad_request", f"Conflict {conflict_id} waits for its record's form version: "
                "it is applied when that version is published; dismiss it to drop it.")
        version = None
        if action == "apply":
            version = _apply(db, conflict, properties, actor)
        store.resolve_conflict(db, conflict_id, "applied" if action == "apply"
                               else "dismissed", actor, comment)
    return {**conflict_get(db, conflict_id), "applied_version": version}


def _apply(db: Database, conflict: dict, properties: dict | None,
           actor: str | None) -> int:
    proposed = conflict["proposed"]
    lst = store.get_list(db, conflict["list"])
    entity = (store.entity_by_id(db, conflict["entity_id"]) if conflict["entity_id"]
              else store.entity_by_uuid(db, conflict["list"], conflict["entity_uuid"]))
    uuid = entity["uuid"] if entity else (apply.entity_uuid(conflict["entity_uuid"])
                                          or str(uuidlib.uuid4()))
    w = apply.Write(list_name=conflict["list"], uuid=uuid, label=proposed.get("label"),
                    properties=properties if properties is not None else proposed["properties"],
                    source="review", at=utcnow(), entity=entity,
                    submission_id=conflict["submission_id"],
                    base_version=entity["version"] if entity else None, actor=actor,
                    assignee=conflict.get("submitted_by") if entity is None else None)
    _, version = apply.write(db, w, lst)
    return version

"""Submissions through Central's REST API: create from XML, review, attachments.

- ``submission_create``: the raw instance XML of ``POST .../submissions`` is read
  as the OpenRosa door reads it (``server.openrosa.submission``) and stored by
  the one ingest pipeline (door ``central``): validated, scored, checked for
  duplicates, flagged, never dropped. Sending the same XML again answers the
  same record; a different instance under a stored instanceID is kept and
  flagged too, and answered 409 (Central's answer to a clashing instanceID).
- ``submission_review``: Central's review states through the supervisor's review
  API (``server.review.actions.review_set``), so the review history and the
  audit log record the change.
- ``attachment_put``: the bytes of a file the record names, kept content-
  addressed and linked to the record in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

from sqlite_utils import Database

from forms.errors import FormsError
from server.central.errors import CentralError
from server.errors import FieldsyncError
from server.ingest.pipeline import ingest
from server.openrosa import submission as openrosa_submission
from server.openrosa.errors import OpenRosaError
from server.review.actions import review_comment, review_set
from server.store import central as central_q
from server.store import reviews as reviews_q
from server.store import submissions as subs_q
from server.store import users as users_q
from server.store.db import write_transaction

# Central's review state -> fieldsync's
REVIEW_STATES = {"hasIssues": "has_issues", "approved": "approved", "rejected": "rejected",
                 "received": "received", None: "received"}


def submission_create(db: Database, form_id: str, xml: bytes, *, user: str,
                      device_id: str | None = None) -> dict:
    """Store one instance; returns Central's Submission of the stored record."""
    record = _record_of(db, form_id, xml)
    [result] = ingest(db, [record], door="central", user=user, device_id=device_id)
    if result["status"] == "conflict":
        raise CentralError(
            "submission_conflict", f"A different submission with instanceID "
            f"{record['instance_id']} was received before. Both are kept and flagged for a "
            "supervisor; to change a sent record, send an edit carrying a deprecatedID.",
            {"instance_id": record["instance_id"]})
    row_id = central_q.listed_row_id(db, form_id, record["instance_id"])
    return json.loads(central_q.submission_json(db, row_id))


def submission_edit(db: Database, form_id: str, instance_id: str, xml: bytes, *,
                    user: str) -> dict:
    """Central's ``PUT .../submissions/{instanceId}``: a new version of the record,
    through the one ingest. Its XML carries a new instanceID and, as deprecatedID,
    the instanceID of the version it replaces (the current one); returns the
    record as it now is."""
    current = subs_q.by_id(db, _row_id(db, form_id, instance_id))
    record = _record_of(db, form_id, xml)
    if record.get("deprecated_id") != current["instance_id"]:
        raise CentralError(
            "submission_edit_stale", "An edit's XML names the version it replaces: set "
            f"meta/deprecatedID to {current['instance_id']} (the current version) and "
            "meta/instanceID to a new uuid.",
            {"current_instance_id": current["instance_id"],
             "deprecated_id": record.get("deprecated_id")})
    [result] = ingest(db, [record], door="central", user=user)
    if result["status"] == "conflict":
        raise CentralError(
            "submission_conflict", "The edit was kept for a supervisor, not applied: "
            "another edit came first, or its instanceID was used before. Fetch the record "
            "again and edit its current version.", {"instance_id": record["instance_id"]})
    return submission_get(db, form_id, instance_id)


def _record_of(db: Database, form_id: str, xml: bytes) -> dict:
    """The record a Central client's XML instance of ``form_id`` holds."""
    if not xml or not xml.strip():
        raise CentralError("submission_xml_invalid", "Send the submission's XML instance "
                           "as the request body (Content-Type: application/xml).")
    upload = openrosa_submission.Upload(xml=xml)
    try:
        record = openrosa_submission.to_record(db, upload, [])
    except (FormsError, OpenRosaError) as exc:
        raise CentralError("submission_xml_invalid", f"The body is not a submission "
                           f"instance: {exc.message}") from None
    if record["form_id"] != form_id:
        raise CentralError("submission_form_mismatch", f"The submission's form id "
                           f"'{record['form_id']}' is not '{form_id}'; post it to "
                           f"/v1/projects/1/forms/{record['form_id']}/submissions.")
    return record


def submissions_listing(db: Database, form_id: str, *, extended: bool
                        ) -> Iterator[bytes]:
    """Every submission of the form as Central's JSON array, in chunks read in one
    snapshot."""
    db.execute("BEGIN")
    try:
        cursor = central_q.submissions_json(db, form_id, extended=extended)
        yield b"["
        first = True
        while batch := cursor.fetchmany(1000):
            yield (b"" if first else b",") + ",".join(r[0] for r in batch).encode()
            first = False
        yield b"]"
    finally:
        db.execute("COMMIT")


def submission_get(db: Database, form_id: str, instance_id: str, *,
                   extended: bool = False) -> dict:
    return json.loads(central_q.submission_json(db, _row_id(db, form_id, instance_id),
                                                extended=extended))


def submission_review(db: Database, form_id: str, instance_id: str, state, *,
                      actor: str | None) -> dict:
    """Set Central's ``reviewState`` (hasIssues, approved, rejected; received resets)."""
    if not isinstance(state, (str, type(None))) or state not in REVIEW_STATES:
        raise CentralError("review_state_invalid", "reviewState must be one of hasIssues, "
                           "approved, rejected (or received to reset it).",
                           {"reviewState": state if isinstance(state, str) else None})
    row = subs_q.by_id(db, _row_id(db, form_id, instance_id))
    review_set(db, row["instance_id"], REVIEW_STATES[state], actor=actor)
    return submission_get(db, form_id, instance_id)


def comments_of(db: Database, form_id: str, instance_id: str) -> list[dict]:
    """The record's comments as Central lists them (review notes made here too)."""
    rows = reviews_q.comments_of(db, _row_id(db, form_id, instance_id))
    return [_comment(db, r) for r in rows]


def comment_add(db: Database, form_id: str, instance_id: str, body, *,
                actor: str | None) -> dict:
    """Central's ``POST .../comments`` ``{"body"}``: a comment in the review history."""
    row = subs_q.by_id(db, _row_id(db, form_id, instance_id))
    made = review_comment(db, row["instance_id"], body, actor=actor)
    return _comment(db, made)


def _comment(db: Database, r: dict) -> dict:
    user = users_q.get_user(db, r["actor"]) if r["actor"] else None
    return {"body": r["comment"], "actorId": user["id"] if user else 0, "createdAt": r["at"]}


def attachments_of(db: Database, form_id: str, instance_id: str) -> list[dict]:
    return subs_q.attachments(db, _row_id(db, form_id, instance_id))


def attachment_get(db: Database, form_id: str, instance_id: str, name: str
                   ) -> tuple[bytes, str]:
    """(bytes, sha256) of a file the record names and the server holds."""
    listed = {a["name"]: a for a in attachments_of(db, form_id, instance_id)}
    att = listed.get(name)
    data = subs_q.get_blob(db, att["sha256"]) if att and att["sha256"] else None
    if data is None:
        raise FieldsyncError("attachment_unknown", f"Submission '{instance_id}' has no file "
                             f"'{name}' here" + (" yet." if att else "."),
                             {"name": name, "instance_id": instance_id})
    return data, att["sha256"]


def attachment_put(db: Database, form_id: str, instance_id: str, name: str,
                   data: bytes) -> dict:
    """Keep the bytes of a file the record names (again: a no-op)."""
    row_id = _row_id(db, form_id, instance_id)
    if name not in {a["name"] for a in subs_q.attachments(db, row_id)}:
        raise CentralError("attachment_not_expected", f"Submission '{instance_id}' names no "
                           f"file '{name}'; its XML must refer to the file first.",
                           {"name": name})
    sha256 = hashlib.sha256(data).hexdigest()
    with write_transaction(db):
        subs_q.put_blob(db, sha256, data)
        subs_q.link_attachment(db, row_id, name, sha256, len(data))
    return {"success": True}


def _row_id(db: Database, form_id: str, instance_id: str) -> int:
    row_id = central_q.listed_row_id(db, form_id, instance_id)
    if row_id is None:
        raise FieldsyncError("submission_unknown", f"No submission '{instance_id}' of form "
                             f"'{form_id}' is held here.", {"instance_id": instance_id})
    return row_id

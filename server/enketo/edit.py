"""A supervisor edits a record in Enketo.

fieldsync sends Enketo (POST /instance) the current version of the record: the
instance as received (OpenRosa's XML), or rebuilt from the stored data for a
record that came as JSON, and for each of its files a signed URL Enketo's
media proxy can fetch it from (server/enketo/media.py). Enketo answers an edit
URL, where fieldsync sends the supervisor. When the supervisor submits, Enketo
posts the edited instance to fieldsync's OpenRosa ``/submission`` with the
supervisor's credentials and ``meta/deprecatedID`` set to the version edited,
without the files left unchanged: it goes through the one ingest pipeline and
becomes the record's next version, keeping those files
(server/ingest/attachments.py).

Enketo loads the form's current version: a record of an older version comes
back as a record of the current one. Only an open form's records are edited
here (Enketo would activate a deactivated survey to load the edit).
"""

from __future__ import annotations

from sqlite_utils import Database

from forms.instance import record_to_instance
from server.enketo import media
from server.enketo.client import EnketoClient
from server.enketo.errors import EnketoError
from server.enketo.settings import Settings
from server.registry import publish as registry
from server.registry.models import model_for
from server.review.record import submission_get
from server.store import audit
from server.store import enketo as enketo_q
from server.store import submissions as subs_q
from server.store.db import write_transaction


def enketo_edit(db: Database, client: EnketoClient, settings: Settings, instance_id: str,
                return_url: str | None = None, actor: str | None = None,
                now: float | None = None) -> dict:
    """An Enketo edit URL for the record ``instance_id`` belongs to:
    ``{instance_id, logical_id, edit_url, files_until}``."""
    settings.require()
    got = submission_get(db, instance_id)  # submission_unknown when not held
    current = subs_q.current_of_logical(db, got["logical_id"])
    if current is None:
        raise EnketoError("enketo_record_not_current", f"Record {instance_id} has no current "
                          "version to edit (it is quarantined or in conflict); resolve it "
                          "first.", {"instance_id": instance_id})
    state = registry.form_get(db, current["form_id"])["state"]
    if state != "open":
        raise EnketoError("enketo_form_not_open", f"Form '{current['form_id']}' is {state}: "
                          "its web forms are switched off. Set it open to edit in Enketo.",
                          {"form_id": current["form_id"], "state": state})
    expires = int((media.clock() if now is None else now) + media.MEDIA_URL_SECONDS)
    key = media.media_key(db)
    files = {a["name"]: media.media_url(settings.server_url, key, current["instance_id"],
                                        a["name"], expires)
             for a in subs_q.attachments(db, current["id"]) if a["received"]}
    edit_url = client.edit(settings.server_url, current["form_id"], instance_xml(db, current),
                           current["instance_id"], files, return_url)
    with write_transaction(db):
        audit.record(db, actor, "enketo.edit", current["instance_id"],
                     {"files": sorted(files)})
    return {"instance_id": current["instance_id"], "logical_id": current["logical_id"],
            "edit_url": edit_url, "files_until": expires}


def instance_xml(db: Database, row: dict) -> str:
    """The version's instance XML: as received, else rebuilt from its data."""
    raw, raw_format = enketo_q.raw_instance(db, row["id"])
    if raw_format == "xml" and raw:
        return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    model = model_for(db, row["form_id"], row["form_version"])
    record = {"instance_id": row["instance_id"], "form_id": row["form_id"],
              "form_version": row["form_version"], "data": row["data"]}
    return record_to_instance(record, model).decode("utf-8")

"""One OpenRosa submission POST -> one record through ``server.ingest``.

Collect sends the instance as the multipart part ``xml_submission_file`` and
each photo, recording or file as a part named by its file name. A record too
big for one request arrives over several POSTs with the same XML and some of
the media each; the ingest pipeline answers ``duplicate`` for the later ones
and links their attachments by name, so the parts complete the one record.
"""

from __future__ import annotations

import hashlib
import mimetypes
import uuid
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from sqlite_utils import Database

from forms.instance import instance_to_record, parse_instance
from server.formcache import model_for
from server.openrosa.errors import OpenRosaError
from server.store import submissions as subs_q
from sync.protocol import INSTANCE_ID_RE

XML_PART = "xml_submission_file"
SKIP_PARTS = {"*isIncomplete*"}


@dataclass
class Upload:
    """What one POST carried: the instance bytes and its media parts."""

    xml: bytes
    media: list[tuple[str, str, bytes]] = field(default_factory=list)  # name, type, bytes


@dataclass
class Outcome:
    """How to answer: HTTP status, the message Collect shows, the ingest result."""

    status: int
    message: str
    result: dict


def read_upload(files, form) -> Upload:
    """Take the instance and the media out of the parsed multipart body."""
    xml_part = files.get(XML_PART)
    if xml_part is not None:
        xml = xml_part.read()
    elif form.get(XML_PART):
        xml = form[XML_PART].encode("utf-8")
    else:
        raise OpenRosaError(
            "submission_missing",
            f"Send the instance as a multipart/form-data part named '{XML_PART}'.",
        )
    media = []
    for part_name, storage in files.items(multi=True):
        if part_name == XML_PART or part_name in SKIP_PARTS:
            continue
        name = attachment_name(storage.filename or part_name)
        content_type = storage.mimetype or mimetypes.guess_type(name)[0] or (
            "application/octet-stream")
        media.append((name, content_type, storage.read()))
    return Upload(xml=xml, media=media)


def attachment_name(raw: str) -> str:
    """The file name a device gave, without any directory part."""
    return PurePosixPath((raw or "").replace("\\", "/")).name or "attachment"


def store_media(db: Database, upload: Upload) -> list[tuple[str, str, int, str]]:
    """Keep each media part as a content-addressed blob; (name, sha256, size, type)."""
    out = []
    for name, content_type, data in upload.media:
        sha = hashlib.sha256(data).hexdigest()
        subs_q.put_blob(db, sha, data)
        out.append((name, sha, len(data), content_type))
    return out


def to_record(db: Database, upload: Upload, blobs: list[tuple[str, str, int, str]]) -> dict:
    """The ingest record of an upload; ``blobs`` are (name, sha256, size, type)."""
    root = parse_instance(upload.xml)
    form_id, version = root.get("id"), root.get("version")
    if not form_id:
        raise OpenRosaError(
            "submission_form_unknown",
            "The instance's root element has no 'id' attribute naming its form; send the "
            "instance as the form produced it.",
        )
    model = model_for(db, form_id, version or "")
    converted = instance_to_record(root, model)
    instance_id = converted["instance_id"] or _derived_id(upload.xml)
    for key, value in (("instanceID", instance_id),
                       ("deprecatedID", converted["deprecated_id"])):
        if value is not None and not INSTANCE_ID_RE.match(value):
            raise OpenRosaError(
                "instance_id_invalid",
                f"meta/{key} '{value[:80]}' must look like 'uuid:' followed by the UUID.",
            )
    return {
        "instance_id": instance_id,
        "form_id": form_id,
        "form_version": version or "",
        "deprecated_id": converted["deprecated_id"],
        "instance_name": converted["instance_name"],
        "data": converted["data"],
        "attachments": [
            {"name": name, "sha256": sha, "size": size, "content_type": ctype}
            for name, sha, size, ctype in blobs
        ],
        "raw_xml": upload.xml,
    }


def outcome(result: dict, media_count: int) -> Outcome:
    """Turn an ingest result into the OpenRosa answer."""
    iid, status = result["instance_id"], result["status"]
    missing = result.get("missing_attachments") or []
    waiting = (f" Still expected: {', '.join(missing)}." if missing
               else " All attachments are here.")
    if status == "conflict":
        why = ("it edits a version that is no longer the current one"
               if "edit_conflict" in result.get("flags", [])
               else f"a different submission with instanceID {iid} was received before")
        raise OpenRosaError(
            "submission_conflict",
            f"Not accepted as sent: {why}. Both are kept and flagged for a supervisor; to "
            "change a sent record, edit it on the device so it carries a deprecatedID.",
            {"instance_id": iid, "seq": result.get("seq")},
        )
    if status == "duplicate":
        if media_count:
            return Outcome(201, f"Already received {iid}; attachments added.{waiting}", result)
        return Outcome(202, f"Already received {iid}; nothing new was stored.{waiting}",
                       result)
    verb = "Edit received" if status == "updated" else "Received"
    note = " It is flagged for review." if status == "flagged" else ""
    return Outcome(201, f"{verb}: {iid}.{note}{waiting}", result)


def _derived_id(xml: bytes) -> str:
    """An instance without meta/instanceID gets a stable id from its bytes, so a
    resend is still recognised as the same record."""
    return f"uuid:{uuid.UUID(bytes=hashlib.sha256(xml).digest()[:16])}"

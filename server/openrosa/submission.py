"""One OpenRosa submission POST -> one record through ``server.ingest.pipeline``.

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
from typing import BinaryIO

import multipart
from sqlite_utils import Database
from werkzeug.exceptions import RequestEntityTooLarge

from forms.instance import instance_to_record, parse_instance
from server.registry.models import model_for
from server.openrosa.errors import OpenRosaError
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


def read_upload(body: BinaryIO, content_type: str | None, content_length: int | None,
                limit: int) -> Upload:
    """Read the instance and the media out of a multipart/form-data body.

    Parsed with the ``multipart`` library (the parser behind Bottle): werkzeug's
    parser compiles two regular expressions per request from the boundary, which
    cost more than the rest of reading a typical Collect submission.
    """
    mime, options = multipart.parse_options_header(content_type or "")
    if mime != "multipart/form-data" or not options.get("boundary"):
        raise OpenRosaError(
            "submission_missing",
            f"Send the instance as a multipart/form-data part named '{XML_PART}'.",
        )
    parser = multipart.MultipartParser(
        body, options["boundary"], content_length=content_length or -1,
        memory_limit=limit, disk_limit=limit, spool_limit=limit, part_limit=1000,
    )
    xml, media = None, []
    try:
        for part in parser:
            if part.name == XML_PART and xml is None:
                xml = part.raw
            elif part.name not in SKIP_PARTS:
                name = attachment_name(part.filename or part.name)
                ctype = (part.content_type if part.filename else None) or (
                    mimetypes.guess_type(name)[0] or "application/octet-stream")
                media.append((name, ctype, part.raw))
            part.close()
    except multipart.ParserLimitReached:
        raise RequestEntityTooLarge() from None
    except multipart.MultipartError as exc:
        raise OpenRosaError(
            "submission_missing", f"The multipart body could not be read ({exc}); send "
            f"the instance as a multipart/form-data part named '{XML_PART}'.",
        ) from None
    if xml is None:
        raise OpenRosaError(
            "submission_missing",
            f"Send the instance as a multipart/form-data part named '{XML_PART}'.",
        )
    return Upload(xml=xml, media=media)


def attachment_name(raw: str) -> str:
    """The file name a device gave, without any directory part."""
    return PurePosixPath((raw or "").replace("\\", "/")).name or "attachment"


def media_blobs(upload: Upload) -> tuple[list[tuple[str, str, int, str]], dict[str, bytes]]:
    """Each media part's (name, sha256, size, type), and its bytes by sha256 for
    ingest to keep content-addressed in the record's own transaction."""
    listed, blobs = [], {}
    for name, content_type, data in upload.media:
        sha = hashlib.sha256(data).hexdigest()
        blobs[sha] = data
        listed.append((name, sha, len(data), content_type))
    return listed, blobs


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
        "entity": converted.get("entity"),
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
        flags = result.get("flags", [])
        why = ("it edits a record this account may not change (only its author or a "
               "supervisor may)" if "edit_unauthorized" in flags
               else "it edits a version that is no longer the current one"
               if "edit_conflict" in flags
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

"""JSON sync API: push batches, upload attachments, read the changes feed."""

from __future__ import annotations

import hashlib
import json
import re
import zlib

from flask import Blueprint, Response, current_app, g, request

from server.accounts.auth import actor, requires
from server.errors import FieldsyncError
from server.http.params import body_bytes, int_arg
from server.ingest.pipeline import change_record, ingest
from server.review.record import submission_get
from server.store import submissions as subs_q
from sync.protocol import MAX_DEPTH, json_problem, load_batch

bp = Blueprint("sync", __name__, url_prefix="/api/v1")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
MAX_INFLATED = 64 * 1024 * 1024
MAX_CHANGES = 1000


@bp.post("/sync/push")
@requires("sync.push")
def push():
    batch, records = load_batch(_json_body())
    results = ingest(
        g.db, records, door="forward" if g.user["role"] == "peer" else "sync",
        user=actor(), device_id=batch["device_id"], batch_id=batch["batch_id"],
        office=current_app.config["OFFICE"],
    )
    return {"batch_id": batch["batch_id"], "results": results}


@bp.put("/attachments/<sha256>")
@requires("sync.push")
def put_attachment(sha256):
    if not SHA256_RE.match(sha256):
        raise FieldsyncError("bad_request", "The attachment address must be the lowercase "
                             "hex sha256 of its bytes.")
    body = body_bytes()
    actual = hashlib.sha256(body).hexdigest()
    if actual != sha256:
        raise FieldsyncError(
            "attachment_hash_mismatch",
            "The body's sha256 differs from the address; the upload was cut or changed. "
            "Send it again.", {"expected": sha256, "actual": actual, "size": len(body)},
        )
    with g.db.atomic():
        created = subs_q.put_blob(g.db, sha256, body)
    return {"sha256": sha256, "size": len(body)}, 201 if created else 200


@bp.get("/attachments/<sha256>")
@requires("submissions.read")
def get_attachment(sha256):
    data = subs_q.get_blob(g.db, sha256) if SHA256_RE.match(sha256) else None
    if data is None:
        raise FieldsyncError("attachment_unknown", f"No attachment {sha256} is held here.")
    return Response(data, mimetype="application/octet-stream")


@bp.get("/changes")
@requires("submissions.read")
def changes():
    since = int_arg("since", 0)
    limit = int_arg("limit", 100, MAX_CHANGES)
    rows = subs_q.changes(g.db, since, limit, request.args.get("form_id"))
    return {
        "changes": [change_record(r) for r in rows],
        "next": rows[-1]["seq"] if rows else since,
    }


@bp.get("/submissions/<path:instance_id>")
@requires("submissions.read")
def get_submission(instance_id):
    return submission_get(g.db, instance_id)


@bp.get("/quarantine")
@requires("submissions.review")
def quarantine():
    rows = subs_q.quarantined(g.db, request.args.get("form_id"))
    return {"submissions": [change_record(r) for r in rows]}


def _json_body():
    raw = body_bytes()
    encoding = request.headers.get("Content-Encoding", "identity").lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, MAX_INFLATED)
        except zlib.error:
            raise FieldsyncError("bad_request", "The gzip body is corrupt; send it again.") \
                from None
        if inflater.unconsumed_tail:
            raise FieldsyncError("body_too_large", f"The body inflates to more than "
                                 f"{MAX_INFLATED} bytes; send smaller batches.")
    elif encoding not in ("identity", ""):
        raise FieldsyncError("encoding_unsupported", "Send the body plain or gzip-encoded.")
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise FieldsyncError("json_invalid", "The body is not valid JSON; send a JSON object "
                             "with device_id, batch_id and submissions.") from None
    except RecursionError:
        raise FieldsyncError("json_invalid", "The body's JSON nests too deeply; send the "
                             "records' groups and repeats as they are.") from None
    if _SURROGATE_ESCAPE.search(raw):  # rare: only then is a full walk needed
        problem = json_problem(payload, max_depth=MAX_DEPTH + 4)
        if problem:
            raise FieldsyncError("json_invalid", f"The body's JSON cannot be stored: "
                                 f"{problem}. Send text as UTF-8 (or paired escapes).",
                                 {"problem": problem})
    return payload

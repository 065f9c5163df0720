"""Signed, short-lived attachment URLs for Enketo's media proxy.

To edit a record, Enketo shows its photos and files; its server fetches them
from the URLs fieldsync handed it with the instance (``instance_attachments``),
forwarding only the browser's cookies, so a fieldsync sign-in cannot ride
along. Each URL therefore carries its own proof: an expiry and an HMAC of the
record's instanceID and that expiry, under a subkey of the server key
(``keys.derive(key, "enketo-attachments")``). It opens the files of that one
version of that one record, until it expires, and nothing else.

    /api/v1/enketo/media/uuid:1f0c.../1767225600.3f9a.../house.png
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import time
from urllib.parse import quote

from sqlite_utils import Database

from server.accounts import keys
from server.enketo.errors import EnketoError
from server.errors import FieldsyncError
from server.store import submissions as subs_q

PURPOSE = "enketo-attachments"
# Long enough to open the edit and for Enketo to load each file; an edit left
# open longer keeps the files it already showed (Enketo does not fetch again).
MEDIA_URL_SECONDS = 15 * 60
SIGNATURE_HEX = 32
clock = time.time  # tests replace it


def media_key(db: Database) -> bytes:
    return keys.derive(keys.key_for_store(db), PURPOSE)


def _signature(key: bytes, instance_id: str, expires: int) -> str:
    mac = hmac.new(key, f"{instance_id}\n{expires}".encode("utf-8"), hashlib.sha256)
    return mac.hexdigest()[:SIGNATURE_HEX]


def token_for(key: bytes, instance_id: str, expires: int) -> str:
    return f"{expires}.{_signature(key, instance_id, expires)}"


def media_url(server_url: str, key: bytes, instance_id: str, name: str, expires: int) -> str:
    return (f"{server_url}/api/v1/enketo/media/{instance_id}/"
            f"{token_for(key, instance_id, expires)}/{quote(name, safe='')}")


def check_token(key: bytes, instance_id: str, token: str, now: float | None = None) -> None:
    """Nothing, if ``token`` opens ``instance_id``'s files now; else the refusal."""
    expires_text, _, signature = (token or "").partition(".")
    expires = int(expires_text) if expires_text.isdigit() else -1
    if expires < 0 or not hmac.compare_digest(signature.encode(), _signature(
            key, instance_id, expires).encode()):
        raise EnketoError("media_link_invalid", "This attachment link was altered or is not "
                          "for this record; open the edit again from fieldsync.",
                          {"instance_id": instance_id})
    if (clock() if now is None else now) > expires:
        raise EnketoError("media_link_expired", "This attachment link has expired; open the "
                          "edit again from fieldsync.", {"instance_id": instance_id})


def media_file(db: Database, instance_id: str, name: str) -> tuple[bytes, str]:
    """(bytes, content type) of one held file of that version of the record."""
    rows = [r for r in subs_q.by_instance(db, instance_id) if r["state"] != "conflict"]
    item = next((a for a in subs_q.attachments(db, rows[0]["id"])
                 if a["name"] == name and a["received"]), None) if rows else None
    data = subs_q.get_blob(db, item["sha256"]) if item else None
    if data is None:
        raise FieldsyncError("attachment_unknown", f"No attachment '{name[:80]}' is held "
                             f"for {instance_id}.")
    return data, mimetypes.guess_type(name)[0] or "application/octet-stream"

"""Form media: images, audio and CSV/XML files a form version refers to
(``jr://images/logo.png``, ``jr://file-csv/villages.csv``), stored in the
store as blobs and listed in the version's OpenRosa manifest.

A CSV a form reads that is an entity list (``returnees.csv`` for the list
``returnees``, see server/entities/lists.py) is not stored: the manifest lists
it with a hash that changes when the list does, and it is written from the
list, filtered to the user's part, when the device downloads it."""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath

from sqlite_utils import Database

from server.entities import lists as entity_lists
from server.registry import publish as registry
from server.openrosa.errors import OpenRosaError
from server.store import audit
from server.store import openrosa as openrosa_q

MEDIA_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\- ]{0,199}$")
MEDIA_REF_RE = re.compile(r"jr://(?:images|audio|video|file|file-csv)/([^\"'<>\s]+)")
MAX_MEDIA_BYTES = 32 * 1024 * 1024


def media_name(raw: str | None) -> str:
    """A client's file name reduced to its last component, or refused."""
    name = PurePosixPath((raw or "").replace("\\", "/")).name
    if not MEDIA_NAME_RE.match(name) or name.endswith("."):
        raise OpenRosaError(
            "media_name_invalid",
            f"'{(raw or '')[:80]}' is not a usable media file name: use letters, digits, "
            "spaces, '.', '_' and '-' (as the form refers to it, e.g. villages.csv).",
        )
    return name


def referenced_media(xform: str) -> list[str]:
    """File names the XForm refers to through jr:// URIs, in order, once each."""
    return list(dict.fromkeys(m.group(1).rsplit("/", 1)[-1]
                              for m in MEDIA_REF_RE.finditer(xform)))


def media_add(db: Database, form_id: str, version: str, filename: str | None,
              content_type: str | None, data: bytes, actor: str | None = None) -> dict:
    """Attach a media file to a form version; the same bytes again is a no-op.

    Returns ``{name, md5, size, created, referenced}``. A name that already holds
    other bytes is refused: versions never change, publish a new version instead.
    """
    name = media_name(filename)
    if len(data) > MAX_MEDIA_BYTES:
        raise OpenRosaError("media_name_invalid", f"'{name}' is {len(data)} bytes; the "
                            f"limit for one media file is {MAX_MEDIA_BYTES}.")
    md5 = hashlib.md5(data).hexdigest()
    with db.atomic():
        row = registry.version_get(db, form_id, version)
        existing = openrosa_q.get_media(db, form_id, version, name)
        if existing is not None and existing["md5"] != md5:
            raise OpenRosaError(
                "media_conflict",
                f"Form '{form_id}' version '{version}' already has a different '{name}'; "
                "published versions never change: publish a new version with the new file.",
                {"form_id": form_id, "version": version, "name": name},
            )
        if existing is None:
            openrosa_q.insert_media(
                db, form_id=form_id, version=version, name=name,
                content_type=content_type or "application/octet-stream", data=data,
                md5=md5, sha256=hashlib.sha256(data).hexdigest(), uploaded_by=actor)
            audit.record(db, actor, "form.media", f"{form_id}@{version}",
                         {"name": name, "md5": md5, "size": len(data)})
    return {"name": name, "md5": md5, "hash": f"md5:{md5}", "size": len(data),
            "created": existing is None, "referenced": name in referenced_media(row["xform"])}


def media_list(db: Database, form_id: str, version: str) -> list[dict]:
    registry.version_get(db, form_id, version)
    return openrosa_q.list_media(db, form_id, version)


def media_get(db: Database, form_id: str, version: str, name: str) -> dict:
    row = openrosa_q.get_media(db, form_id, version, name)
    if row is None:
        registry.version_get(db, form_id, version)
        raise OpenRosaError("media_unknown", f"Form '{form_id}' version '{version}' has no "
                            f"media file '{name[:80]}'; see its manifest.")
    return row


def manifest_files(db: Database, form_id: str, version: str, user: dict | None) -> list[dict]:
    """What the version's manifest lists for ``user``: its stored media and the
    entity lists it reads (``entity_list`` set), a list taking the place of a
    stored file of the same name."""
    row = registry.version_get(db, form_id, version)
    lists = entity_lists.manifest_files(db, form_id, version, referenced_media(row["xform"]),
                                        user)
    names = {f["name"] for f in lists}
    return [f for f in openrosa_q.list_media(db, form_id, version)
            if f["name"] not in names] + lists


def entity_list_of(db: Database, form_id: str, version: str, name: str) -> str | None:
    """The entity list a media name stands for in this version, if it is one."""
    row = registry.version_get(db, form_id, version)
    found = entity_lists.lists_read_by(db, form_id, version, [name])
    return found[0] if found and name in referenced_media(row["xform"]) else None

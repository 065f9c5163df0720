"""What the form list shows a device: the forms it may download, with hashes."""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database

from server.openrosa.media import referenced_media
from server.store import forms as forms_q
from server.store import openrosa as openrosa_q

LISTED_STATES = ("open", "closing")


def form_list_entries(db: Database, url_for_version: Callable[[str, str, str], str],
                      form_id: str | None = None, all_versions: bool = False) -> list[dict]:
    """Entries for the OpenRosa form list: each open or closing form's current
    version (or every version), with its md5 hash and download/manifest URLs.
    ``url_for_version(kind, form_id, version)`` builds an absolute URL."""
    entries = []
    for form in forms_q.list_forms(db):
        if form["state"] not in LISTED_STATES or (form_id and form["form_id"] != form_id):
            continue
        versions = ([v["version"] for v in forms_q.list_versions(db, form["form_id"])]
                    if all_versions else [form["current_version"]])
        for version in versions:
            row = forms_q.get_version(db, form["form_id"], version)
            if row is None:
                continue
            has_media = bool(referenced_media(row["xform"])) or bool(
                openrosa_q.list_media(db, form["form_id"], version))
            entries.append({
                "form_id": form["form_id"],
                "name": row["title"],
                "version": version,
                "hash": f"md5:{row['md5']}",
                "description": f"{row['title']} (version {version}, {form['state']})",
                "download_url": url_for_version("xform", form["form_id"], version),
                "manifest_url": (url_for_version("manifest", form["form_id"], version)
                                 if has_media else None),
            })
    return entries

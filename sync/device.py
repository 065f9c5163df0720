"""The device client's Python API; `fieldsync device ...` wraps these one to one.

    init(db, server, token)   remember the server, token and a new device_id
    pull(db)                  cache every published form version (XForm + model) and
                              the entity lists the forms read (this user's part)
    fill(db, form_id, ...)    enter a record question by question, finalize to the outbox
    push(db)                  send the outbox; mark sent only what the server answered
    status(db)                drafts, queued, sent by server status, last sync
    import_collect(db, dir)   queue the records of an ODK Collect instances folder

``db`` is the device store's path; its media folder is chosen at ``init`` and
remembered in the store. Network functions take an optional ``session``
(requests.Session-like) so scripts and tests can pass their own.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import requests

from forms.errors import FormsError
from forms.model import compile_xform
from sync.collect_import import CollectProblem, read_collect_folder
from sync.device_store import DeviceStore
from sync.engine import DEFAULT_BATCH, fetch_xform, list_form_versions, push_records
from sync.errors import SyncError
from sync.lists import pull_lists

__all__ = ["default_db", "default_dir", "import_collect", "init", "pull", "push", "status"]

DEFAULT_DB = "fieldsync-device.db"
DEFAULT_DIR = "fieldsync-device"
DB_ENV, DIR_ENV = "FIELDSYNC_DEVICE_DB", "FIELDSYNC_DEVICE_DIR"


def default_db() -> str:
    return os.environ.get(DB_ENV, DEFAULT_DB)


def default_dir() -> str:
    return os.environ.get(DIR_ENV, DEFAULT_DIR)


def init(db_path: str | Path, server: str, token: str,
         media_dir: str | Path | None = None) -> dict:
    """Set up (or re-point) a device store; the device_id is kept across re-inits."""
    if not server.startswith(("http://", "https://")):
        raise SyncError("device_not_initialised", f"'{server}' is not a server URL: give "
                        "it as http://HOST:PORT or https://HOST.")
    if not token.strip():
        raise SyncError("device_not_initialised", "The token is empty: create one with "
                        "`fieldsync token create NAME` on the server.")
    with DeviceStore.open(db_path) as store:
        current = store.get_setting("media_dir")
        return store.initialise(server, token.strip(),
                                media_dir or current or default_dir())


def pull(db_path: str | Path, *, session=None, sleep: Callable = time.sleep) -> dict:
    """Download every form version not cached yet; returns what was added."""
    with _session(session) as session, DeviceStore.open(db_path) as store:
        ident = store.identity()
        url, token = ident["server_url"], ident["token"]
        added, problems = [], []
        versions = list_form_versions(session, url, token, sleep=sleep)
        for v in versions:
            if store.has_form_version(v["form_id"], v["version"]):
                continue
            xform = fetch_xform(session, url, token, v["form_id"], v["version"], sleep=sleep)
            md5 = "md5:" + hashlib.md5(xform.encode("utf-8")).hexdigest()
            if v.get("hash") and v["hash"] != md5:
                problems.append({"form": f"{v['form_id']}@{v['version']}",
                                 "error": "the XForm downloaded does not match its hash; "
                                 "pull again"})
                continue
            try:
                model = compile_xform(xform)
            except (FormsError, StopIteration, AttributeError) as exc:
                problems.append({"form": f"{v['form_id']}@{v['version']}",
                                 "error": f"the XForm could not be read: {exc}"})
                continue
            store.cache_form(v["form_id"], v["version"], v.get("title"), md5, xform, model)
            added.append(f"{v['form_id']}@{v['version']}")
        lists = pull_lists(session, url, token, store,
                           [v for v in versions if store.has_form_version(v["form_id"],
                                                                          v["version"])],
                           sleep=sleep)
        summary = {"listed": len(versions), "added": added, "lists": lists["lists"],
                   "problems": problems + lists["problems"]}
        store.log_sync("pull", summary)
        return summary


def push(db_path: str | Path, *, session=None,
         on_start: Callable[[int], None] | None = None,
         on_progress: Callable[[int], None] | None = None,
         batch_size: int = DEFAULT_BATCH, sleep: Callable = time.sleep,
         rng: random.Random | None = None, attempts: int = 8) -> dict:
    """Send every queued record; returns the summary (counts by server status)."""
    with _session(session) as session, DeviceStore.open(db_path) as store:
        ident = store.identity()
        if on_start:
            on_start(store.count_queued())
        try:
            summary = push_records(
                session, ident["server_url"], ident["token"], ident["device_id"],
                store.queued_records(), on_results=store.mark_sent, on_progress=on_progress,
                read_attachment=store.attachment_bytes, batch_size=batch_size, sleep=sleep,
                rng=rng, attempts=attempts).as_dict()
        except SyncError as exc:
            partial = exc.details.get("summary") or {}
            store.note_problems(partial.get("problems", []))
            store.log_sync("push", {**partial, "error": exc.code})
            raise
        except sqlite3.Error as exc:  # disk full, I/O error: nothing more was marked sent
            raise SyncError(
                "device_store_failed",
                f"The device store could not record the server's answers ({exc}); the "
                "records it could not mark stay queued. Free space and push again: the "
                "server answers 'duplicate' for what it already holds.",
                {"db": str(db_path)}) from None
        store.note_problems(summary["problems"])
        summary["queued"] = store.count_queued()
        store.log_sync("push", summary)
        return summary


@contextmanager
def _session(given):
    """The caller's session, or a new requests.Session closed afterwards."""
    if given is not None:
        yield given
        return
    with requests.Session() as own:
        yield own


def status(db_path: str | Path) -> dict:
    """Counts of drafts, queued and sent records (by server status), and the last syncs."""
    with DeviceStore.open(db_path) as store:
        ident = store.identity()
        return {"device_id": ident["device_id"], "server": ident["server_url"],
                **store.counts(), "forms": len(store.cached_forms()),
                "last_push": store.last_sync("push"), "last_pull": store.last_sync("pull")}


def import_collect(db_path: str | Path, folder: str | Path) -> dict:
    """Queue the records of a Collect ``instances`` folder; one bad folder skips only itself."""
    queued, already, problems = 0, 0, []
    with DeviceStore.open(db_path) as store:
        store.identity()

        def model_for(form_id, version):
            try:
                return store.form_model(form_id, version)
            except SyncError:
                return None

        for item in read_collect_folder(Path(folder), model_for):
            if isinstance(item, CollectProblem):
                problems.append({"path": str(item.path), "error": item.message})
                continue
            try:
                record = {**item.record, "attachments": [
                    store.add_attachment(p) for p in item.media]}
                added = store.add_record(record, source="collect", source_ref=str(item.folder))
            except (SyncError, OSError) as exc:
                problems.append({"path": str(item.folder),
                                 "error": getattr(exc, "message", None) or str(exc)})
                continue
            queued += added
            already += not added
    return {"queued": queued, "already_queued": already, "problems": problems}

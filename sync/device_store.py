"""The device's local store: identity, cached forms, drafts, the outbox, media.

One SQLite file (WAL, synchronous=FULL) opened through sqlite-utils, plus a
folder of attachment files named by their sha256. Nothing finalized is ever
deleted here: a record moves from ``queued`` to ``sent`` only in the same
transaction that records the server's answer for it, so a crash, a cut
connection or a failed write leaves it queued and it is simply sent again
(the server answers ``duplicate``).

All SQL of the device side lives in this module.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from forms.model import FormModel
from sync.errors import SyncError
from sync.protocol import canonical_json, content_hash

__all__ = ["DeviceStore", "migrations", "new_instance_id"]

BUSY_TIMEOUT_MS = 10_000
QUEUED, SENT = "queued", "sent"

migrations = Migrations("fieldsync-device")


@migrations(name="0001_device")
def m0001_device(db: Database) -> None:
    db.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT)")
    db.execute(
        """CREATE TABLE forms_cache (
            form_id TEXT NOT NULL,
            version TEXT NOT NULL,
            title TEXT,
            hash TEXT NOT NULL,
            xform TEXT NOT NULL,
            model TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            PRIMARY KEY (form_id, version)
        )"""
    )
    db.execute(
        """CREATE TABLE drafts (
            id TEXT PRIMARY KEY,
            form_id TEXT NOT NULL,
            form_version TEXT NOT NULL,
            data TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE records (
            instance_id TEXT PRIMARY KEY,
            form_id TEXT NOT NULL,
            form_version TEXT NOT NULL,
            deprecated_id TEXT,
            record TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            source TEXT NOT NULL,
            source_ref TEXT,
            finalized_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued','sent')),
            server_status TEXT,
            server_seq INTEGER,
            sent_at TEXT,
            last_error TEXT
        )"""
    )
    db.execute("CREATE INDEX records_state ON records(state, finalized_at)")
    db.execute(
        """CREATE TABLE attachments (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            added_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE sync_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            summary TEXT NOT NULL
        )"""
    )


@migrations(name="0002_entity_lists")
def m0002_entity_lists(db: Database) -> None:
    # The entity lists the cached forms read, as the server sent them (CSV), with
    # the manifest hash they came with: a list is downloaded again only when the
    # server lists another hash.
    db.execute(
        """CREATE TABLE lists_cache (
            name TEXT PRIMARY KEY,
            hash TEXT NOT NULL,
            csv TEXT NOT NULL,
            fetched_at TEXT NOT NULL
        )"""
    )


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_instance_id() -> str:
    return f"uuid:{uuid.uuid4()}"


class DeviceStore:
    """The device's SQLite store and media folder; every method is one unit of work."""

    def __init__(self, db: Database, path: Path):
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: str | Path) -> DeviceStore:
        """Open (create and migrate) the store at ``path``."""
        path = Path(path)
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=False, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        db = Database(conn)
        migrations.apply(db)
        return cls(db, path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> DeviceStore:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # -- identity and settings -------------------------------------------------

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_settings(self, values: dict[str, str]) -> None:
        with self.db.atomic():
            for key, value in values.items():
                self.db.execute(
                    "INSERT INTO settings(key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value])

    def identity(self) -> dict:
        """``{server_url, token, device_id, media_dir}``, or raise if not initialised."""
        ident = {k: self.get_setting(k) for k in ("server_url", "token", "device_id",
                                                   "media_dir")}
        if not ident["device_id"] or not ident["server_url"]:
            raise SyncError("device_not_initialised",
                            "This device store is not initialised: run `fieldsync device "
                            "init --server URL --token TOKEN` first.", {"db": str(self.path)})
        return ident

    def initialise(self, server_url: str, token: str, media_dir: str | Path) -> dict:
        """Set the server and token; the device_id is made once and then kept."""
        device_id = self.get_setting("device_id") or str(uuid.uuid4())
        media = Path(media_dir).resolve()
        media.mkdir(parents=True, exist_ok=True)
        self.set_settings({"server_url": server_url.rstrip("/"), "token": token,
                           "device_id": device_id, "media_dir": str(media)})
        return self.identity()

    # -- forms cache -----------------------------------------------------------

    def cache_form(self, form_id: str, version: str, title: str | None, form_hash: str,
                   xform: str, model: FormModel) -> bool:
        """Keep one form version; returns False if it was already cached."""
        with self.db.atomic():
            exists = self.db.execute(
                "SELECT 1 FROM forms_cache WHERE form_id = ? AND version = ?",
                [form_id, version]).fetchone()
            if exists:
                return False
            self.db.execute(
                "INSERT INTO forms_cache(form_id, version, title, hash, xform, model, "
                "fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [form_id, version, title, form_hash, xform, model.to_json(), now_iso()])
        return True

    def has_form_version(self, form_id: str, version: str, form_hash: str | None = None) -> bool:
        row = self.db.execute("SELECT hash FROM forms_cache WHERE form_id = ? AND version = ?",
                              [form_id, version]).fetchone()
        return row is not None and (form_hash is None or row[0] == form_hash)

    def cached_forms(self) -> list[dict]:
        rows = self.db.execute(
            "SELECT form_id, version, title, hash, fetched_at FROM forms_cache "
            "ORDER BY form_id, fetched_at, version").fetchall()
        keys = ("form_id", "version", "title", "hash", "fetched_at")
        return [dict(zip(keys, r)) for r in rows]

    def form_model(self, form_id: str, version: str | None = None) -> FormModel:
        """The cached model of a version, or of the most recently fetched one."""
        if version is None:
            row = self.db.execute(
                "SELECT model FROM forms_cache WHERE form_id = ? "
                "ORDER BY fetched_at DESC, rowid DESC LIMIT 1", [form_id]).fetchone()
        else:
            row = self.db.execute(
                "SELECT model FROM forms_cache WHERE form_id = ? AND version = ?",
                [form_id, version]).fetchone()
        if row is None:
            what = f"'{form_id}'" + (f" version '{version}'" if version else "")
            raise SyncError("form_not_cached", f"Form {what} is not on this device: run "
                            "`fieldsync device pull` while connected.",
                            {"form_id": form_id, "version": version})
        return FormModel.from_json(row[0])

    def form_xform(self, form_id: str, version: str) -> str:
        row = self.db.execute("SELECT xform FROM forms_cache WHERE form_id = ? AND "
                              "version = ?", [form_id, version]).fetchone()
        if row is None:
            raise SyncError("form_not_cached", f"Form '{form_id}' version '{version}' is not "
                            "on this device: run `fieldsync device pull` while connected.",
                            {"form_id": form_id, "version": version})
        return row[0]

    # -- entity lists ----------------------------------------------------------

    def list_hash(self, name: str) -> str | None:
        row = self.db.execute("SELECT hash FROM lists_cache WHERE name = ?", [name]).fetchone()
        return row[0] if row else None

    def cache_list(self, name: str, list_hash: str, csv_text: str) -> None:
        self.db.execute(
            "INSERT INTO lists_cache(name, hash, csv, fetched_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET hash = excluded.hash, csv = excluded.csv, "
            "fetched_at = excluded.fetched_at", [name, list_hash, csv_text, now_iso()])

    def list_csv(self, name: str) -> str | None:
        row = self.db.execute("SELECT csv FROM lists_cache WHERE name = ?", [name]).fetchone()
        return row[0] if row else None

    # -- drafts ----------------------------------------------------------------

    def save_draft(self, form_id: str, form_version: str, data: dict,
                   draft_id: str | None = None) -> str:
        draft_id = draft_id or str(uuid.uuid4())
        stamp = now_iso()
        self.db.execute(
            "INSERT INTO drafts(id, form_id, form_version, data, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "data = excluded.data, updated_at = excluded.updated_at",
            [draft_id, form_id, form_version, canonical_json(data), stamp, stamp])
        return draft_id

    def drafts(self) -> list[dict]:
        rows = self.db.execute("SELECT id, form_id, form_version, data, updated_at "
                               "FROM drafts ORDER BY updated_at").fetchall()
        return [{"id": r[0], "form_id": r[1], "form_version": r[2], "data": json.loads(r[3]),
                 "updated_at": r[4]} for r in rows]

    def finalize_draft(self, draft_id: str, record: dict) -> bool:
        """Move a draft into the outbox as ``record`` in one transaction."""
        with self.db.atomic():
            added = self.add_record(record, source="fill")
            self.db.execute("DELETE FROM drafts WHERE id = ?", [draft_id])
        return added

    # -- records and the outbox ------------------------------------------------

    def add_record(self, record: dict, *, source: str, source_ref: str | None = None) -> bool:
        """Queue a finalized record; False if that instance_id is already held.

        Raises ``record_conflict`` if the instance_id is held with other content.
        """
        digest = content_hash(record)
        with self.db.atomic():
            row = self.db.execute("SELECT content_hash FROM records WHERE instance_id = ?",
                                  [record["instance_id"]]).fetchone()
            if row is not None:
                if row[0] != digest:
                    raise SyncError(
                        "record_conflict",
                        f"Record {record['instance_id']} is already on this device with "
                        "different content; edits need a new instanceID and deprecatedID.",
                        {"instance_id": record["instance_id"]})
                return False
            self.db.execute(
                "INSERT INTO records(instance_id, form_id, form_version, deprecated_id, "
                "record, content_hash, source, source_ref, finalized_at, state) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued')",
                [record["instance_id"], record["form_id"], record["form_version"],
                 record.get("deprecated_id"), canonical_json(record), digest, source,
                 source_ref, now_iso()])
        return True

    def record(self, instance_id: str) -> dict | None:
        row = self.db.execute(
            "SELECT record, state, server_status, server_seq, sent_at, last_error "
            "FROM records WHERE instance_id = ?", [instance_id]).fetchone()
        if row is None:
            return None
        keys = ("state", "server_status", "server_seq", "sent_at", "last_error")
        return {"record": json.loads(row[0]), **dict(zip(keys, row[1:]))}

    def queued_records(self):
        """Yield queued records (oldest first) as record dicts; reads in pages."""
        after = ""
        while True:
            rows = self.db.execute(
                "SELECT instance_id, record FROM records WHERE state = 'queued' AND "
                "instance_id > ? ORDER BY instance_id LIMIT 200", [after]).fetchall()
            if not rows:
                return
            for iid, text in rows:
                yield json.loads(text)
            after = rows[-1][0]

    def count_queued(self) -> int:
        return self.db.execute("SELECT count(*) FROM records WHERE state = 'queued'"
                               ).fetchone()[0]

    def mark_sent(self, results: list[dict]) -> None:
        """Record the server's answers for one batch, all or nothing."""
        stamp = now_iso()
        with self.db.atomic():
            for r in results:
                self.db.execute(
                    "UPDATE records SET state = 'sent', server_status = ?, server_seq = ?, "
                    "sent_at = ?, last_error = NULL WHERE instance_id = ?",
                    [r["status"], r.get("seq"), stamp, r["instance_id"]])

    def note_problems(self, problems: list[dict]) -> None:
        """Remember why queued records were not accepted; they stay queued."""
        with self.db.atomic():
            for p in problems:
                self.db.execute("UPDATE records SET last_error = ? WHERE instance_id = ? "
                                "AND state = 'queued'", [p["error"], p["instance_id"]])

    def counts(self) -> dict:
        by_state = dict(self.db.execute(
            "SELECT state, count(*) FROM records GROUP BY state").fetchall())
        by_status = dict(self.db.execute(
            "SELECT server_status, count(*) FROM records WHERE state = 'sent' "
            "GROUP BY server_status ORDER BY server_status").fetchall())
        with_errors = self.db.execute(
            "SELECT count(*) FROM records WHERE state = 'queued' AND last_error IS NOT NULL"
        ).fetchone()[0]
        drafts = self.db.execute("SELECT count(*) FROM drafts").fetchone()[0]
        return {"drafts": drafts, "queued": by_state.get(QUEUED, 0),
                "sent": by_state.get(SENT, 0), "by_status": by_status,
                "queued_with_errors": with_errors}

    # -- attachments -----------------------------------------------------------

    def media_dir(self) -> Path:
        return Path(self.identity()["media_dir"])

    def _media_path(self, sha256: str) -> Path:
        return self.media_dir() / sha256[:2] / sha256

    def add_attachment(self, source: Path) -> dict:
        """Copy a file into the media folder under its sha256; returns its entry."""
        digest, size = _hash_file(source)
        target = self._media_path(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        self.db.execute("INSERT OR IGNORE INTO attachments(sha256, size, added_at) "
                        "VALUES (?, ?, ?)", [digest, size, now_iso()])
        return {"name": source.name, "sha256": digest, "size": size}

    def attachment_bytes(self, sha256: str) -> bytes | None:
        path = self._media_path(sha256)
        return path.read_bytes() if path.exists() else None

    # -- sync log --------------------------------------------------------------

    def log_sync(self, kind: str, summary: dict) -> None:
        self.db.execute("INSERT INTO sync_log(at, kind, summary) VALUES (?, ?, ?)",
                        [now_iso(), kind, canonical_json(summary)])

    def last_sync(self, kind: str | None = None) -> dict | None:
        sql = "SELECT at, kind, summary FROM sync_log"
        args: list = []
        if kind:
            sql += " WHERE kind = ?"
            args.append(kind)
        row = self.db.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return {"at": row[0], "kind": row[1], "summary": json.loads(row[2])} if row else None


def _hash_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size

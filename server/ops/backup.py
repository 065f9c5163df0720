"""Backup and restore of the SQLite store while the server runs.

``backup`` copies the live store with SQLite's online backup API in one step:
in WAL mode that step reads one consistent snapshot while writers go on (a
stepwise copy would restart after every write and might never finish under
steady ingest), then checks the copy
(``PRAGMA integrity_check``) before renaming it into place, so a backup file
that exists is a good one. ``restore`` checks a backup the same way and that it
is a fieldsync store (migrations table, submissions), then copies it over a
store that no server or worker is using (stop them first).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from server.errors import FieldsyncError
from server.store import open_db

PAGES_PER_STEP = -1  # all pages in one step: one snapshot


def backup(db_path: str | Path, out: str | Path) -> dict:
    """Copy the (running) store at ``db_path`` to ``out``; returns counts."""
    db_path, out = Path(db_path), Path(out)
    if not db_path.exists():
        raise FieldsyncError("bad_request", f"No store at {db_path}; give --db.")
    if out.exists():
        raise FieldsyncError("bad_request", f"{out} exists already; choose a new file "
                             "name (a backup never overwrites).")
    tmp = out.with_name(out.name + ".partial")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(str(db_path), timeout=30)
    dst = sqlite3.connect(str(tmp))
    try:
        src.backup(dst, pages=PAGES_PER_STEP)
        dst.execute("PRAGMA journal_mode = DELETE")
    finally:
        dst.close()
        src.close()
    summary = check(tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, out)
    return {"out": str(out), **summary}


def check(path: str | Path) -> dict:
    """Integrity check and what the store holds; raises if it is not a sound store."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise FieldsyncError("bad_request", f"{path} fails PRAGMA integrity_check: "
                                 f"{result}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master "
                                             "WHERE type = 'table'")}
        if not {"_sqlite_migrations", "submissions", "seq_counter"} <= tables:
            raise FieldsyncError("bad_request", f"{path} is not a fieldsync store.")
        return {
            "integrity": result,
            "submissions": conn.execute("SELECT count(*) FROM submissions").fetchone()[0],
            "seq": conn.execute("SELECT value FROM seq_counter").fetchone()[0],
            "migrations": conn.execute("SELECT count(*) FROM _sqlite_migrations"
                                       ).fetchone()[0],
        }
    except sqlite3.DatabaseError as exc:
        raise FieldsyncError("bad_request", f"{path} is not a readable SQLite store: "
                             f"{exc}") from None
    finally:
        conn.close()


def restore(backup_path: str | Path, db_path: str | Path, *, force: bool = False) -> dict:
    """Check ``backup_path`` and make it the store at ``db_path`` (server stopped)."""
    backup_path, db_path = Path(backup_path), Path(db_path)
    if not backup_path.exists():
        raise FieldsyncError("bad_request", f"No backup at {backup_path}.")
    summary = check(backup_path)
    if db_path.exists() and not force:
        raise FieldsyncError("bad_request", f"{db_path} exists; stop the server and worker, "
                             "then pass --force to replace it (it is kept as .before-restore).")
    tmp = db_path.with_name(db_path.name + ".restoring")
    src = sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True)
    dst = sqlite3.connect(str(tmp))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    if db_path.exists():
        keep = open_db(db_path)  # checkpoint the WAL into the file we keep aside
        keep.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        keep.close()
        os.replace(db_path, db_path.with_name(db_path.name + ".before-restore"))
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, db_path)
    open_db(db_path, migrate=True).close()  # a backup from an older release is upgraded
    return {"restored": str(db_path), **summary}

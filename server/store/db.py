"""Opening the SQLite store: one function, the same pragmas everywhere.

WAL lets exports and the changes feed read while ingest writes; synchronous=FULL
makes the commit that acknowledges a record durable before the answer leaves;
foreign keys and a busy timeout are on for every connection, whichever process
opens it (web worker, CLI, background worker).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

BUSY_TIMEOUT_MS = 10_000
WRITE_POLL_S = 0.001  # how often a waiting writer tries the write lock again
CACHE_KIB = 64 * 1024  # page cache per connection: the hot indexes of a big store
# Checkpoint the WAL into the database every ~40 MB instead of SQLite's 4 MB:
# index pages a busy day rewrites many times are copied (and fsynced) once per
# checkpoint, not once per 4 MB; the WAL file is cut back to 64 MB after one.
WAL_CHECKPOINT_PAGES = 10_000
WAL_SIZE_LIMIT = 64 * 1024 * 1024

# Python's sqlite3 binds int, float and str as they are, but sends every other
# parameter (None, bytes, bool) through its adapter lookup first, and a type
# without a registered adapter fails there with a formatted AttributeError that
# is then discarded. The answers projection binds a None for each unanswered
# question (about 16 a record of the RSS). Adapters that give back the value
# unchanged (None, the same bytes object, the int of a bool: what sqlite3 would
# bind anyway) take the short path, a dictionary lookup and a call.
# Process-wide, and harmless to any other sqlite3 user: the values bound are
# the same.
sqlite3.register_adapter(type(None), {}.get)  # {}.get(None) is None
sqlite3.register_adapter(bytes, bytes)        # bytes(b) is b for a bytes object
sqlite3.register_adapter(bool, int)


def open_db(path: str | Path, *, migrate: bool = False) -> Database:
    """Open (and create) the store at ``path``; apply pending migrations if asked."""
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
        isolation_level=None,
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
    conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
    db = Database(conn)
    if migrate:
        from server.store.migrations import migrate as apply_migrations

        apply_migrations(db)
    return db


@contextmanager
def write_transaction(db: Database, *, durable: bool = True) -> Iterator[Database]:
    """One unit of work that writes: ``BEGIN IMMEDIATE`` takes the write lock at
    the start (waiting up to the busy timeout), so a transaction that reads and
    then writes never fails half-way because another writer got in first.
    Inside an open transaction it nests as a savepoint.

    ``durable=False`` commits without waiting for the disk (synchronous=NORMAL
    for this transaction only): for bookkeeping that a power cut may lose
    without harm (sign-in state), never for what acknowledges a record. The
    next durable commit writes it to disk too."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    if not durable:
        db.conn.execute("PRAGMA synchronous = NORMAL")
    try:
        _begin_immediate(db.conn)
        try:
            yield db
        except BaseException:
            db.conn.rollback()
            raise
        else:
            db.conn.execute("COMMIT")
    finally:
        if not durable:
            db.conn.execute("PRAGMA synchronous = FULL")


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """Take the write lock as soon as it is free.

    SQLite's own busy handler sleeps 1, 2, 5, 10 ... up to 100 ms between
    tries, so a web worker waiting behind another's batch (tens of ms) wakes
    late and the second core idles. Here the handler is off while a writer
    tries every millisecond, up to the same busy timeout; then "database is
    locked" is raised as before.
    """
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(WRITE_POLL_S)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF == sqlite3.SQLITE_BUSY  # also SQLITE_BUSY_RECOVERY, ...
    return "database is locked" in str(exc)

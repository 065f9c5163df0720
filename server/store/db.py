"""Opening the SQLite store: one function, the same pragmas everywhere.

WAL lets exports and the changes feed read while ingest writes; synchronous=FULL
makes the commit that acknowledges a record durable before the answer leaves;
foreign keys and a busy timeout are on for every connection, whichever process
opens it (web worker, CLI, background worker).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

BUSY_TIMEOUT_MS = 10_000
CACHE_KIB = 64 * 1024  # page cache per connection: the hot indexes of a big store


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
    db = Database(conn)
    if migrate:
        from server.store.migrations import migrate as apply_migrations

        apply_migrations(db)
    return db


@contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """One unit of work that writes: ``BEGIN IMMEDIATE`` takes the write lock at
    the start (waiting up to the busy timeout), so a transaction that reads and
    then writes never fails half-way because another writer got in first.
    Inside an open transaction it nests as a savepoint."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    else:
        db.conn.execute("COMMIT")

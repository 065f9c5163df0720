"""The SQLite store: pragmas, numbered migrations recorded in the database, upgrades."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from server.store import db as db_module
from server.store import open_db
from server.store.db import write_transaction
from server.store.migrations import migrate, migrations


def test_store_runs_in_wal_with_foreign_keys_and_full_sync(db):
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 10_000


def test_migrations_are_recorded_in_the_database(db):
    applied = [m.name for m in migrations.applied(db)]
    assert applied[:3] == ["0001_users_tokens_audit", "0002_forms", "0003_submissions"]
    assert migrations.pending(db) == []


def test_old_store_upgrades_in_place_and_keeps_its_data(tmp_path):
    path = tmp_path / "old.db"
    old = open_db(path)
    migrations.apply(old, stop_before="0002_forms")
    old.execute("INSERT INTO users (name, role, created_at) VALUES ('ama', 'admin', 'x')")
    old.close()

    upgraded = open_db(path)
    applied_now = migrate(upgraded)
    assert applied_now[0] == "0002_forms"
    assert upgraded.execute("SELECT name FROM users").fetchall() == [("ama",)]
    assert "submissions" in upgraded.table_names()
    assert migrate(upgraded) == []


def test_migrating_twice_changes_nothing(tmp_path):
    path = tmp_path / "s.db"
    open_db(path, migrate=True).close()
    again = open_db(path, migrate=True)
    names = [m.name for m in migrations.applied(again)]
    assert len(names) == len(set(names))


def test_writer_waiting_behind_another_gets_in_once_it_commits(tmp_path):
    first, second = open_db(tmp_path / "s.db"), open_db(tmp_path / "s.db")
    first.execute("CREATE TABLE t (x)")
    first.conn.execute("BEGIN IMMEDIATE")
    first.execute("INSERT INTO t VALUES (1)")
    releaser = threading.Timer(0.2, lambda: first.conn.execute("COMMIT"))
    releaser.start()
    with write_transaction(second):
        second.execute("INSERT INTO t VALUES (2)")
    releaser.join()
    assert [r[0] for r in second.execute("SELECT x FROM t ORDER BY x")] == [1, 2]
    assert second.execute("PRAGMA busy_timeout").fetchone()[0] == db_module.BUSY_TIMEOUT_MS


def test_writer_still_locked_out_after_the_busy_timeout_gets_locked_error(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 200)
    first, second = open_db(tmp_path / "s.db"), open_db(tmp_path / "s.db")
    first.execute("CREATE TABLE t (x)")
    first.conn.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        with write_transaction(second):
            second.execute("INSERT INTO t VALUES (2)")
    assert not second.conn.in_transaction
    assert second.execute("PRAGMA busy_timeout").fetchone()[0] == 200
    first.conn.execute("COMMIT")
    with write_transaction(second):  # and it writes once the lock is free
        second.execute("INSERT INTO t VALUES (3)")
    assert second.execute("SELECT count(*) FROM t").fetchone()[0] == 1

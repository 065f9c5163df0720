"""The SQLite store: pragmas, numbered migrations recorded in the database, upgrades."""

from __future__ import annotations

from server.store import open_db
from server.store.migrations import migrate, migrations


def test_store_runs_in_wal_with_foreign_keys_and_full_sync(db):
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2


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

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


def test_none_bytes_and_bools_are_stored_as_null_blob_and_integer(db):
    # the store registers pass-through adapters for these (server/store/db.py):
    # what lands in SQLite must be what sqlite3 binds without them
    db.execute("CREATE TABLE t (a, b, c, d)")
    db.execute("INSERT INTO t VALUES (?, ?, ?, ?)", [None, b"\x00\xff", True, False])
    row = db.execute("SELECT typeof(a), a, typeof(b), b, typeof(c), c, typeof(d), d FROM t")
    assert row.fetchone() == ("null", None, "blob", b"\x00\xff", "integer", 1, "integer", 0)
    assert db.execute("SELECT count(*) FROM t WHERE a IS ?", [None]).fetchone() == (1,)


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


def test_every_version_of_a_record_is_found_through_indexes(db):
    import uuid

    from server.ingest.pipeline import ingest
    from server.registry.publish import publish_builtin_rss
    from server.store import submissions as subs_q
    from tests.helpers.rss_records import BEST, build

    version = publish_builtin_rss(db)["version"]

    def push(instance_id, deprecated_id=None, age=30):
        rec = {"instance_id": instance_id, "form_id": "rss", "form_version": version,
               "data": build(BEST, age=age)}
        if deprecated_id:
            rec["deprecated_id"] = deprecated_id
        return ingest(db, [rec], door="sync", device_id="tablet-1", user="enum1")[0]

    first, second, third = (f"uuid:{uuid.uuid4()}" for _ in range(3))
    push(first)
    push(second, deprecated_id=first, age=31)
    push(third, deprecated_id=second, age=32)
    late_edit, late_original = f"uuid:{uuid.uuid4()}", f"uuid:{uuid.uuid4()}"
    push(late_edit, deprecated_id=late_original, age=41)  # its original comes later
    push(late_original, age=40)

    assert [r["instance_id"] for r in subs_q.history(db, first)] == [first, second, third]
    assert subs_q.current_of_logical(db, first)["instance_id"] == third
    assert [r["instance_id"] for r in subs_q.history(db, late_original)] == \
        [late_edit, late_original]
    sql, params = subs_q.of_logical("id", first)
    plan = " | ".join(r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert "SCAN" not in plan and "submissions_logical_edits" in plan, plan


def test_flat_answers_row_holds_typed_values_and_null_for_what_is_not_a_value(db):
    from server.ingest.pipeline import ingest
    from server.registry.publish import publish_builtin_rss

    version = publish_builtin_rss(db)["version"]
    data = {"case_id": "GIN-1", "survey_round": "baseline", "consent": "yes", "age": "41",
            "country_of_return": "",  # empty: NULL
            "econ": {"econ_satisfaction": ["list"]},  # not one value: NULL
            "social": {"access_housing": "good"}, "psycho": "not a group"}
    odd = {**data, "case_id": "GIN-2", "age": "forty"}  # kept as sent, not cast
    [ok, kept] = ingest(db, [
        {"instance_id": f"uuid:0000000{i}-aaaa", "form_id": "rss", "form_version": version,
         "data": d} for i, d in enumerate([data, odd])], door="sync")
    assert {ok["status"], kept["status"]} <= {"created", "flagged"}
    rows = db.execute('SELECT case_id, age, country_of_return, "econ/econ_satisfaction", '
                      '"social/access_housing", "psycho/distress" FROM answers__rss '
                      "ORDER BY submission_id").fetchall()
    assert rows == [("GIN-1", 41, None, None, "good", None),
                    ("GIN-2", "forty", None, None, "good", None)]


def test_a_stored_record_keeps_its_indicators_once_and_every_read_shows_them(db):
    import json
    import uuid

    from server.ingest.pipeline import ingest
    from server.registry.publish import publish_builtin_rss
    from server.store import submissions as subs_q
    from tests.helpers.rss_records import BEST, build

    version = publish_builtin_rss(db)["version"]
    iid = f"uuid:{uuid.uuid4()}"
    ingest(db, [{"instance_id": iid, "form_id": "rss", "form_version": version,
                 "data": build(BEST, case_id="GIN-1")}], door="sync", device_id="t1", user="e1")
    in_row = json.loads(db.execute("SELECT scores FROM submissions").fetchone()[0])
    scores, indicators = db.execute(
        "SELECT scores, indicators FROM submission_scores").fetchone()
    assert list(in_row) == ["scores"] and in_row["scores"] == json.loads(scores)
    whole = {"scores": json.loads(scores), "indicators": json.loads(indicators)}
    assert len(whole["indicators"]) >= 10
    row = subs_q.by_instance(db, iid)[0]
    assert row["scores"] == whole
    assert subs_q.changes(db, 0, 10)[0]["scores"] == whole
    assert subs_q.current_of_logical(db, row["logical_id"])["scores"] == whole
    assert subs_q.by_id(db, row["id"])["scores"] == whole
    # a row given its whole document (rescoring, a peer's scores) reads it as it is,
    # whatever its scores are named
    for other in ({"scores": {"composite": 0.5}, "indicators": {"x": 1}},
                  {"scores": {"indicators": 0.5}, "indicators": {}}):
        with write_transaction(db):
            subs_q.update(db, row["id"], scores=other)
        assert subs_q.by_id(db, row["id"])["scores"] == other

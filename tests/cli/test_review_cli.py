"""`fieldsync review ...` as a supervisor types it: queue, show, set, duplicates,
resolve, rules; one-line errors with exit 1."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from server.ingest.pipeline import ingest
from server.registry.publish import publish_builtin_rss
from server.store import open_db
from tests.helpers.rss_records import BEST, build


def fieldsync(*args, db):
    cmd = [sys.executable, "-m", "server.cli", *args, "--db", str(db)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "s.db"
    db = open_db(path, migrate=True)
    version = publish_builtin_rss(db)["version"]
    ids = []
    for case_id in ("GIN-2026-00017", "gin 2026 00017"):
        rec = {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
               "form_version": version, "data": build(BEST, case_id=case_id)}
        ingest(db, [rec], door="sync", device_id="tablet-1", user="eve")
        ids.append(rec["instance_id"])
    db.close()
    return path, ids


def test_queue_lists_the_probable_duplicate_as_json_lines(store):
    path, ids = store
    out = fieldsync("review", "queue", "--kind", "duplicates", db=path)
    assert out.returncode == 0, out.stderr
    items = [json.loads(line) for line in out.stdout.splitlines()]
    assert [i["instance_id"] for i in items] == [ids[1]]
    assert items[0]["matches"][0]["other"]["instance_id"] == ids[0]


def test_set_then_show_keeps_the_review_history(store):
    path, ids = store
    out = fieldsync("review", "set", ids[0], "approved", "--comment", "checked", "--by", "sam",
                    db=path)
    assert out.returncode == 0 and " approved " in out.stdout
    shown = json.loads(fieldsync("review", "show", ids[0], db=path).stdout)
    assert shown["review_state"] == "approved"
    assert shown["reviews"][0]["actor"] == "sam" and shown["reviews"][0]["comment"] == "checked"


def test_a_comment_joins_the_history_and_leaves_the_state(store):
    path, ids = store
    before = json.loads(fieldsync("review", "show", ids[1], db=path).stdout)["review_state"]
    out = fieldsync("review", "comment", ids[1], "phoned the household", "--by", "sam",
                    db=path)
    assert out.returncode == 0 and "comment by sam" in out.stdout
    shown = json.loads(fieldsync("review", "show", ids[1], db=path).stdout)
    assert shown["review_state"] == before
    assert (shown["reviews"][-1]["action"], shown["reviews"][-1]["comment"]) == (
        "comment", "phoned the household")
    empty = fieldsync("review", "comment", ids[1], "  ", db=path)
    assert empty.returncode == 1 and "needs its text" in empty.stderr


def test_resolve_merge_from_the_command_line(store):
    path, ids = store
    match = json.loads(fieldsync("review", "duplicates", db=path).stdout.splitlines()[0])
    out = fieldsync("review", "resolve", str(match["match_id"]), "merge", "--base", ids[0],
                    "--value", "age=40", "--by", "sam", db=path)
    assert out.returncode == 0, out.stderr
    resolved = json.loads(out.stdout)
    assert resolved["resolution"] == "merge" and resolved["merged_instance_id"]
    assert fieldsync("review", "duplicates", db=path).stdout == ""


def test_errors_are_one_line_with_exit_1(store):
    path, _ = store
    out = fieldsync("review", "set", "uuid:nope", "approved", db=path)
    assert out.returncode == 1 and out.stderr.startswith("fieldsync: error: No submission")
    out = fieldsync("review", "resolve", "99", "keep_both", db=path)
    assert out.returncode == 1 and "No duplicate match 99" in out.stderr


def test_rules_show_and_change_the_thresholds(store):
    path, _ = store
    out = fieldsync("review", "rules", "--set", "reinterview_days=45", db=path)
    assert json.loads(out.stdout)["rules"]["reinterview_days"] == 45
    bad = fieldsync("review", "rules", "--set", "reinterview_days=soon", db=path)
    assert bad.returncode == 1 and "must be a whole number" in bad.stderr

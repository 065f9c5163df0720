"""Due lists: whose next round is due, overdue, upcoming or completed, worked out
by hand for a few returnees on 2026-03-10 (rounds at 0, 6, 12, 18 months after the
return; due from 30 days before to 30 days after)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date

import pytest

from server.entities import due, imports, lists
from server.entities.errors import EntitiesError
from server.ingest.pipeline import ingest
from server.registry.publish import publish_builtin_rss
from server.review.actions import review_set
from server.scores.specs import install_builtin_specs
from server.store import open_db

ON = "2026-03-10"
RETURNEES = ("case_id,label,return_date,assignee\n"
             "E1,E1,2025-09-01,enum1\n"
             "E2,E2,2025-06-01,enum1\n"
             "E3,E3,2026-03-01,enum2\n"
             "E4,E4,2025-12-01,enum2\n"
             "E5,E5,2024-01-01,\n"
             "E6,E6,,\n"
             "E7,E7,2025-09-01,\n")
DONE = {"E1": ["baseline"], "E2": ["baseline"], "E4": ["baseline"],
        "E5": ["baseline", "6m", "12m", "18m"], "E7": ["baseline"]}


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    database = open_db(tmp_path_factory.mktemp("due") / "store.db", migrate=True)
    install_builtin_specs(database)
    version = publish_builtin_rss(database)["version"]
    imports.entities_import(database, "returnees", RETURNEES.encode(), key="case_id",
                            dry_run=False)
    ids = {r["case_id"]: r["name"] for r in csv.DictReader(io.StringIO(
        b"".join(lists.list_export(database, "returnees")).decode()))}
    for case_id, rounds in DONE.items():
        for base, round_ in enumerate(rounds, start=1):
            rec = {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
                   "form_version": version, "data": {
                       "case_id": case_id, "survey_round": round_, "consent": "no",
                       "interview_date": "2026-01-05", "returnee": ids[case_id]},
                   "entity": {"dataset": "returnees", "id": ids[case_id], "create": "0",
                              "update": "1", "baseVersion": str(base), "label": case_id}}
            [result] = ingest(database, [rec], door="sync", user="enum1")
            assert result["entity"]["outcome"] == "updated"
            if case_id == "E7":
                review_set(database, rec["instance_id"], "rejected", "wrong person",
                           actor="sup")
    database.ids = ids
    yield database
    database.close()


def test_each_returnee_has_the_status_worked_out_by_hand(db):
    answer = due.due_list(db, "rss", on=ON)
    status = {i["label"]: (i["status"], i["next_round"], i["due_date"]) for i in answer["items"]}
    assert status == {
        "E1": ("due", "6m", "2026-03-01"),         # 9 days after its date
        "E2": ("overdue", "6m", "2025-12-01"),     # 99 days after
        "E3": ("due", "baseline", "2026-03-01"),
        "E4": ("upcoming", "6m", "2026-06-01"),    # 83 days ahead
        "E5": ("completed", None, None),
        "E6": ("no_date", "baseline", None),       # no return date
        "E7": ("overdue", "baseline", "2025-09-01"),  # its baseline was rejected
    }
    assert answer["counts"] == {"due": 2, "overdue": 2, "upcoming": 1, "completed": 1,
                                "no_date": 1}


def test_an_enumerators_due_list_holds_their_cases_only(db):
    answer = due.due_list(db, "rss", assignee="enum1", on=ON)
    assert sorted(i["label"] for i in answer["items"]) == ["E1", "E2"]
    assert answer["counts"]["due"] == 1 and answer["counts"]["overdue"] == 1
    overdue = due.due_list(db, "rss", status="overdue", on=ON)
    assert sorted(i["label"] for i in overdue["items"]) == ["E2", "E7"]


def test_the_tablets_list_file_carries_the_due_columns(db):
    body = b"".join(lists.list_file(db, "rss", "returnees", {"name": "enum1",
                                                              "role": "enumerator"},
                                    on=date.fromisoformat(ON))).decode()
    got = {r["label"]: (r["due_round"], r["due_date"], r["due_status"])
           for r in csv.DictReader(io.StringIO(body))}
    assert got == {"E1": ("6m", "2026-03-01", "due"), "E2": ("6m", "2025-12-01", "overdue"),
                   "E5": ("", "", "completed"), "E6": ("baseline", "", "no_date"),
                   "E7": ("baseline", "2025-09-01", "overdue")}


def test_a_changed_schedule_moves_the_next_round(db, tmp_path):
    derived = due.schedule_get(db, "rss")
    assert [r["months"] for r in derived["rounds"]] == [0, 6, 12, 18]
    assert derived["anchor"] == "return_date" and derived["derived"] is True
    due.schedule_set(db, "rss", {"rounds": [{"name": "baseline", "months": 0},
                                            {"name": "3m", "months": 3}]}, actor="sup")
    try:
        items = {i["label"]: i for i in due.due_list(db, "rss", on=ON)["items"]}
        assert (items["E4"]["next_round"], items["E4"]["status"]) == ("3m", "due")
        with pytest.raises(EntitiesError) as err:
            due.schedule_set(db, "rss", {"rounds": [{"name": "x", "months": -1}]})
        assert err.value.code == "schedule_invalid"
    finally:
        db.execute("DELETE FROM due_schedules")

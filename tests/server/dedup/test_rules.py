"""The duplicate rules at ingest: each rule, its thresholds, what is not a
duplicate, and every door that stores a record."""

from __future__ import annotations

import json
import uuid

import pytest

from server.dedup import FLAG, Rules
from server.ingest.pipeline import ingest
from server.registry.publish import publish_builtin_rss
from server.review.actions import review_rules
from tests.helpers.rss_records import BEST, WORST, build


@pytest.fixture
def rss(db):
    db.version = publish_builtin_rss(db)["version"]
    return db


def push(db, data, device="tablet-1", user="enum1", **extra):
    rec = {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
           "form_version": db.version, "data": data, **extra}
    return ingest(db, [rec], door="sync", device_id=device, user=user)[0]


def reasons(db, instance_id):
    rows = db.execute(
        "SELECT m.reasons FROM duplicate_matches m JOIN submissions s ON s.id = m.submission_id "
        "WHERE s.instance_id = ?", [instance_id]).fetchall()
    return sorted(r["rule"] for row in rows for r in json.loads(row[0]))


def test_unknown_rule_names_are_refused():
    with pytest.raises(ValueError, match="unknown duplicate rule"):
        Rules.from_dict({"reinterview_dayz": 3})


# At ingest -----------------------------------------------------------------------

def test_same_key_typed_differently_is_flagged_and_push_says_flagged(rss):
    first = push(rss, build(BEST))
    second = push(rss, build(WORST, case_id="gin 2026/00017", survey_round="6m"),
                  device="tablet-2", user="enum2")
    assert first["status"] == "created" and FLAG not in first["flags"]
    assert second["status"] == "flagged" and FLAG in second["flags"]
    assert reasons(rss, second["instance_id"]) == ["same_key"]


def test_next_round_a_few_weeks_later_is_a_reinterview_too_close(rss):
    push(rss, build(BEST, survey_round="baseline", interview_date="2026-01-10"))
    again = push(rss, build(WORST, survey_round="6m", interview_date="2026-02-01"),
                 device="tablet-2", user="enum2")
    assert reasons(rss, again["instance_id"]) == ["reinterview_too_close"]


def test_follow_up_rounds_months_apart_are_not_duplicates(rss):
    push(rss, build(BEST, survey_round="baseline", interview_date="2025-09-01"))
    later = push(rss, build(BEST, survey_round="6m", interview_date="2026-03-02"))
    assert later["status"] == "created" and FLAG not in later["flags"]


def test_near_identical_answers_same_device_under_another_case_id_are_flagged(rss):
    push(rss, build(BEST, interview_date="2026-03-02"))
    copy = push(rss, build(BEST, case_id="GIN-2026-99999", interview_date="2026-03-04",
                           econ_satisfaction="satisfied"))
    assert reasons(rss, copy["instance_id"]) == ["near_identical"]


def test_near_identical_answers_outside_the_window_are_not_flagged(rss):
    push(rss, build(BEST, interview_date="2026-01-02"))
    other = push(rss, build(BEST, case_id="GIN-2026-99999", interview_date="2026-03-04"))
    assert FLAG not in other["flags"]


def test_different_people_on_one_device_the_same_day_are_not_flagged(rss):
    push(rss, build(BEST, case_id="GIN-2026-00001"))
    other = push(rss, build(WORST, case_id="GIN-2026-00002"))
    assert FLAG not in other["flags"]


def test_case_id_one_keystroke_off_with_similar_answers_is_a_typo(rss):
    push(rss, build(BEST, interview_date="2026-02-10"))
    typo = push(rss, build(BEST, case_id="GIN-2026-00071", interview_date="2026-02-20"),
                device="tablet-9", user="enum9")
    assert reasons(rss, typo["instance_id"]) == ["case_id_typo"]


def test_case_id_one_keystroke_off_with_other_answers_is_another_person(rss):
    push(rss, build(BEST, interview_date="2026-02-10"))
    neighbour = push(rss, build(WORST, case_id="GIN-2026-00018", interview_date="2026-02-20"),
                     device="tablet-9", user="enum9")
    assert FLAG not in neighbour["flags"]


def test_case_id_typo_only_looks_typo_days_around_the_interview_date(rss):
    push(rss, build(BEST, interview_date="2026-02-01"))
    edge = push(rss, build(BEST, case_id="GIN-2026-00071", interview_date="2026-02-15"),
                device="tablet-9", user="enum9")  # 14 days: the same interview
    assert reasons(rss, edge["instance_id"]) == ["case_id_typo"]
    later = push(rss, build(BEST, case_id="GIN-2026-00019", interview_date="2026-03-01"),
                 device="tablet-8", user="enum8")  # 28 days after its neighbour
    assert "case_id_typo" not in reasons(rss, later["instance_id"])
    review_rules(rss, "rss", {"typo_days": 30})
    wider = push(rss, build(BEST, case_id="GIN-2026-0017", interview_date="2026-03-02"),
                 device="tablet-7", user="enum7")  # 29 days from the first
    assert "case_id_typo" in reasons(rss, wider["instance_id"])


def test_case_id_typo_rule_can_be_switched_off_and_back_on_for_scanned_ids(rss):
    review_rules(rss, "rss", {"case_id_typo": "false"}, actor="ama")
    push(rss, build(BEST, interview_date="2026-02-10"))
    typo = push(rss, build(BEST, case_id="GIN-2026-00071", interview_date="2026-02-12"),
                device="tablet-9", user="enum9")
    assert FLAG not in typo["flags"]
    again = push(rss, build(BEST, interview_date="2026-02-11"), device="tablet-8", user="enum8")
    assert reasons(rss, again["instance_id"]) == ["same_key"]  # the other rules still run
    review_rules(rss, "rss", {"case_id_typo": "true"}, actor="ama")
    # Keys stored while the rule was off are still indexed: both records of
    # GIN-2026-00017 are found as the earlier half of a typo.
    later = push(rss, build(BEST, case_id="GIN-2026-00117", interview_date="2026-02-13"),
                 device="tablet-7", user="enum7")
    assert reasons(rss, later["instance_id"]) == ["case_id_typo", "case_id_typo"]


def test_with_the_typo_rule_off_no_typo_map_is_read_or_kept(rss, monkeypatch):
    from server.dedup import typo_map

    def no_session(db, wide=False):
        raise AssertionError("the typo map was asked with the rule switched off")

    review_rules(rss, "rss", {"case_id_typo": False})
    monkeypatch.setattr(typo_map, "session", no_session)
    recs = [{"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
             "form_version": rss.version, "data": build(BEST, case_id=f"GIN-2026-0001{i}")}
            for i in range(3)]
    results = ingest(rss, recs, door="sync", device_id="t", user="u")
    # one tablet, the same answers: near-identical, never a typo
    assert reasons(rss, results[2]["instance_id"]) == ["near_identical"] * 2


def test_case_id_typo_falls_back_to_the_day_received_without_an_interview_date(rss):
    first = build(BEST)
    first.pop("interview_date")
    push(rss, first)
    second = build(BEST, case_id="GIN-2026-00071")
    second.pop("interview_date")
    typo = push(rss, second, device="tablet-9", user="enum9")  # both received today
    assert reasons(rss, typo["instance_id"]) == ["case_id_typo"]


def test_duplicates_within_one_push_are_found(rss):
    recs = [{"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
             "form_version": rss.version, "data": build(BEST)} for _ in range(2)]
    results = ingest(rss, recs, door="sync", device_id="t", user="u")
    assert [FLAG in r["flags"] for r in results] == [False, True]


def test_an_edit_is_not_a_duplicate_of_the_version_it_replaces(rss):
    first = push(rss, build(BEST))
    edit = push(rss, build(BEST, econ_satisfaction="satisfied"),
                deprecated_id=first["instance_id"])
    assert edit["status"] == "updated" and FLAG not in edit["flags"]


def test_thresholds_are_configurable_per_form(rss):
    review_rules(rss, "rss", {"reinterview_days": 10}, actor="ama")
    push(rss, build(BEST, survey_round="baseline", interview_date="2026-01-10"))
    again = push(rss, build(WORST, survey_round="6m", interview_date="2026-02-01"))
    assert FLAG not in again["flags"]
    assert review_rules(rss, "rss")["rules"]["reinterview_days"] == 10


def test_detection_can_be_switched_off(rss):
    review_rules(rss, "rss", {"enabled": "false"})
    push(rss, build(BEST))
    assert FLAG not in push(rss, build(BEST))["flags"]


def test_a_typo_is_found_in_the_very_next_push(rss):
    push(rss, build(BEST, interview_date="2026-02-18"))
    typo = push(rss, build(BEST, case_id="GIN-2026-00071", interview_date="2026-02-20"),
                device="tablet-9", user="enum9")
    assert reasons(rss, typo["instance_id"]) == ["case_id_typo"]
    again = push(rss, build(BEST, case_id="GIN-2026-0017", interview_date="2026-02-21"),
                 device="tablet-8", user="enum8")
    assert "case_id_typo" in reasons(rss, again["instance_id"])


# Other doors --------------------------------------------------------------------

def test_a_record_released_from_quarantine_is_checked_for_duplicates(db):
    from server.store import open_db
    scratch = open_db(":memory:", migrate=True)
    db.version = publish_builtin_rss(scratch)["version"]
    scratch.close()
    push(db, build(BEST))
    second = push(db, build(BEST), device="tablet-2", user="enum2")
    assert second["status"] == "flagged" and "form_version_unknown" in second["flags"]
    publish_builtin_rss(db)  # releases both, oldest first
    row = db.execute("SELECT state, flags FROM submissions WHERE instance_id = ?",
                     [second["instance_id"]]).fetchone()
    assert row[0] == "current" and FLAG in row[1]
    assert reasons(db, second["instance_id"]) == ["same_key"]


def test_hq_keeps_its_own_probable_duplicate_flag_when_an_office_forwards_an_update(rss):
    push(rss, build(BEST), device="tablet-1", user="enum1")  # held by HQ already
    rec = {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
           "form_version": rss.version, "data": build(BEST), "flags": [],
           "origin": {"device_id": "tablet-7", "user": "enum7", "office_seq": 1}}
    first = ingest(rss, [rec], door="forward", user="office-a")[0]
    assert FLAG in first["flags"]
    update = {**rec, "review_state": "approved",
              "origin": {**rec["origin"], "office_seq": 2}}
    assert ingest(rss, [update], door="forward", user="office-a")[0]["status"] == "duplicate"
    row = rss.execute("SELECT review_state, flags FROM submissions WHERE instance_id = ?",
                      [rec["instance_id"]]).fetchone()
    assert row[0] == "approved" and FLAG in row[1]


def test_migration_0013_drops_the_stored_typo_index_and_typos_are_still_found(rss):
    from server.store.migrations.core import m0013_typo_keys_by_round_and_day
    push(rss, build(BEST, interview_date="2026-02-10"))
    rss.execute("DROP INDEX respondent_keys_round_day")  # as before 0013
    rss.execute("DROP INDEX respondent_keys_person")
    rss.execute("CREATE INDEX respondent_keys_person ON respondent_keys(form_id, person_norm)")
    rss.execute("CREATE TABLE respondent_key_deletions (variant TEXT)")
    m0013_typo_keys_by_round_and_day(rss)
    names = {r[0] for r in rss.execute("SELECT name FROM sqlite_master")}
    assert "respondent_key_deletions" not in names
    assert {"respondent_keys_round_day", "respondent_keys_person"} <= names
    typo = push(rss, build(BEST, case_id="GIN-2026-00071", interview_date="2026-02-12"),
                device="tablet-9", user="enum9")
    assert reasons(rss, typo["instance_id"]) == ["case_id_typo"]

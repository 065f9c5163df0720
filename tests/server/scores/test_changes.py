"""Trajectories and paired change over stored RSS records: the same person whatever
the case id's typing, rejected records left out, a repeated round counted once.

Records are WORST answers but econ_satisfaction, so composite = 0.05 x its value
(very_dissatisfied 0, dissatisfied 0.0125, neutral 0.025, satisfied 0.0375,
very_satisfied 0.05)."""

from __future__ import annotations

import pytest

from server.errors import FieldsyncError
from server.ingest.pipeline import ingest
from server.registry.publish import publish_builtin_rss
from server.review.actions import review_set
from server.scores.specs import install_builtin_specs
from server.scores.trends import changes, trajectories
from tests.helpers.scoring import envelope, satisfaction_record

PEOPLE = [  # case id as typed, round, interview date, econ_satisfaction
    ("GIN-0001", "baseline", "2026-01-10", "very_dissatisfied"),
    ("GIN-0001", "6m", "2026-07-10", "very_satisfied"),          # +0.05
    ("gin 0002", "baseline", "2026-01-11", "satisfied"),
    ("GIN-0002", "6m", "2026-07-11", "neutral"),                 # -0.0125
    ("GIN-0003", "baseline", "2026-01-12", "neutral"),
    ("GIN-0003", "6m", "2026-07-12", "very_satisfied"),          # rejected below
    ("GIN-0004", "baseline", "2026-01-13", "dissatisfied"),
    ("GIN-0004", "6m", "2026-07-13", "very_satisfied"),          # +0.0375
    ("GIN-0004", "6m", "2026-07-20", "very_dissatisfied"),       # a repeat of that round
]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    from server.store import open_db

    database = open_db(tmp_path_factory.mktemp("changes") / "store.db", migrate=True)
    install_builtin_specs(database)
    version = publish_builtin_rss(database)["version"]
    for case_id, round_, when, choice in PEOPLE:
        rec = envelope(satisfaction_record(choice, interview=when, round_=round_,
                                           case_id=case_id), version)
        ingest(database, [rec], door="sync", user="enum1")
        if case_id == "GIN-0003" and round_ == "6m":
            review_set(database, rec["instance_id"], "rejected", "not the returnee",
                       actor="sup")
    yield database
    database.close()


def test_paired_change_over_stored_records_matches_the_hand_computation(db):
    answer = changes(db, "rss", "baseline", "6m", tolerance=0.01)
    assert answer["scoring_version"] == "rss-v1" and answer["n"] == 3
    assert answer["left_out"] == {"missing_round": 1, "repeated_round": 1}
    [group] = answer["groups"]
    composite = group["scores"]["composite"]
    # +0.05, -0.0125, +0.0375: mean 0.025; sd sqrt(0.0021875 / 2); half 4.303 sd / sqrt(3)
    assert composite["mean_change"] == pytest.approx(0.025)
    assert composite["ci95"] == pytest.approx([-0.057162, 0.107162], abs=1e-6)
    assert group["composite"]["rose"]["n"] == 2 and group["composite"]["fell"]["n"] == 1


def test_one_returnees_trajectory_whatever_the_case_id_typing(db):
    answer = trajectories(db, "rss", case_id="GIN 0002")
    [person] = answer["people"]
    assert [r["round"] for r in person["rounds"]] == ["baseline", "6m"]
    assert [r["scores"]["composite"] for r in person["rounds"]] == pytest.approx(
        [0.0375, 0.025])
    everyone = trajectories(db, "rss", limit=2)
    assert len(everyone["people"]) == 2 and everyone["next"] == "GIN0002"
    rest = trajectories(db, "rss", after=everyone["next"])
    assert [p["person"] for p in rest["people"]] == ["GIN0003", "GIN0004"]
    assert len(rest["people"][0]["rounds"]) == 1  # the rejected 6m is left out


def test_rounds_the_form_does_not_have_and_unknown_groupings_are_refused(db):
    with pytest.raises(FieldsyncError) as err:
        changes(db, "rss", "baseline", "36m")
    assert err.value.code == "bad_request" and "36m" in err.value.message
    with pytest.raises(FieldsyncError):
        changes(db, "rss", "baseline", "6m", by="quarter")

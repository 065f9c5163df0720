"""A forwarding peer's token (an office's account at HQ) opens the forwarding door
and nothing else; what it says about a record (origin, review state, scores,
flags) is its claim, shown as such, and never rewrites a record HQ received
another way, another office's record, or HQ's own review."""

from __future__ import annotations

import copy

import pytest

from tests.helpers.accounts import Site
from tests.helpers.records import batch, household_record


@pytest.fixture(scope="module")
def hq(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("peer-claims"), ROLE="hq", OFFICE="hq")
    site.peer = site.add("office-gin", "peer")
    site.other_peer = site.add("office-sen", "peer")
    site.enum = site.add("hq-enum", "enumerator")
    site.boss = site.add("hq-boss", "supervisor")
    return site


def forwarded(record: dict, office_seq: int, **claims) -> dict:
    """A record as an office forwards it: its own state and provenance."""
    rec = copy.deepcopy(record)
    rec["origin"] = {"door": "sync", "user": "gin-enum", "office": "gin-conakry",
                     "received_at": "2026-11-01T10:00:00.000Z", "office_seq": office_seq,
                     "scoring_version": None}
    rec.update({"review_state": "received", "flags": [], "scores": None, **claims})
    return rec


def push(site, token, records, device_id="office"):
    r = site.call("POST", "/api/v1/sync/push", token=token,
                  json=batch(records, device_id=device_id))
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["results"]


def held(site, instance_id):
    return site.call("GET", f"/api/v1/submissions/{instance_id}",
                     token=site.admin_token).get_json()


@pytest.mark.parametrize("method,path", [
    ("GET", "/formList"), ("HEAD", "/submission"), ("GET", "/api/v1/forms"),
    ("GET", "/api/v1/changes"), ("GET", "/api/v1/forms/tform/submissions"),
    ("POST", "/api/v1/submissions/uuid:1f0c0000-0000-0000-0000-000000000000/review"),
    ("POST", "/api/v1/scoring/specs"), ("GET", "/api/v1/review/queue"),
])
def test_a_peer_token_opens_only_the_forwarding_door(hq, method, path):
    assert hq.call(method, path, token=hq.peer).status_code == 403


def test_a_peer_cannot_rewrite_a_record_hq_received_itself(hq):
    own = household_record("HQ-OWN")
    [mine] = push(hq, hq.enum, [own], device_id="hq-tablet")
    claim = forwarded(own, 99, review_state="approved", flags=["invalid"],
                      scores={"scores": {"composite": 0.0}})
    [answer] = push(hq, hq.peer, [claim])
    assert answer["status"] == "duplicate" and answer["seq"] == mine["seq"]
    row = held(hq, own["instance_id"])
    assert row["review_state"] == "received" and row["flags"] == []
    assert row["origin"]["user"] == "hq-enum" and row["claimed_by"] is None


def test_what_a_peer_forwards_is_kept_as_its_claim_and_shown_as_such(hq):
    rec = household_record("GIN-1")
    push(hq, hq.peer, [forwarded(rec, 5, review_state="approved")])
    row = held(hq, rec["instance_id"])
    assert row["claimed_by"] == "office-gin" and row["review_state"] == "approved"
    assert row["origin"]["office"] == "gin-conakry"
    assert row["origin"]["forwarded_by"] == "office-gin"
    change = hq.call("GET", "/api/v1/changes?since=0&limit=1000",
                     token=hq.admin_token).get_json()["changes"]
    assert {c["instance_id"]: c["claimed_by"] for c in change}[rec["instance_id"]] == \
        "office-gin"


def test_another_peer_cannot_change_what_one_office_forwarded(hq):
    rec = household_record("GIN-2")
    push(hq, hq.peer, [forwarded(rec, 6, review_state="approved")])
    push(hq, hq.other_peer, [forwarded(rec, 60, review_state="rejected",
                                       flags=["invalid"])])
    row = held(hq, rec["instance_id"])
    assert row["review_state"] == "approved" and row["flags"] == []
    assert row["claimed_by"] == "office-gin"


def test_a_review_made_at_hq_is_not_overwritten_by_a_later_forwarded_claim(hq):
    rec = household_record("GIN-3")
    push(hq, hq.peer, [forwarded(rec, 7, review_state="approved")])
    r = hq.call("POST", f"/api/v1/submissions/{rec['instance_id']}/review", token=hq.boss,
                json={"state": "rejected", "comment": "fabricated at HQ's check"})
    assert r.status_code == 200
    push(hq, hq.peer, [forwarded(rec, 8, review_state="approved", flags=["invalid"])])
    row = held(hq, rec["instance_id"])
    assert row["review_state"] == "rejected"
    assert row["flags"] == ["invalid"]  # the office's own findings still arrive


def test_a_comment_made_at_hq_leaves_the_offices_review_state_coming(hq):
    from server.review.actions import review_comment

    rec = household_record("GIN-4")
    push(hq, hq.peer, [forwarded(rec, 9, review_state="received")])
    db = hq.db()
    try:
        review_comment(db, rec["instance_id"], "asked the office about the age", "hq-boss")
    finally:
        db.close()
    push(hq, hq.peer, [forwarded(rec, 10, review_state="approved")])
    assert held(hq, rec["instance_id"])["review_state"] == "approved"


def test_a_peer_may_supersede_only_what_it_forwarded(hq):
    own = household_record("HQ-EDITED")
    push(hq, hq.enum, [own], device_id="hq-tablet")
    hostile = forwarded(household_record("PEER-EDIT", deprecated_id=own["instance_id"]), 9)
    [answer] = push(hq, hq.peer, [hostile])
    assert answer["status"] == "conflict" and "edit_unauthorized" in answer["flags"]
    assert held(hq, own["instance_id"])["data"]["case_id"] == "HQ-EDITED"
    mine = household_record("GIN-4")
    push(hq, hq.peer, [forwarded(mine, 10)])
    edit = forwarded(household_record("GIN-4b", deprecated_id=mine["instance_id"]), 11)
    [answer] = push(hq, hq.peer, [edit])
    assert answer["status"] == "updated"

"""Forwarding to HQ, in process: the office store, the forwarder and an HQ app
answering through a test session. The live two-server version is
test_forward_live.py."""

from __future__ import annotations

import random

import pytest

from server.forwarding import outbox
from server.forwarding.forwarder import forward_once, forward_until_idle
from server.store import open_db
from server.store import submissions as subs_q
from tests.helpers.forwarding import (AppSession, held, hq_app, ingest_at_office,
                                      office_store, rss_records, rss_version)

NO_SLEEP = {"sleep": lambda s: None, "rng": random.Random(1)}


@pytest.fixture
def pair(tmp_path):
    office = office_store(tmp_path / "office.db")
    app, token = hq_app(tmp_path / "hq.db")
    session = AppSession(app)
    outbox.upstream_set(office, "http://hq.invalid", token)
    hq = open_db(tmp_path / "hq.db")
    yield office, hq, session
    office.close()
    hq.close()


def forward(office, session, **kw):
    return forward_until_idle(office, session, office="gin-conakry", force=True,
                              **NO_SLEEP, **kw)


def test_every_record_reaches_hq_once_with_the_office_scores_and_provenance(pair):
    office, hq, session = pair
    ingest_at_office(office, rss_records(120, rss_version(office)))
    result = forward(office, session, batch_size=25, window=50)
    assert result["sent"] == 120 and result["status"] in ("ok", "idle")
    mine, theirs = held(office), held(hq)
    assert set(mine) == set(theirs)
    for iid, row in mine.items():
        copy = theirs[iid]
        assert copy["content_hash"] == row["content_hash"]
        assert copy["scores"] == row["scores"]
        assert copy["scoring_version"] == row["scoring_version"]
        assert copy["origin"]["office"] == "gin-conakry"
        assert copy["origin"]["device_id"] == "tab-1"
        assert copy["origin"]["user"] == "enum"
        assert copy["origin"]["received_at"] == row["received_at"]
        assert copy["origin"]["door"] == "sync"
    assert outbox.outbox_status(office)["queued"] == 0


def test_outbox_queues_a_record_in_its_ingest_transaction(pair):
    office, _hq, _session = pair
    before = outbox.outbox_status(office)["queued"]
    ingest_at_office(office, rss_records(3, rss_version(office), seed=5))
    assert outbox.outbox_status(office)["queued"] == before + 3


def test_forwarding_twice_sends_nothing_new_and_hq_holds_each_record_once(pair):
    office, hq, session = pair
    ingest_at_office(office, rss_records(30, rss_version(office)))
    forward(office, session)
    again = forward(office, session)
    assert again["sent"] == 0
    assert subs_q.count(hq) == 30


def test_resending_after_a_lost_cursor_is_answered_duplicate(pair):
    office, hq, session = pair
    ingest_at_office(office, rss_records(20, rss_version(office)))
    forward(office, session)
    office.execute("UPDATE upstream SET cursor = 0")
    result = forward_once(office, session, office="gin-conakry", force=True, **NO_SLEEP)
    assert result["by_status"] == {"duplicate": 20}
    assert subs_q.count(hq) == 20


def test_rescored_and_reviewed_records_update_hq(pair):
    office, hq, session = pair
    ingest_at_office(office, rss_records(10, rss_version(office)))
    forward(office, session)
    rows = list(held(office).values())
    with office.atomic():  # what a rescoring job and a supervisor's review would do
        new_scores = {**rows[0]["scores"], "scores": {**rows[0]["scores"]["scores"],
                                                     "composite": 0.123}}
        subs_q.update(office, rows[0]["id"], scores=new_scores, scoring_version="rss-v2")
        subs_q.update(office, rows[1]["id"], review_state="approved",
                      flags=rows[1]["flags"] + ["reviewed"])
    result = forward(office, session)
    assert result["sent"] == 2
    theirs = held(hq)
    assert theirs[rows[0]["instance_id"]]["scores"]["scores"]["composite"] == 0.123
    assert theirs[rows[0]["instance_id"]]["scoring_version"] == "rss-v2"
    assert theirs[rows[1]["instance_id"]]["review_state"] == "approved"
    assert "reviewed" in theirs[rows[1]["instance_id"]]["flags"]
    assert subs_q.count(hq) == 10


def test_an_older_forwarded_state_never_overwrites_a_newer_one(pair):
    office, hq, session = pair
    ingest_at_office(office, rss_records(1, rss_version(office)))
    forward(office, session)
    row = next(iter(held(office).values()))
    with office.atomic():
        subs_q.update(office, row["id"], review_state="approved")
    forward(office, session)
    office.execute("UPDATE submissions SET review_state = 'received', seq = 1 "
                   "WHERE id = ?", [row["id"]])  # an old state replayed
    office.execute("UPDATE upstream SET cursor = 0")
    forward(office, session)
    assert held(hq)[row["instance_id"]]["review_state"] == "approved"


def test_an_edit_and_the_record_it_edits_reach_hq_in_order(pair):
    office, hq, session = pair
    first = rss_records(1, rss_version(office), seed=3)[0]
    ingest_at_office(office, [first])
    edit = {**first, "instance_id": "uuid:edit-0000-0001", "deprecated_id": first["instance_id"],
            "data": {**first["data"], "case_id": "GIN-2026-99999"}}
    ingest_at_office(office, [edit])  # supersedes the first: its seq now follows the edit
    forward(office, session, batch_size=1)
    theirs = held(hq)
    assert theirs[first["instance_id"]]["state"] == "superseded"
    assert theirs[edit["instance_id"]]["state"] == "current"
    assert "edit_of_unknown" not in theirs[edit["instance_id"]]["flags"]


def test_hq_outage_backs_off_and_keeps_everything_queued(pair):
    office, hq, session = pair
    ingest_at_office(office, rss_records(15, rss_version(office)))
    session.down = True
    result = forward_once(office, session, office="gin-conakry", force=True, **NO_SLEEP)
    status = outbox.outbox_status(office)
    assert result["status"] == "failed" and status["failures"] == 1
    assert status["queued"] == 15 and status["last_error"]
    assert forward_once(office, session, office="gin-conakry", **NO_SLEEP)["status"] in (
        "backing_off", "failed")
    session.down = False
    forward(office, session)
    assert subs_q.count(hq) == 15
    assert outbox.outbox_status(office)["failures"] == 0


def test_a_refused_record_becomes_a_dead_letter_and_can_be_retried(pair):
    office, hq, session = pair
    records = rss_records(12, rss_version(office))
    ingest_at_office(office, records)
    bad = records[4]["instance_id"]
    session.refuse = {bad}
    result = forward(office, session, batch_size=6)
    assert result["dead"] == 1 and result["sent"] == 11
    status = outbox.outbox_status(office)
    assert status["queued"] == 0 and status["dead"] == 1
    [letter] = outbox.outbox_list(office)
    assert letter["instance_id"] == bad and "refused by test" in letter["reason"]
    session.refuse = set()
    assert outbox.outbox_retry(office, [bad]) == 1
    forward(office, session)
    assert outbox.outbox_status(office)["dead"] == 0
    assert bad in held(hq) and subs_q.count(hq) == 12


def test_missing_attachment_bytes_are_uploaded_when_hq_asks(pair):
    office, hq, session = pair
    body = b"\x89PNG fake photo bytes"
    import hashlib
    sha = hashlib.sha256(body).hexdigest()
    rec = rss_records(1, rss_version(office), seed=9)[0]
    rec["attachments"] = [{"name": "photo.jpg", "sha256": sha, "size": len(body)}]
    with office.atomic():
        subs_q.put_blob(office, sha, body)
    ingest_at_office(office, [rec])
    forward(office, session)
    assert ("PUT", f"/api/v1/attachments/{sha}") in session.calls
    assert subs_q.get_blob(hq, sha) == body

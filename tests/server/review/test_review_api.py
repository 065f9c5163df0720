"""The supervisor's review over real HTTP on loopback: queues, review states,
probable duplicates and their resolution; nothing is ever deleted."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers.records import batch
from tests.helpers.rss_records import BEST, WORST, build


@pytest.fixture
def srv(live_server, admin):
    live_server.admin = admin
    live_server.version = admin.get(f"{live_server.url}/api/v1/forms/rss").json()[
        "current_version"]
    live_server.sup = live_server.session(live_server.token_for("sam", "supervisor"))
    live_server.enum = live_server.session(live_server.token_for("eve", "enumerator"))
    live_server.analyst = live_server.session(live_server.token_for("ana", "analyst"))
    return live_server


def push(srv, data, device="tablet-1", **extra):
    rec = {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
           "form_version": srv.version, "data": data, **extra}
    body = srv.enum.post(f"{srv.url}/api/v1/sync/push",
                         json=batch([rec], device_id=device)).json()
    return body["results"][0]


def api(srv, method, path, who=None, **kw):
    return getattr(who or srv.sup, method)(f"{srv.url}/api/v1{path}", **kw)


def pair(srv):
    """An original and a probable duplicate of it (same key); returns the match."""
    first = push(srv, build(BEST))
    second = push(srv, build(BEST, econ_satisfaction="satisfied", case_id="gin-2026-00017"),
                  device="tablet-2")
    assert second["status"] == "flagged"
    matches = api(srv, "get", "/duplicates").json()["duplicates"]
    return first, second, matches[-1]


def count_rows(srv):
    db = srv.db()
    try:
        return db.execute("SELECT count(*) FROM submissions").fetchone()[0]
    finally:
        db.close()


def test_enumerators_and_analysts_get_403_on_every_review_endpoint(srv):
    first = push(srv, build(BEST))
    calls = [("get", "/review/queue?kind=flagged", None),
             ("get", f"/review/submissions/{first['instance_id']}", None),
             ("post", f"/submissions/{first['instance_id']}/review", {"state": "approved"}),
             ("get", "/duplicates", None),
             ("post", "/duplicates/1/resolve", {"action": "keep_both"})]
    for who in (srv.enum, srv.analyst):
        for method, path, body in calls:
            r = api(srv, method, path, who=who, json=body)
            assert r.status_code == 403, (path, r.text)
            assert r.json()["error"]["code"] == "forbidden"


def test_review_state_with_comment_is_kept_with_who_and_in_the_changes_feed(srv):
    rec = push(srv, build(BEST))
    r = api(srv, "post", f"/submissions/{rec['instance_id']}/review",
            json={"state": "has_issues", "comment": "age looks wrong"})
    assert r.status_code == 200
    shown = r.json()
    assert shown["review_state"] == "has_issues" and shown["seq"] > rec["seq"]
    assert shown["reviews"][-1]["actor"] == "sam"
    assert shown["reviews"][-1]["comment"] == "age looks wrong"
    assert shown["reviews"][-1]["previous_state"] == "received"
    feed = srv.admin.get(f"{srv.url}/api/v1/changes?since={rec['seq']}").json()["changes"]
    assert [c["review_state"] for c in feed if c["instance_id"] == rec["instance_id"]] == [
        "has_issues"]
    audit = srv.admin.get(f"{srv.url}/api/v1/audit?action=submission.review").json()
    assert audit["entries"][0]["actor"] == "sam"
    assert audit["entries"][0]["details"]["comment"] == "age looks wrong"


def test_a_comment_is_kept_in_the_history_without_changing_the_state(srv):
    rec = push(srv, build(BEST))
    api(srv, "post", f"/submissions/{rec['instance_id']}/review", json={"state": "approved"})
    r = api(srv, "post", f"/submissions/{rec['instance_id']}/comments",
            json={"comment": "supervisor visited the household"})
    assert r.status_code == 200 and r.json()["actor"] == "sam"
    shown = api(srv, "get", f"/review/submissions/{rec['instance_id']}").json()
    assert shown["review_state"] == "approved"
    assert [(h["action"], h["comment"]) for h in shown["reviews"]] == [
        ("review", None), ("comment", "supervisor visited the household")]
    long = api(srv, "post", f"/submissions/{rec['instance_id']}/comments",
               json={"comment": "x" * 10_001})
    assert long.status_code == 400 and "at most 10000" in long.json()["error"]["message"]
    assert api(srv, "post", f"/submissions/{rec['instance_id']}/comments", who=srv.analyst,
               json={"comment": "not mine to say"}).status_code == 403


def test_an_unknown_review_state_is_refused_with_what_to_fix(srv):
    rec = push(srv, build(BEST))
    r = api(srv, "post", f"/submissions/{rec['instance_id']}/review", json={"state": "ok"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed"
    r = api(srv, "post", "/submissions/uuid:nope/review", json={"state": "approved"})
    assert r.status_code == 404


def test_queues_list_flagged_conflicts_duplicates_and_quarantine_with_filters(srv):
    bad = push(srv, build(WORST, case_id="GIN-1", econ_satisfaction="ecstatic"))
    _, dupe, _ = pair(srv)
    rec = {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
           "form_version": srv.version,
           "data": build(WORST, case_id="SEN-ABC", interview_date="2025-10-01")}
    srv.enum.post(f"{srv.url}/api/v1/sync/push", json=batch([rec]))
    rec2 = dict(rec, data=build(WORST, case_id="GIN-6"))
    srv.enum.post(f"{srv.url}/api/v1/sync/push", json=batch([rec2]))
    unknown = {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
               "form_version": "1999", "data": build(BEST)}
    srv.enum.post(f"{srv.url}/api/v1/sync/push", json=batch([unknown]))

    def ids(kind, **params):
        r = api(srv, "get", "/review/queue", params={"kind": kind, **params})
        assert r.status_code == 200, r.text
        return [i["instance_id"] for i in r.json()["items"]]

    assert ids("flagged") == [bad["instance_id"]]
    assert ids("duplicates") == [dupe["instance_id"]]
    assert ids("duplicates", device="tablet-2") == [dupe["instance_id"]]
    assert ids("duplicates", device="tablet-1") == []
    assert ids("duplicates", enumerator="eve", form_id="rss") == [dupe["instance_id"]]
    assert ids("duplicates", since="2999-01-01") == []
    assert ids("conflicts") == [rec["instance_id"]]
    assert ids("quarantined") == [unknown["instance_id"]]
    api(srv, "post", f"/submissions/{bad['instance_id']}/review", json={"state": "rejected"})
    assert ids("flagged") == []
    assert ids("flagged", state="rejected") == [bad["instance_id"]]
    assert api(srv, "get", "/review/queue?kind=nope").status_code == 400


def test_duplicates_show_why_reasons_similarity_and_differing_answers(srv):
    first, second, match = pair(srv)
    assert match["submission"]["instance_id"] == second["instance_id"]
    assert match["other"]["instance_id"] == first["instance_id"]
    assert [r["rule"] for r in match["reasons"]] == ["same_key", "near_identical"]
    assert match["reasons"][1]["by"] == ["enumerator"]  # both pushed by eve
    assert 0.9 < match["similarity"] < 1
    assert match["differences"] == [{"field": "econ/econ_satisfaction",
                                     "this": "satisfied", "other": "very_satisfied"}]
    shown = api(srv, "get", f"/review/submissions/{second['instance_id']}").json()
    assert shown["duplicates"][0]["match_id"] == match["match_id"]


def test_keep_both_resolves_the_match_and_clears_the_flag(srv):
    first, second, match = pair(srv)
    r = api(srv, "post", f"/duplicates/{match['match_id']}/resolve",
            json={"action": "keep_both", "comment": "twins"})
    assert r.status_code == 200 and r.json()["resolution"] == "keep_both"
    got = srv.admin.get(f"{srv.url}/api/v1/submissions/{second['instance_id']}").json()
    assert "probable_duplicate" not in got["flags"] and got["seq"] > second["seq"]
    assert api(srv, "get", "/duplicates").json()["duplicates"] == []
    assert len(api(srv, "get", "/duplicates?status=resolved").json()["duplicates"]) == 1
    again = api(srv, "post", f"/duplicates/{match['match_id']}/resolve",
                json={"action": "keep_both"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "match_resolved"
    assert again.json()["error"]["details"]["resolution"] == "keep_both"


def test_mark_duplicate_sets_state_flag_and_link_and_deletes_nothing(srv):
    first, second, match = pair(srv)
    before = count_rows(srv)
    r = api(srv, "post", f"/duplicates/{match['match_id']}/resolve",
            json={"action": "mark_duplicate", "duplicate": second["instance_id"]})
    assert r.json()["duplicate_instance_id"] == second["instance_id"]
    got = srv.admin.get(f"{srv.url}/api/v1/submissions/{second['instance_id']}").json()
    assert got["review_state"] == "duplicate" and "duplicate" in got["flags"]
    shown = api(srv, "get", f"/review/submissions/{second['instance_id']}").json()
    assert shown["reviews"][-1]["duplicate_of"] == first["instance_id"]
    assert count_rows(srv) == before
    kept = srv.admin.get(f"{srv.url}/api/v1/submissions/{first['instance_id']}").json()
    assert kept["review_state"] == "received" and "duplicate" not in kept["flags"]


def test_merge_makes_a_new_version_from_chosen_answers_and_keeps_history(srv):
    first, second, match = pair(srv)
    before = count_rows(srv)
    r = api(srv, "post", f"/duplicates/{match['match_id']}/resolve",
            json={"action": "merge", "base": first["instance_id"],
                  "take": ["econ/econ_satisfaction"], "values": {"age": "41"},
                  "comment": "same interview entered twice"})
    assert r.status_code == 200, r.text
    merged_id = r.json()["merged_instance_id"]
    assert merged_id.startswith("uuid:") and merged_id not in (
        first["instance_id"], second["instance_id"])
    merged = srv.admin.get(f"{srv.url}/api/v1/submissions/{merged_id}").json()
    assert merged["deprecated_id"] == first["instance_id"]
    assert merged["logical_id"] == first["instance_id"]
    assert merged["data"]["econ"]["econ_satisfaction"] == "satisfied"
    assert merged["data"]["age"] == "41"
    assert merged["origin"]["door"] == "review" and merged["origin"]["user"] == "sam"
    assert [v["state"] for v in merged["versions"]] == ["superseded", "current"]
    donor = srv.admin.get(f"{srv.url}/api/v1/submissions/{second['instance_id']}").json()
    assert donor["review_state"] == "duplicate" and "duplicate" in donor["flags"]
    assert "probable_duplicate" not in merged["flags"]
    assert count_rows(srv) == before + 1  # the new version; nothing deleted


def test_merge_refuses_unknown_fields_and_changes_nothing(srv):
    _, _, match = pair(srv)
    before = count_rows(srv)
    r = api(srv, "post", f"/duplicates/{match['match_id']}/resolve",
            json={"action": "merge", "take": ["econ/nope"]})
    assert r.status_code == 400 and r.json()["error"]["details"]["fields"] == ["econ/nope"]
    assert count_rows(srv) == before
    assert api(srv, "get", "/duplicates").json()["duplicates"][0]["resolution"] is None


def test_resolving_an_unknown_match_or_with_a_bad_action_is_refused(srv):
    r = api(srv, "post", "/duplicates/999/resolve", json={"action": "keep_both"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "match_unknown"
    r = api(srv, "post", "/duplicates/1/resolve", json={"action": "delete"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed"

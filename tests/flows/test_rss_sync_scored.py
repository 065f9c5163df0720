"""An RSS record pushed by a device is validated and scored the moment it lands."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers.records import batch
from tests.helpers.rss_records import BEST, WORST, build


@pytest.fixture
def rss(live_server, admin):
    version = admin.get(f"{live_server.url}/api/v1/forms/rss").json()["current_version"]
    live_server.admin = admin
    live_server.device = live_server.session(live_server.token_for("enum", "enumerator"))
    live_server.rss_version = version
    return live_server


def push_rss(srv, data):
    rec = {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
           "form_version": srv.rss_version, "data": data}
    result = srv.device.post(f"{srv.url}/api/v1/sync/push", json=batch([rec])).json()
    got = srv.admin.get(f"{srv.url}/api/v1/submissions/{rec['instance_id']}").json()
    return result["results"][0], got


def test_best_answers_score_one_and_worst_zero(rss):
    _, best = push_rss(rss, build(BEST))
    _, worst = push_rss(rss, build(WORST))
    assert best["scoring_version"] == "rss-v1"
    assert best["scores"]["scores"]["composite"] == pytest.approx(1.0)
    assert worst["scores"]["scores"]["composite"] == pytest.approx(0.0)
    assert set(best["scores"]["scores"]) >= {"economic", "social", "psychosocial", "composite"}


def test_invalid_answer_is_stored_flagged_with_findings_not_refused(rss):
    result, got = push_rss(rss, build(BEST, econ_satisfaction="ecstatic"))
    assert result["status"] == "flagged" and "invalid" in result["flags"]
    assert any(f["code"] == "choice_unknown" and f["path"].endswith("econ_satisfaction")
               for f in got["findings"])
    assert got["state"] == "current"


def test_bare_field_names_are_nested_into_the_form_shape(rss):
    flat = {"case_id": "GIN-1", "survey_round": "baseline", "consent": "yes",
            "econ_satisfaction": "satisfied"}
    _, got = push_rss(rss, flat)
    assert got["data"]["econ"]["econ_satisfaction"] == "satisfied"
    db = rss.db()
    try:
        value = db.execute('SELECT "econ/econ_satisfaction" FROM "answers__rss"').fetchone()
    finally:
        db.close()
    assert value == ("satisfied",)

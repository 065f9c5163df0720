"""GET /api/v1/scores/trends and `fieldsync trends` over a small RSS dataset whose
groups, means, medians and 95% intervals are worked out by hand below."""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys

import pytest

from server.store import submissions as subs_q
from server.store.db import write_transaction
from tests.helpers.scoring import envelope, push, satisfaction_record
from tests.helpers.rss_records import BEST, build

# rss-v1 with WORST answers: composite = 0.05 x econ_satisfaction's value,
# economic = 0.15 x that value; all-BEST answers score 1.
T975 = {1: 12.706, 2: 4.303, 4: 2.776}  # Student's t, two-sided 95%, by degrees of freedom


def by_hand(values: list[float]) -> dict:
    n = len(values)
    mean = sum(values) / n
    ci = None
    if n >= 2:
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
        half = T975[n - 1] * sd / math.sqrt(n)
        ci = [mean - half, mean + half]
    return {"n": n, "mean": mean, "median": statistics.median(values), "ci95": ci}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Counted: A, B, C (GIN Q1, 6m), D (GIN Q2, 12m), E, F (SEN Q1, 6m).
    Left out: F's first version (superseded by its edit), G (a conflict: the same
    instanceID sent again with other content), H (rejected), I (resolved as a
    duplicate)."""
    from tests.helpers.live import LiveServer

    srv = LiveServer(tmp_path_factory.mktemp("trends") / "trends.db").start()
    admin = srv.session(srv.token_for("ama", "admin"))
    srv.analyst = srv.session(srv.token_for("ana", "analyst"))
    device = srv.session(srv.token_for("enum", "enumerator"))
    version = admin.get(f"{srv.url}/api/v1/forms/rss").json()["current_version"]

    def rec(data, **kw):
        return envelope(data, version, **kw)

    best = build(BEST)
    best.update(case_id="GIN-BEST", interview_date="2026-01-20")
    counted = [
        rec(satisfaction_record("very_satisfied", interview="2026-02-10")),           # A
        rec(satisfaction_record("neutral", interview="2026-03-01")),                  # B
        rec(best),                                                                    # C
        rec(satisfaction_record("satisfied", interview="2026-04-15", round_="12m")),  # D
        rec(satisfaction_record("very_dissatisfied", country="SEN",
                                interview="2026-02-01")),                             # E
    ]
    f_first = rec(satisfaction_record("very_satisfied", country="SEN",
                                      interview="2026-03-15", case_id="SEN-F"))
    g = rec(satisfaction_record("satisfied", country="SEN", interview="2026-02-02"))
    h = rec(satisfaction_record("very_satisfied", interview="2026-02-11"))
    i = rec(satisfaction_record("very_satisfied", interview="2026-02-12"))
    push(srv, device, counted + [f_first, g, h, i])
    f_edit = rec(satisfaction_record("dissatisfied", country="SEN", interview="2026-03-15",
                                     case_id="SEN-F"), deprecated_id=f_first["instance_id"])
    g_again = dict(g, data={**g["data"], "age": "40"})
    results = push(srv, device, [f_edit, g_again])
    assert [r["status"] for r in results] == ["updated", "conflict"]

    db = srv.db()
    try:
        with write_transaction(db):
            [row_h] = subs_q.by_instance(db, h["instance_id"])
            subs_q.update(db, row_h["id"], review_state="rejected")
            [row_i] = subs_q.by_instance(db, i["instance_id"])
            subs_q.update(db, row_i["id"], review_state="duplicate",
                          flags=row_i["flags"] + ["duplicate"])
    finally:
        db.close()
    yield srv
    srv.stop()


def trends(srv, **params):
    r = srv.analyst.get(f"{srv.url}/api/v1/scores/trends", params={"form_id": "rss", **params})
    return r


def assert_described(got: dict, values: list[float]) -> None:
    want = by_hand(values)
    assert got["n"] == want["n"]
    assert got["mean"] == pytest.approx(want["mean"], abs=1e-6)
    assert got["median"] == pytest.approx(want["median"], abs=1e-6)
    if want["ci95"] is None:
        assert got["ci95"] is None
    else:
        assert got["ci95"] == pytest.approx(want["ci95"], abs=1e-6)


def test_trends_by_country_and_quarter_count_only_current_unrejected_records(dataset):
    r = trends(dataset, by="country,quarter")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scoring_version"] == "rss-v1" and body["n"] == 6
    groups = {(g["group"]["country_of_return"], g["group"]["quarter"]): g
              for g in body["groups"]}
    assert list(groups) == [("GIN", "2026-Q1"), ("GIN", "2026-Q2"), ("SEN", "2026-Q1")]
    assert [g["n"] for g in groups.values()] == [3, 1, 2]
    assert_described(groups["GIN", "2026-Q1"]["scores"]["composite"], [0.05, 0.025, 1.0])
    assert_described(groups["GIN", "2026-Q1"]["scores"]["economic"], [0.15, 0.075, 1.0])
    assert_described(groups["GIN", "2026-Q2"]["scores"]["composite"], [0.0375])
    # SEN: E (0) and F's edit (dissatisfied, 0.0125), not F's first version (0.05).
    assert_described(groups["SEN", "2026-Q1"]["scores"]["composite"], [0.0, 0.0125])


def test_trends_of_one_country_hold_only_its_records(dataset):
    body = trends(dataset, by="round", country="SEN").json()
    assert body["n"] == 2  # E and F's edit
    [group] = body["groups"]
    assert_described(group["scores"]["composite"], [0.0, 0.0125])
    assert trends(dataset, by="round", country="MLI").json()["n"] == 0


def test_trends_by_round(dataset):
    body = trends(dataset, by="round").json()
    groups = {g["group"]["survey_round"]: g for g in body["groups"]}
    assert set(groups) == {"6m", "12m"}
    assert_described(groups["6m"]["scores"]["composite"], [0.05, 0.025, 1.0, 0.0, 0.0125])
    assert_described(groups["12m"]["scores"]["composite"], [0.0375])


def test_trends_by_months_since_return(dataset):
    body = trends(dataset, by="months_since_return").json()
    # All returned 2025-09-01. Whole months to the interview: C 4, A 5, E 5 (0-5);
    # B 6, F 6, D 7 (6-11).
    assert {g["group"]["months_since_return"]: g["n"] for g in body["groups"]} == {
        "0-5": 3, "6-11": 3}


def test_an_unknown_grouping_is_a_400_naming_the_choices(dataset):
    r = trends(dataset, by="country,planet")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_request"
    assert "months_since_return" in r.json()["error"]["message"]


def test_trends_for_an_unknown_form_is_404(dataset):
    r = dataset.analyst.get(f"{dataset.url}/api/v1/scores/trends",
                            params={"form_id": "nosuch"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "form_unknown"


def test_enumerators_may_not_read_trends(dataset):
    device = dataset.session(dataset.token_for("enum2", "enumerator"))
    r = device.get(f"{dataset.url}/api/v1/scores/trends", params={"form_id": "rss"})
    assert r.status_code == 403


def test_trends_cli_json_matches_the_api_and_the_table_names_the_groups(dataset):
    cmd = [sys.executable, "-m", "server.cli", "trends", "--form", "rss",
           "--by", "country,quarter", "--db", str(dataset.db_path)]
    out = subprocess.run(cmd + ["--format", "json"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == trends(dataset, by="country,quarter").json()
    table = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert table.returncode == 0
    assert "GIN" in table.stdout and "2026-Q2" in table.stdout and "composite" in table.stdout
    bad = subprocess.run(cmd[:-4] + ["--by", "planet", "--db", str(dataset.db_path)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stderr.startswith("fieldsync: error: ")

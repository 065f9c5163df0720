"""Probable-duplicate detection on a synthetic RSS population: precision and recall.

2,000 respondents in 1-4 rounds months apart (dense case ids, 8 tablets), 250
planted duplicates of five kinds (same key; key typed differently; re-interview
days after the previous round; near-identical answers from the same tablet
under another case id; case id one keystroke off, another enumerator). Every
record goes through the one ingest function, in pushes per tablet. A record
counts as detected when its push result carries the flag probable_duplicate.
"""

from __future__ import annotations

import pytest

from server.dedup import FLAG
from server.ingest.pipeline import ingest
from server.registry.publish import publish_builtin_rss
from server.registry.models import model_for
from tests.helpers.dedup_population import KINDS, batches, population


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    from server.store import open_db

    db = open_db(tmp_path_factory.mktemp("dedup") / "store.db", migrate=True)
    db.conn.execute("PRAGMA synchronous = OFF")  # test speed only; ingest is unchanged
    answer = publish_builtin_rss(db)
    model = model_for(db, "rss", answer["version"])
    items = population(model, respondents=2000, planted_each=50, seed=11)
    flagged = set()
    for group in batches(items):
        results = ingest(db, [it["rec"] for it in group], door="sync",
                         device_id=group[0]["device"], user=group[0]["user"])
        flagged |= {r["instance_id"] for r in results if FLAG in r["flags"]}
    yield db, items, flagged
    db.close()


def test_planted_duplicates_are_found_with_precision_and_recall_above_095(outcome):
    _, items, flagged = outcome
    planted = {it["rec"]["instance_id"]: it["planted"] for it in items if it["planted"]}
    hits = flagged & set(planted)
    precision = len(hits) / len(flagged)
    recall = len(hits) / len(planted)
    per_kind = {k: sum(1 for i, kind in planted.items() if kind == k and i in flagged)
                / sum(1 for kind in planted.values() if kind == k) for k in KINDS}
    print(f"\nduplicates: {len(items)} records, {len(planted)} planted, {len(flagged)} "
          f"flagged; precision {precision:.3f}, recall {recall:.3f}; recall per kind "
          + ", ".join(f"{k} {v:.2f}" for k, v in per_kind.items()))
    assert precision > 0.95
    assert recall > 0.95


def test_legitimate_follow_up_rounds_months_apart_are_not_flagged(outcome):
    _, items, flagged = outcome
    follow_ups = [it for it in items if not it["planted"]
                  and it["rec"]["data"]["survey_round"] != "baseline"]
    assert len(follow_ups) > 1000
    wrongly = [it for it in follow_ups if it["rec"]["instance_id"] in flagged]
    assert len(wrongly) / len(follow_ups) < 0.01


def test_each_match_names_the_rule_that_found_it(outcome):
    db, items, _ = outcome
    rules = {r[0] for r in db.execute(
        "SELECT DISTINCT json_extract(value, '$.rule') FROM duplicate_matches, "
        "json_each(duplicate_matches.reasons)").fetchall()}
    assert rules == {"same_key", "reinterview_too_close", "near_identical", "case_id_typo"}

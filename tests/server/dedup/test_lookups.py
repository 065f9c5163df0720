"""Where detection finds its candidates: indexed, bounded reads, and the same
matches whichever way the typo rule's keys are read."""

from __future__ import annotations

import uuid

import pytest

from server.dedup import FLAG, keys, typo_map
from server.dedup.lookups import Lookups
from server.ingest.pipeline import ingest
from server.registry.publish import publish_builtin_rss
from server.review.actions import review_rules
from server.store import duplicates as dup_q
from tests.helpers.rss_records import BEST, build


@pytest.fixture
def rss(db):
    db.version = publish_builtin_rss(db)["version"]
    return db


def push(db, data, device="tablet-1", user="enum1"):
    rec = {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
           "form_version": db.version, "data": data}
    return ingest(db, [rec], door="sync", device_id=device, user=user)[0]


def round_of(db):
    return db.execute("SELECT round_norm FROM respondent_keys LIMIT 1").fetchone()[0]


def test_candidate_lookups_use_indexes_never_a_scan_of_submissions(rss, monkeypatch):
    sqls = [
        (dup_q._CANDIDATE + "WHERE k.form_id = ? AND k.person_norm = ? " + dup_q._OTHER
         + "LIMIT ?", ["rss", "X", "l", 5]),
        dup_q.keys_in_days("rss", "1", 0, 10),  # read by the map's own connection
        dup_q.keys_changed_since(0, 10),
    ]
    captured = []
    rss.conn.set_trace_callback(captured.append)
    push(rss, build(BEST))
    push(rss, build(BEST))
    monkeypatch.setattr(typo_map, "WIDE_PUSH_WEEKS", 0)  # every push counts as wide
    monkeypatch.setattr(Lookups, "_read_near", lambda self, descs: {})
    push(rss, build(BEST))  # windows read from the store, one record at a time
    rss.conn.set_trace_callback(None)
    sqls += [(s, None) for s in captured
             if "respondent_key" in s and s.lstrip().upper().startswith("SELECT")]
    assert any("group_concat" in s for s, _ in sqls)
    assert any("INDEXED BY respondent_keys_person" in s for s, _ in sqls)
    assert len(sqls) >= 8
    for sql, params in sqls:
        plan = " | ".join(r[3] for r in rss.execute(f"EXPLAIN QUERY PLAN {sql}", params or []))
        assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), (sql, plan)


def test_typo_lookup_returns_a_bounded_number_of_keys_whatever_the_key(rss):
    review_rules(rss, "rss", {"max_candidates": 3})
    for _ in range(12):  # a placeholder case id typed again and again
        push(rss, build(BEST, case_id="UNKNOWN"))
    variants = keys.deletion_variants("UNKNOWN")
    probe = typo_map.Probe(frozenset(variants), -10**6, 10**6, 3, 0, None, 0, 0.0)
    found = typo_map.session(rss).neighbours("rss", round_of(rss), probe)
    assert 3 <= len(found) <= 3 * len(variants) < 12 * len(variants)


def test_a_wide_push_reads_the_newest_keys_of_a_placeholder_id_up_to_the_bound(rss):
    for _ in range(12):  # a placeholder case id typed again and again, the same day
        push(rss, build(BEST, case_id="UNKNOWN"))
    probe = typo_map.Probe(("NKNOWN",), -10**6, 10**6, 3, 0, None, 0, 0.0, "UNKNOWN")
    found = typo_map.session(rss, wide=True).neighbours("rss", round_of(rss), probe)
    newest = [r[0] for r in rss.execute(
        "SELECT submission_id FROM respondent_keys ORDER BY submission_id DESC LIMIT 3")]
    assert sorted(found) == sorted(newest)


def _matches_after_pushing(tmp_path, name):
    """Push one synthetic population (planted duplicates, whole tablets per push)
    into a fresh store; its matches and flags, by submission id."""
    from server.registry.models import model_for
    from server.store import open_db
    from tests.helpers.dedup_population import batches, population

    db = open_db(tmp_path / f"{name}.db", migrate=True)
    model = model_for(db, "rss", publish_builtin_rss(db)["version"])
    items = population(model, respondents=800, devices=6, planted_each=15, seed=11)
    for group in batches(items):
        ingest(db, [it["rec"] for it in group], door="sync", device_id=group[0]["device"],
               user=group[0]["user"])
    matches = db.execute("SELECT submission_id, other_id, reasons, similarity "
                         "FROM duplicate_matches ORDER BY 1, 2").fetchall()
    flags = db.execute("SELECT id, flags FROM submissions ORDER BY id").fetchall()
    db.close()
    return matches, flags


def test_every_way_of_reading_candidates_finds_exactly_the_same(tmp_path, monkeypatch):
    batch = _matches_after_pushing(tmp_path, "batch")
    # each record reads its device's and enumerator's window itself (a shared account)
    monkeypatch.setattr(Lookups, "_read_near", lambda self, descs: {})
    one_by_one = _matches_after_pushing(tmp_path, "one-by-one")
    monkeypatch.undo()
    monkeypatch.setattr(typo_map, "WIDE_PUSH_WEEKS", 0)  # typo windows read from the store
    from_store = _matches_after_pushing(tmp_path, "store")
    monkeypatch.undo()
    monkeypatch.setattr(typo_map, "MAP_KEYS", 50)  # weeks of the map dropped, read again
    small_map = _matches_after_pushing(tmp_path, "small-map")
    assert len(batch[0]) > 30  # the planted duplicates, found across and within pushes
    assert any("case_id_typo" in m[2] for m in batch[0])
    assert batch == one_by_one == from_store == small_map


WIDE_FORM = ("| survey |\n| | type | name | label |\n"
             + "".join(f"| | text | q{i} | Question {i} |\n" for i in range(70))
             + "| settings |\n| | form_id | version |\n| | wide | 2026120201 |\n")


def test_near_identical_records_of_a_form_comparing_over_64_fields_are_found_in_one_push(db):
    from server.registry.publish import forms_publish
    version = forms_publish(db, WIDE_FORM.encode(), "wide.md")["version"]
    data = {f"q{i}": f"answer {i}" for i in range(70)}  # no summary: the answers decide
    recs = [{"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "wide", "form_version": version,
             "data": dict(data)} for _ in range(2)]
    first, second = ingest(db, recs, door="sync", device_id="tablet-1", user="enum1")
    assert first["status"] == "created"
    assert second["status"] == "flagged" and FLAG in second["flags"]
    third = ingest(db, [{**recs[0], "instance_id": f"uuid:{uuid.uuid4()}"}], door="sync",
                   device_id="tablet-1", user="enum1")[0]  # and across pushes
    assert FLAG in third["flags"]

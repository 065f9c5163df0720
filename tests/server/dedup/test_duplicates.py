"""Probable duplicates at ingest: each rule, its thresholds, and what is not a duplicate."""

from __future__ import annotations

import uuid

import pytest

from server.dedup import rules as dup
from server.dedup.detect import FLAG
from server.ingest.pipeline import ingest
from server.registry.publish import publish_builtin_rss
from server.review.actions import review_rules
from tests.scoring.rss_records import BEST, WORST, build


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
    import json
    return sorted(r["rule"] for row in rows for r in json.loads(row[0]))


# Pure rules ------------------------------------------------------------------------

def test_key_normalisation_ignores_case_spaces_and_punctuation():
    assert dup.normalise_key_part(" gin-2024/00017 ") == "GIN202400017"
    assert dup.normalise_key_part("GIN 2024 00017") == "GIN202400017"
    assert dup.normalise_key_part("Conakry-é") == "CONAKRYE"


@pytest.mark.parametrize("a,b,expected", [
    ("GIN202400017", "GIN202400018", True),   # substitution
    ("GIN202400017", "GIN202400071", True),   # neighbours swapped
    ("GIN202400017", "GIN20240017", True),    # deletion
    ("GIN202400017", "GIN2024000017", True),  # insertion
    ("GIN202400017", "GIN202400017", True),
    ("GIN202400017", "GIN202400089", False),
    ("GIN202400017", "GIN202400710", False),
])
def test_within_one_edit_accepts_the_usual_typos_only(a, b, expected):
    assert dup.within_one_edit(a, b) is expected
    assert dup.within_one_edit(b, a) is expected


def test_keys_one_edit_apart_share_a_deletion_variant():
    for a, b in [("ABC123", "ABC124"), ("ABC123", "ABC213"), ("ABC123", "ABC1234")]:
        assert dup.deletion_variants(a) & dup.deletion_variants(b)


def test_signature_estimate_never_undershoots_the_exact_similarity():
    a = ["x", "y", None, "z", "w"]
    b = ["x", "q", "r", None, "w"]
    probe = dup.SignatureProbe(dup.signature(a))
    est, both = probe.estimate(dup.signature(b))
    exact, exact_both = dup.similarity(a, b)
    assert both == exact_both == 3
    assert est >= exact == pytest.approx(2 / 3)


def test_unknown_rule_names_are_refused():
    with pytest.raises(ValueError, match="unknown duplicate rule"):
        dup.Rules.from_dict({"reinterview_dayz": 3})


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
    from server.dedup import typo as dedup_typo

    def no_session(db):
        raise AssertionError("the typo map was asked with the rule switched off")

    review_rules(rss, "rss", {"case_id_typo": False})
    monkeypatch.setattr(dedup_typo, "session", no_session)
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


def test_candidate_lookups_use_indexes_never_a_scan_of_submissions(rss, monkeypatch):
    from server.dedup import typo as dedup_typo
    from server.store import duplicates as dup_q
    sqls = [
        (dup_q._CANDIDATE + "WHERE k.form_id = ? AND k.person_norm = ? " + dup_q._OTHER
         + "LIMIT ?", ["rss", "X", "l", 5]),
        dup_q.keys_of_round("rss", "1", 10),  # read by the map's own connection
    ]
    captured = []
    rss.conn.set_trace_callback(captured.append)
    push(rss, build(BEST))
    push(rss, build(BEST))
    monkeypatch.setattr(dedup_typo, "WIDE_BATCH_WEEKS", 0)  # every push counts as wide
    push(rss, build(BEST))  # its round's keys held in day order
    monkeypatch.setattr(dedup_typo, "MAX_ROUND_KEYS", 0)
    dedup_typo.forget(dedup_typo._file_of(rss))
    push(rss, build(BEST))  # too many keys to hold: windows read from the store
    rss.conn.set_trace_callback(None)
    sqls += [(s, None) for s in captured
             if "respondent_key" in s and s.lstrip().upper().startswith("SELECT")]
    assert any("group_concat" in s for s, _ in sqls)
    assert any("INDEXED BY respondent_keys_person" in s for s, _ in sqls)
    assert any("k.submission_id IN" in s for s, _ in sqls)
    assert len(sqls) >= 8
    for sql, params in sqls:
        plan = " | ".join(r[3] for r in rss.execute(f"EXPLAIN QUERY PLAN {sql}", params or []))
        assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), (sql, plan)


# The typo rule's map (server/dedup/typo.py): summaries, bounded lookups -------------

def test_the_one_pass_signature_is_the_signature_of_the_normalised_answers(rss):
    from server.registry.models import model_for
    model = model_for(rss, "rss", rss.version)
    flds = dup.compared_fields(model, dup.Rules())
    odd = build(BEST, currently_working=" YES ", productive_assets="livestock  land", age=31.0)
    shapes = build(BEST, currently_working={"not": "a value"}, productive_assets=["land"])
    for data in (build(BEST), build(WORST), odd, shapes, {}, {"econ": "not a group"}):
        assert dup.answers_signature(flds, data) == dup.signature(dup.answers_of(flds, data))


def test_answer_summary_never_undershoots_the_exact_similarity():
    import random
    rng = random.Random(5)
    for _ in range(500):
        a = [rng.choice([None, "x", "y", "z", "w"]) for _ in range(36)]
        b = [rng.choice([None, "x", "y", "z", "w"]) for _ in range(36)]
        answered, sketch = dup.summary(dup.signature(b))
        est, both = dup.summary_estimate(dup.summary(dup.signature(a)), answered, sketch)
        exact, exact_both = dup.similarity(a, b)
        assert both == exact_both and est >= exact


def test_candidates_kept_by_summary_are_those_the_estimate_does_not_rule_out():
    import random
    rng = random.Random(7)
    mine = dup.summary(dup.signature([rng.choice([None, "x", "y"]) for _ in range(36)]))
    rows = []
    for sid in range(400):
        answers = [rng.choice([None, "x", "y"]) for _ in range(36)]
        layout = 1 if sid % 10 else 2  # another form version now and then
        summary = dup.summary(dup.signature(answers)) if sid % 7 else (None, None)
        rows.append((sid, "person", layout, *summary))

    def not_ruled_out(row, minimum, threshold):
        if row[3] is None or row[2] != 1:
            return True  # only the answers can tell
        est, both = dup.summary_estimate(mine, row[3], row[4])
        return both >= minimum and est >= threshold

    for minimum, threshold in ((10, 0.8), (10, 0.9), (0, 0.0), (36, 0.5)):
        kept = dup.kept_by_summary(mine, 1, minimum, threshold, rows, 2)
        assert kept == [r for r in rows if not_ruled_out(r, minimum, threshold)]
        assert 0 < len(kept) < len(rows) or (minimum, threshold) == (0, 0.0)
    assert dup.kept_by_summary(None, 1, 10, 0.9, rows, 2) == rows  # no summary: all kept


def test_forms_comparing_more_than_64_fields_have_no_summary():
    assert dup.summary(bytes(range(1, 66))) is None


def test_typo_lookup_returns_a_bounded_number_of_keys_whatever_the_key(rss):
    from server.dedup import typo as dedup_typo
    review_rules(rss, "rss", {"max_candidates": 3})
    for _ in range(12):  # a placeholder case id typed again and again
        push(rss, build(BEST, case_id="UNKNOWN"))
    round_ = rss.execute("SELECT round_norm FROM respondent_keys LIMIT 1").fetchone()[0]
    variants = dup.deletion_variants("UNKNOWN")
    probe = dedup_typo.Probe(frozenset(variants), -10**6, 10**6, 3, 0, None, 0, 0.0)
    found = dedup_typo.session(rss).neighbours("rss", round_, probe)
    assert 3 <= len(found) <= 3 * len(variants) < 12 * len(variants)


def test_a_wide_push_reads_the_newest_keys_of_a_placeholder_id_up_to_the_bound(
        rss, monkeypatch):
    from server.dedup import typo as dedup_typo
    for _ in range(12):  # a placeholder case id typed again and again, the same day
        push(rss, build(BEST, case_id="UNKNOWN"))
    monkeypatch.setattr(dedup_typo, "IDS_PER_READ", 5)  # its keys read in three goes
    round_ = rss.execute("SELECT round_norm FROM respondent_keys LIMIT 1").fetchone()[0]
    probe = dedup_typo.Probe(("NKNOWN",), -10**6, 10**6, 3, 0, None, 0, 0.0, "UNKNOWN")
    found = dedup_typo.session(rss).read_neighbours("rss", round_, probe)
    newest = [r[0] for r in rss.execute(
        "SELECT submission_id FROM respondent_keys ORDER BY submission_id DESC LIMIT 3")]
    assert sorted(found) == sorted(newest)


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


def _matches_after_pushing(tmp_path, name, monkeypatch_lookups):
    """Push one synthetic population (planted duplicates, whole tablets per push)
    into a fresh store; its matches and flags, by submission id."""
    from server.registry.models import model_for
    from server.store import open_db
    from tests.flows.dedup_population import batches, population

    db = open_db(tmp_path / f"{name}.db", migrate=True)
    model = model_for(db, "rss", publish_builtin_rss(db)["version"])
    items = population(model, respondents=800, devices=6, planted_each=15, seed=11)
    monkeypatch_lookups()
    for group in batches(items):
        ingest(db, [it["rec"] for it in group], door="sync", device_id=group[0]["device"],
               user=group[0]["user"])
    matches = db.execute("SELECT submission_id, other_id, reasons, similarity "
                         "FROM duplicate_matches ORDER BY 1, 2").fetchall()
    flags = db.execute("SELECT id, flags FROM submissions ORDER BY id").fetchall()
    db.close()
    return matches, flags


def test_batch_lookups_and_the_typo_map_find_exactly_what_store_reads_find(tmp_path, monkeypatch):
    import server.dedup.detect as dedup_mod
    from server.dedup import lookups as dedup_lookups
    from server.dedup import typo as dedup_typo

    def per_record():
        monkeypatch.setattr(dedup_mod, "lookups_for", lambda db, dets: dedup_lookups.PerRecord(db))

    def bounded():  # every batch statement reaches its bound: each rule falls back
        monkeypatch.undo()
        monkeypatch.setattr(dedup_lookups, "ROWS_PER_RECORD", 0)

    def typo_from_the_store():  # no in-memory map: each typo lookup reads the store
        monkeypatch.undo()
        monkeypatch.setattr(dedup_typo, "session", dedup_typo.Direct)

    def every_push_wide():  # each push scans its rounds' keys held in day order
        monkeypatch.undo()
        monkeypatch.setattr(dedup_typo, "WIDE_BATCH_WEEKS", 0)

    def every_push_wide_from_the_store():  # ... too many to hold: read from the store
        every_push_wide()
        monkeypatch.setattr(dedup_typo, "MAX_ROUND_KEYS", 0)

    def every_push_narrow():  # each push loads its weeks into the map
        monkeypatch.undo()
        monkeypatch.setattr(dedup_typo, "WIDE_BATCH_WEEKS", 10**9)

    batch = _matches_after_pushing(tmp_path, "batch", lambda: None)
    one_by_one = _matches_after_pushing(tmp_path, "per-record", per_record)
    fallback = _matches_after_pushing(tmp_path, "fallback", bounded)
    direct = _matches_after_pushing(tmp_path, "direct", typo_from_the_store)
    wide = _matches_after_pushing(tmp_path, "wide", every_push_wide)
    stored = _matches_after_pushing(tmp_path, "wide-stored", every_push_wide_from_the_store)
    narrow = _matches_after_pushing(tmp_path, "narrow", every_push_narrow)
    assert len(batch[0]) > 30  # the planted duplicates, found across and within pushes
    assert any("case_id_typo" in m[2] for m in batch[0])
    assert batch == one_by_one == fallback == direct == wide == stored == narrow


WIDE_FORM = ("| survey |\n| | type | name | label |\n"
             + "".join(f"| | text | q{i} | Question {i} |\n" for i in range(70))
             + "| settings |\n| | form_id | version |\n| | wide | 2026120201 |\n")


def test_near_identical_records_of_a_form_comparing_over_64_fields_are_found_in_one_push(db):
    from server.registry.publish import forms_publish
    version = forms_publish(db, WIDE_FORM.encode(), "wide.md")["version"]
    data = {f"q{i}": f"answer {i}" for i in range(70)}  # no summary: signatures compare
    recs = [{"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "wide", "form_version": version,
             "data": dict(data)} for _ in range(2)]
    first, second = ingest(db, recs, door="sync", device_id="tablet-1", user="enum1")
    assert first["status"] == "created"
    assert second["status"] == "flagged" and FLAG in second["flags"]
    third = ingest(db, [{**recs[0], "instance_id": f"uuid:{uuid.uuid4()}"}], door="sync",
                   device_id="tablet-1", user="enum1")[0]  # and across pushes
    assert FLAG in third["flags"]

"""Rescoring stored records when a spec version is published: every record, once,
resumably, with every version's scores kept and the changes feed told."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading

import pytest

import scoring
from server.registry.models import model_for
from server.ingest.pipeline import ingest
from server.registry.publish import publish_builtin_rss
from server.scores.rescore import rescore_pending
from server.scores.specs import install_builtin_specs, scoring_publish
from server.store import open_db
from tests.helpers.scoring import (SATISFACTION, envelope, push, satisfaction_record,
                                   spec_doc)

CHOICES = ["very_satisfied", "satisfied", "neutral", "dissatisfied", "very_dissatisfied"]


# -- over HTTP, with the CLI as the worker ------------------------------------------


def fieldsync(*args, db):
    return subprocess.run([sys.executable, "-m", "server.cli", *args, "--db", str(db)],
                          capture_output=True, text=True, timeout=120)


def test_publishing_v2_rescores_every_record_and_keeps_both_versions_queryable(rss):
    records = [envelope(satisfaction_record(c), rss.version) for c in CHOICES]
    pushed = push(rss, rss.device, records)
    before = max(r["seq"] for r in pushed)
    assert rss.admin.post(f"{rss.url}/api/v1/scoring/specs",
                          json=spec_doc("rss-v2")).status_code == 201

    out = fieldsync("rescore", db=rss.db_path)
    assert out.returncode == 0, out.stderr
    assert "5 rescored" in out.stderr

    for rec, choice in zip(records, CHOICES):
        iid = rec["instance_id"]
        got = rss.admin.get(f"{rss.url}/api/v1/submissions/{iid}").json()
        assert got["scoring_version"] == "rss-v2"
        assert got["scores"]["scores"]["composite"] == pytest.approx(0.10 * SATISFACTION[choice])
        versions = {v["scoring_version"]: v for v in rss.admin.get(
            f"{rss.url}/api/v1/submissions/{iid}/scores").json()["versions"]}
        assert versions["rss-v1"]["scores"]["composite"] == pytest.approx(
            0.05 * SATISFACTION[choice])
        assert versions["rss-v2"]["scores"]["composite"] == pytest.approx(
            0.10 * SATISFACTION[choice])
        assert (versions["rss-v1"]["current"], versions["rss-v2"]["current"]) == (False, True)
        assert versions["rss-v2"]["indicators"]["econ_satisfaction"] == SATISFACTION[choice]

    feed = rss.admin.get(f"{rss.url}/api/v1/changes?since={before}&form_id=rss").json()
    changed = {c["instance_id"]: c for c in feed["changes"]}
    assert set(changed) == {r["instance_id"] for r in records}
    assert all(c["seq"] > before and c["scoring_version"] == "rss-v2"
               for c in changed.values())
    jobs = rss.admin.get(f"{rss.url}/api/v1/scoring/jobs").json()["jobs"]
    assert [(j["state"], j["processed"], j["rescored"]) for j in jobs] == [("done", 5, 5)]


# -- on the store, as the worker runs it ------------------------------------------------


@pytest.fixture
def store(tmp_path):
    db = open_db(tmp_path / "store.db", migrate=True)
    version = publish_builtin_rss(db)["version"]
    install_builtin_specs(db)
    db.rss_version = version
    yield db
    db.close()


def ingest_choices(db, choices):
    records = [envelope(satisfaction_record(c), db.rss_version) for c in choices]
    ingest(db, records, door="sync")
    return records


def snapshot(db) -> dict:
    rows = db.execute("SELECT id, seq, scoring_version FROM submissions ORDER BY id").fetchall()
    return {sid: (seq, version) for sid, seq, version in rows}


def seq_counter(db) -> int:
    return db.execute("SELECT value FROM seq_counter").fetchone()[0]


def v2_scores(db) -> int:
    return db.execute("SELECT count(*) FROM submission_scores WHERE scoring_version = 'rss-v2'"
                      ).fetchone()[0]


def test_interrupted_rescoring_resumes_without_double_work_or_loss(store):
    ingest_choices(store, CHOICES * 2)
    scoring_publish(store, spec_doc("rss-v2"))
    before, counter = snapshot(store), seq_counter(store)

    first = rescore_pending(store, batch=3, max_batches=1)
    assert (first["processed"], first["rescored"]) == (3, 3)
    [job] = first["jobs"]
    assert job["state"] == "running" and job["processed"] == 3
    middle = snapshot(store)
    assert sum(middle[i][1] == "rss-v2" for i in middle) == 3

    rest = rescore_pending(store, batch=3)
    assert (rest["processed"], rest["rescored"]) == (7, 7)
    assert rest["jobs"][0]["state"] == "done"
    after = snapshot(store)
    assert all(version == "rss-v2" for _, version in after.values())
    # Each record got exactly one new seq: none was rescored twice, none skipped.
    assert seq_counter(store) == counter + len(before)
    assert len({seq for seq, _ in after.values()}) == len(after)
    assert all(after[i][0] > counter for i in after)
    assert v2_scores(store) == len(before)


def test_a_run_killed_after_a_batch_resumes_from_the_last_committed_batch(store):
    ingest_choices(store, CHOICES)
    scoring_publish(store, spec_doc("rss-v2"))
    counter = seq_counter(store)

    def cut(job):
        raise KeyboardInterrupt  # as if the worker were stopped after its first commit

    with pytest.raises(KeyboardInterrupt):
        rescore_pending(store, batch=2, progress=cut)
    assert seq_counter(store) == counter + 2
    resumed = rescore_pending(store, batch=2)
    assert (resumed["processed"], resumed["rescored"]) == (3, 3)
    assert seq_counter(store) == counter + 5
    assert v2_scores(store) == 5


def test_running_rescoring_again_when_done_changes_nothing(store):
    ingest_choices(store, CHOICES)
    scoring_publish(store, spec_doc("rss-v2"))
    rescore_pending(store)
    counter, rows = seq_counter(store), snapshot(store)
    again = rescore_pending(store)
    assert again == {"jobs": [], "processed": 0, "rescored": 0, "skipped": 0, "failed": 0}
    assert (seq_counter(store), snapshot(store)) == (counter, rows)


def test_two_workers_at_once_share_a_job_without_double_work(store, tmp_path):
    ingest_choices(store, CHOICES * 8)
    scoring_publish(store, spec_doc("rss-v2"))
    counter = seq_counter(store)
    results, errors = [], []

    def worker():
        db = open_db(tmp_path / "store.db")
        try:
            results.append(rescore_pending(db, batch=3))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r["rescored"] for r in results) == 40
    assert seq_counter(store) == counter + 40
    assert v2_scores(store) == 40


def test_a_republished_older_spec_only_adds_its_scores_without_changing_current(store):
    ingest_choices(store, CHOICES)
    scoring_publish(store, spec_doc("rss-v2"))
    scoring_publish(store, spec_doc("rss-v3"))
    summary = rescore_pending(store)
    # v2's job ran while v3 was already current: it keeps v2 scores, rows end on v3.
    assert [j["scoring_version"] for j in summary["jobs"]] == ["rss-v2", "rss-v3"]
    assert {v for _, v in snapshot(store).values()} == {"rss-v3"}
    assert v2_scores(store) == 5
    assert store.execute("SELECT count(*) FROM submission_scores WHERE scoring_version = "
                         "'rss-v3'").fetchone()[0] == 5


def random_answers(model, rng: random.Random, i: int) -> dict:
    """Random choices (some unanswered, some select_multiple) in every scored group."""
    data = {"case_id": f"GIN-{i:05d}", "survey_round": "6m", "consent": "yes",
            "country_of_return": "GIN", "interview_date": "2026-03-02"}
    for fld in model.questions():
        if fld.parent not in ("econ", "social", "psycho") or not fld.list_name \
                or rng.random() < 0.1:
            continue
        names = [c.name for c in model.choices[fld.list_name]]
        answer = " ".join(rng.sample(names, min(2, len(names)))) \
            if fld.is_select_multiple else rng.choice(names)
        data.setdefault(fld.parent, {})[fld.name] = answer
    return data


def test_rescoring_from_the_answers_table_matches_scoring_the_stored_record(store):
    model = model_for(store, "rss", store.rss_version)
    rng = random.Random(3)
    records = [envelope(random_answers(model, rng, i), store.rss_version) for i in range(60)]
    ingest(store, records, door="sync")
    scoring_publish(store, spec_doc("rss-v2"))
    rescore_pending(store, batch=25)
    spec = scoring.load_spec(spec_doc("rss-v2"))
    rows = store.execute("SELECT data, scores FROM submissions ORDER BY id").fetchall()
    for data, scores in rows:
        expected = scoring.score_record(spec, model, json.loads(data))
        got = json.loads(scores)
        assert got["scores"] == expected["scores"]
        assert got["indicators"] == expected["indicators"]


def test_scores_kept_at_ingest_are_dated_when_their_batch_arrived_and_a_rescore_when_it_ran(store):
    ingest_choices(store, CHOICES[:3])
    kept = store.execute("SELECT s.received_at, ss.scored_at FROM submissions s JOIN "
                         "submission_scores ss ON ss.submission_id = s.id").fetchall()
    assert len(kept) == 3 and all(scored == received for received, scored in kept)
    scoring_publish(store, spec_doc("rss-v2"))
    rescore_pending(store)
    later = store.execute("SELECT s.received_at, ss.scored_at FROM submissions s JOIN "
                          "submission_scores ss ON ss.submission_id = s.id "
                          "WHERE ss.scoring_version = 'rss-v2'").fetchall()
    assert len(later) == 3 and all(scored > received for received, scored in later)

"""Rescoring stored records when a scoring spec is published, in the background.

Publishing a spec queues a row in ``rescore_jobs`` (``enqueue``); the worker, or
`fieldsync rescore` in the foreground, runs ``rescore_pending``, which claims
the unfinished jobs and works through each in batches. Every batch is one write
transaction (BEGIN IMMEDIATE) that re-reads the job's cursor, rescores the next
rows after it, writes their scores and advances the cursor, so a run that is
cut short resumes where the last committed batch ended, and two runs at once
share the work instead of doing it twice.

Every spec version's scores of a record are kept in ``submission_scores``; the
submission row's ``scores``/``scoring_version`` hold the current spec's and get
a new seq when they change, so the changes feed and forwarding see them.
Records are read from the flat answers table, not by decoding ``data``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

import orjson
from sqlite_utils import Database

import scoring
from forms.model import FormModel
from server.errors import FieldsyncError
from server.registry.models import model_for, published_form, spec_for, stored_spec
from server.store import scores as scores_q
from server.store import submissions as subs_q
from server.store.clock import utcnow
from server.store.db import write_transaction

DEFAULT_BATCH = 1000
Progress = Callable[[dict], None]


def current_spec(db: Database, model: FormModel):
    """The spec ``model`` is scored with now, None if none fits (read it inside the
    write transaction: a spec published since the record was assessed counts)."""
    try:
        return spec_for(db, model)
    except scoring.ScoringError:
        return None


def record_scores(db: Database, row: dict, model: FormModel | None, spec=None,
                  scored_at: str | None = None) -> None:
    """Keep a just-inserted record's scores under their spec version; called by
    ingest inside its write transaction with ``current_spec`` (read once per
    batch) and the batch's time (``scored_at``; else now). A record assessed
    before a spec was published but stored after it (so after the rescoring
    job's last row) is scored with the new spec here, and its row gets a new
    seq."""
    if model is None or row["state"] == "quarantined":
        return
    if spec is not None and spec.version != row["scoring_version"]:
        result = scoring.score_record(spec, model, row["data"])
        row["scores"] = {"scores": result["scores"], "indicators": result["indicators"]}
        row["scoring_version"] = spec.version
        row["scores_json"] = None  # the text encoded at assessment is stale now
        row["seq"] = subs_q.update(db, row["id"], scores=row["scores"],
                                   scoring_version=spec.version)
    keep_scores(db, row["id"], row["scoring_version"], row["scores"],
                row.get("scores_json"), scored_at)


def keep_scores(db: Database, submission_id: int, scoring_version: str | None,
                scores: dict | None, encoded: tuple[str, str] | None = None,
                scored_at: str | None = None) -> None:
    """Keep scores (``{"scores", "indicators"}``) under their spec version.

    ``encoded`` is ``scores_text(scores)`` when the caller already has it;
    ``scored_at`` when they were scored, if not now."""
    if scoring_version is None or scores is None:
        return
    scores_json, indicators_json = encoded or scores_text(scores)
    scores_q.put_scores(db, [(submission_id, scoring_version, scores_json,
                              indicators_json, scored_at or utcnow())])


def scores_text(scores: dict) -> tuple[str, str]:
    """``{"scores", "indicators"}`` as JSON text: the scores and the indicators
    (the by-version table's columns; a row's column is built around them:
    ``whole_scores_text`` where rescoring writes both, the scores alone where
    ingest does, ``submissions.insert``).

    Encoded by orjson: some 35 numbers a record, whose shortest decimal form
    the standard library's encoder writes many times slower. Not a hashed
    text: its spacing is free, and no score is NaN (it would read as null)."""
    return (orjson.dumps(scores["scores"]).decode(),
            orjson.dumps(scores["indicators"]).decode())


def whole_scores_text(scores_json: str, indicators_json: str) -> str:
    """The ``{"scores", "indicators"}`` document from ``scores_text``'s parts."""
    return f'{{"scores":{scores_json},"indicators":{indicators_json}}}'


def enqueue(db: Database, form_id: str, scoring_version: str,
            actor: str | None = None) -> dict | None:
    """Queue rescoring of every record of ``form_id`` stored so far with that spec
    version; returns the job (an unfinished one for the same pair is reused), or
    None when the form has no records to score."""
    existing = scores_q.unfinished_jobs(db, form_id, scoring_version)
    if existing:
        return existing[0]
    until_id = scores_q.last_submission_id(db, form_id)
    total = scores_q.count_scorable(db, form_id, until_id)
    if total == 0:
        return None
    job_id = scores_q.insert_job(db, form_id=form_id, scoring_version=scoring_version,
                                 until_id=until_id, total=total, created_by=actor)
    return scores_q.get_job(db, job_id)


def rescore_pending(db: Database, *, batch: int = DEFAULT_BATCH,
                    progress: Progress | None = None, form_id: str | None = None,
                    scoring_version: str | None = None,
                    max_batches: int | None = None) -> dict:
    """Run every unfinished rescoring job (optionally of one form / spec version).

    ``progress(job)`` is called after each committed batch with the job's counters
    (``processed`` of ``total``). ``max_batches`` stops each job early, resumably.
    Returns ``{"jobs": [job, ...], "processed", "rescored", "skipped", "failed"}``;
    a job that fails is marked ``failed`` with its error and the others still run.
    """
    summary = {"jobs": [], "processed": 0, "rescored": 0, "skipped": 0, "failed": 0}
    for job in scores_q.unfinished_jobs(db, form_id, scoring_version):
        counts = {"processed": 0, "rescored": 0, "skipped": 0}
        done = _run_job(db, job["id"], batch, progress, max_batches, counts)
        if done is None:
            continue
        summary["jobs"].append(done)
        for key, value in counts.items():  # this run's share (another may run too)
            summary[key] += value
        summary["failed"] += done["state"] == "failed"
    return summary


def rescore(db: Database, form_id: str | None = None, scoring_version: str | None = None,
            *, batch: int = DEFAULT_BATCH, progress: Progress | None = None,
            actor: str | None = None) -> dict:
    """What `fieldsync rescore` runs: with a form (and optionally a published spec
    version, default the form's current one), queue a job for it first; then run
    the unfinished jobs those options select, in the foreground."""
    if form_id is not None:
        version = scoring_version or _current_version(db, form_id)
        if scores_q.get_spec(db, version) is None:
            raise scoring.ScoringError(
                "scoring_spec_unknown",
                f"No scoring spec '{version}' is published here; publish it with "
                "`fieldsync scoring publish SPEC.json`.", {"version": version},
            )
        with write_transaction(db):
            enqueue(db, form_id, version, actor)
        scoring_version = version
    return rescore_pending(db, batch=batch, progress=progress, form_id=form_id,
                           scoring_version=scoring_version)


def jobs(db: Database, form_id: str | None = None) -> list[dict]:
    return scores_q.list_jobs(db, form_id)


def submission_scores(db: Database, instance_id: str) -> dict:
    """Every spec version's scores of a record, oldest first; ``current`` marks the
    version the submission row holds."""
    rows = subs_q.by_instance(db, instance_id)
    if not rows:
        raise FieldsyncError("submission_unknown", f"No submission '{instance_id}' is held "
                             "here.", {"instance_id": instance_id})
    main = next((r for r in rows if r["state"] in ("current", "quarantined")), rows[-1])
    versions = scores_q.scores_of(db, main["id"])
    for v in versions:
        v["current"] = v["scoring_version"] == main["scoring_version"]
    return {"instance_id": instance_id, "form_id": main["form_id"],
            "scoring_version": main["scoring_version"], "versions": versions}


# -- running a job ----------------------------------------------------------------


def _run_job(db, job_id, batch, progress, max_batches, counts) -> dict | None:
    with write_transaction(db):
        job = scores_q.claim_job(db, job_id)
    if job is None:
        return None
    try:
        spec = _job_spec(db, job)
        columns = scores_q.answer_columns(db, job["form_id"])
        batches = 0
        while max_batches is None or batches < max_batches:
            with write_transaction(db):
                job = scores_q.get_job(db, job_id)  # the cursor, read under the lock
                if job["state"] not in scores_q.UNFINISHED:
                    break
                rows = scores_q.rows_to_rescore(db, job["form_id"], job["scoring_version"],
                                                job["cursor"], job["until_id"], batch, columns)
                if not rows:
                    scores_q.finish_job(db, job_id)
                    break
                rescored, skipped = _rescore_rows(db, spec, job, rows, columns)
                scores_q.advance_job(db, job_id, rows[-1][0], len(rows), rescored, skipped)
            counts["processed"] += len(rows)
            counts["rescored"] += rescored
            counts["skipped"] += skipped
            batches += 1
            if progress is not None:
                progress(scores_q.get_job(db, job_id))
    except sqlite3.OperationalError:
        raise  # locked or busy: the job stays unfinished and resumes next run
    except Exception as exc:  # noqa: BLE001 - recorded on the job, not swallowed
        with write_transaction(db):
            scores_q.finish_job(db, job_id, "failed", f"{type(exc).__name__}: {exc}")
    return scores_q.get_job(db, job_id)


def _job_spec(db: Database, job: dict) -> scoring.Spec:
    row = scores_q.get_spec(db, job["scoring_version"])
    if row is None:
        raise scoring.ScoringError(
            "scoring_spec_unknown", f"Scoring spec '{job['scoring_version']}' is not "
            "published here.", {"version": job["scoring_version"]})
    return stored_spec(db, row["id"], row["sha256"])


def _rescore_rows(db, spec, job, rows, columns) -> tuple[int, int]:
    """Score a batch; returns (rescored, skipped because the spec does not fit)."""
    version = job["scoring_version"]
    targets: dict[str, tuple] = {}
    now = utcnow()
    keep, current = [], []
    rescored = skipped = 0
    for row in rows:
        sid, form_version, held_version, has_version, data_json = row[:5]
        target = targets.get(form_version)
        if target is None:
            target = targets[form_version] = _target(db, spec, job["form_id"], form_version)
        model, is_current = target
        if model is None:
            skipped += 1
            continue
        update_current = is_current and held_version != version
        if has_version and not update_current:
            continue
        if data_json is not None:
            data = json.loads(data_json)
        else:
            data = {c: v for c, v in zip(columns, row[5:]) if v is not None}
        result = scoring.score_record(spec, model, data)
        scores_json, indicators_json = scores_text(result)
        if not has_version:
            keep.append((sid, version, scores_json, indicators_json, now))
        if update_current:
            current.append((sid, whole_scores_text(scores_json, indicators_json), version))
        rescored += 1
    scores_q.put_scores(db, keep)
    scores_q.set_current_scores(db, current)
    return rescored, skipped


def _target(db, spec, form_id, form_version):
    """(model, whether the job's spec is this version's current spec); model None
    when the form version is unknown or the spec does not fit it."""
    model = model_for(db, form_id, form_version)
    if model is None:
        return None, False
    try:
        scoring.check_spec(spec, model)
    except scoring.ScoringError:
        return None, False
    try:
        current = spec_for(db, model)
    except scoring.ScoringError:
        current = None
    return model, current is not None and current.version == spec.version


def _current_version(db: Database, form_id: str) -> str:
    form = published_form(db, form_id)
    spec = spec_for(db, model_for(db, form_id, form["current_version"]))
    if spec is None:
        raise scoring.ScoringError(
            "scoring_spec_unknown", f"Form '{form_id}' is not scored: no scoring spec "
            "fits it. Publish one with `fieldsync scoring publish SPEC.json`.",
            {"form_id": form_id})
    return spec.version

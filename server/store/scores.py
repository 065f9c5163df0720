"""Queries on scoring: published specs, every version's scores of a record,
rescoring jobs and the rows rescoring and trends read.

Rescoring and trends read answers from the flat table ``answers__{form_id}``
(one column per field path), never by decoding each record's ``data`` JSON;
scores are read with ``json_extract`` in SQL.
"""

from __future__ import annotations

import json

from sqlite_utils import Database

from server.store.answers import main_table, q
from server.store import submissions as subs_q
from server.store.clock import utcnow

SPEC_COLUMNS = ("id", "version", "form_id", "sha256", "provenance", "published_at",
                "published_by")
JOB_COLUMNS = ("id", "form_id", "scoring_version", "state", "cursor", "until_id", "total",
               "processed", "rescored", "skipped", "created_at", "created_by", "started_at",
               "updated_at", "finished_at", "error")
UNFINISHED = ("pending", "running")


# Specs ----------------------------------------------------------------------------

def spec_keys(db: Database, form_id: str) -> list[tuple[int, str]]:
    """``(id, sha256)`` of every spec published for a form, newest first."""
    return [tuple(r) for r in db.execute(
        "SELECT id, sha256 FROM scoring_specs WHERE form_id = ? ORDER BY id DESC", [form_id]
    ).fetchall()]


def spec_document(db: Database, spec_id: int) -> str:
    return db.execute("SELECT document FROM scoring_specs WHERE id = ?",
                      [spec_id]).fetchone()[0]


def get_spec(db: Database, version: str) -> dict | None:
    row = db.execute(
        f"SELECT {', '.join(SPEC_COLUMNS)}, document FROM scoring_specs WHERE version = ?",
        [version],
    ).fetchone()
    return dict(zip((*SPEC_COLUMNS, "document"), row)) if row else None


def list_specs(db: Database, form_id: str | None = None) -> list[dict]:
    sql = f"SELECT {', '.join(SPEC_COLUMNS)} FROM scoring_specs"
    params: list = []
    if form_id:
        sql += " WHERE form_id = ?"
        params.append(form_id)
    rows = db.execute(sql + " ORDER BY id", params).fetchall()
    return [dict(zip(SPEC_COLUMNS, r)) for r in rows]


def insert_spec(db: Database, *, version: str, form_id: str, document: str, sha256: str,
                provenance: str, published_by: str | None) -> int:
    cur = db.execute(
        "INSERT INTO scoring_specs (version, form_id, document, sha256, provenance, "
        "published_at, published_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [version, form_id, document, sha256, provenance, utcnow(), published_by],
    )
    return cur.lastrowid


# Every version's scores of a record ----------------------------------------------------

def put_scores(db: Database, rows: list[tuple]) -> None:
    """Keep scores by version: rows of ``(submission_id, scoring_version, scores JSON,
    indicators JSON, scored_at)``; a version scored again replaces its row."""
    db.conn.executemany(
        "INSERT OR REPLACE INTO submission_scores (submission_id, scoring_version, scores, "
        "indicators, scored_at) VALUES (?, ?, ?, ?, ?)", rows,
    )


def scores_of(db: Database, submission_id: int) -> list[dict]:
    rows = db.execute(
        "SELECT scoring_version, scores, indicators, scored_at FROM submission_scores "
        "WHERE submission_id = ? ORDER BY scored_at, scoring_version", [submission_id],
    ).fetchall()
    return [{"scoring_version": r[0], "scores": json.loads(r[1]) if r[1] else None,
             "indicators": json.loads(r[2] or "{}"), "scored_at": r[3]} for r in rows]


def set_current_scores(db: Database, rows: list[tuple]) -> None:
    """Make rescored values a row's current scores with a new seq each: rows of
    ``(submission_id, scores JSON, scoring_version)``. Takes one block of the change
    sequence for the whole list (same result as ``submissions.update`` per row)."""
    if not rows:
        return
    first = subs_q.take_seqs(db, len(rows)).start
    db.conn.executemany(
        "UPDATE submissions SET scores = ?, scoring_version = ?, seq = ? WHERE id = ?",
        [(scores, version, first + i, sid) for i, (sid, scores, version) in enumerate(rows)],
    )


# Rescoring jobs -------------------------------------------------------------------

def _job(row) -> dict | None:
    return dict(zip(JOB_COLUMNS, row)) if row else None


def insert_job(db: Database, *, form_id: str, scoring_version: str, until_id: int,
               total: int, created_by: str | None) -> int:
    cur = db.execute(
        "INSERT INTO rescore_jobs (form_id, scoring_version, until_id, total, created_at, "
        "created_by) VALUES (?, ?, ?, ?, ?, ?)",
        [form_id, scoring_version, until_id, total, utcnow(), created_by],
    )
    return cur.lastrowid


def get_job(db: Database, job_id: int) -> dict | None:
    return _job(db.execute(f"SELECT {', '.join(JOB_COLUMNS)} FROM rescore_jobs WHERE id = ?",
                           [job_id]).fetchone())


def list_jobs(db: Database, form_id: str | None = None, limit: int = 100) -> list[dict]:
    sql = f"SELECT {', '.join(JOB_COLUMNS)} FROM rescore_jobs"
    params: list = []
    if form_id:
        sql += " WHERE form_id = ?"
        params.append(form_id)
    rows = db.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]).fetchall()
    return [_job(r) for r in rows]


def unfinished_jobs(db: Database, form_id: str | None = None,
                    version: str | None = None) -> list[dict]:
    """Jobs still to run (pending, or running and maybe cut short), oldest first."""
    sql = (f"SELECT {', '.join(JOB_COLUMNS)} FROM rescore_jobs "
           "WHERE state IN ('pending', 'running')")
    params: list = []
    if form_id:
        sql += " AND form_id = ?"
        params.append(form_id)
    if version:
        sql += " AND scoring_version = ?"
        params.append(version)
    return [_job(r) for r in db.execute(sql + " ORDER BY id", params).fetchall()]


def claim_job(db: Database, job_id: int) -> dict | None:
    """Mark a pending job running; returns it, or None if it is finished already."""
    now = utcnow()
    db.execute(
        "UPDATE rescore_jobs SET state = 'running', started_at = coalesce(started_at, ?), "
        "updated_at = ? WHERE id = ? AND state IN ('pending', 'running')", [now, now, job_id],
    )
    job = get_job(db, job_id)
    return job if job and job["state"] == "running" else None


def advance_job(db: Database, job_id: int, cursor: int, processed: int, rescored: int,
                skipped: int) -> None:
    db.execute(
        "UPDATE rescore_jobs SET cursor = ?, processed = processed + ?, "
        "rescored = rescored + ?, skipped = skipped + ?, updated_at = ? WHERE id = ?",
        [cursor, processed, rescored, skipped, utcnow(), job_id],
    )


def finish_job(db: Database, job_id: int, state: str = "done",
               error: str | None = None) -> None:
    now = utcnow()
    db.execute(
        "UPDATE rescore_jobs SET state = ?, error = ?, updated_at = ?, finished_at = ? "
        "WHERE id = ?", [state, error, now, now, job_id],
    )


# Rows to rescore ------------------------------------------------------------------

def last_submission_id(db: Database, form_id: str) -> int:
    row = db.execute("SELECT max(id) FROM submissions WHERE form_id = ?", [form_id]).fetchone()
    return row[0] or 0


def count_scorable(db: Database, form_id: str, until_id: int, after_id: int = 0) -> int:
    return db.execute(
        "SELECT count(*) FROM submissions WHERE form_id = ? AND id > ? AND id <= ? "
        "AND state != 'quarantined'", [form_id, after_id, until_id],
    ).fetchone()[0]


def answer_columns(db: Database, form_id: str) -> list[str]:
    """The answer columns of the form's flat table ([] if it has none)."""
    rows = db.execute(f"PRAGMA table_info({q(main_table(form_id))})").fetchall()
    return [r[1] for r in rows if r[1] != "submission_id"]


def rows_to_rescore(db: Database, form_id: str, version: str, after_id: int, until_id: int,
                    limit: int, columns: list[str]) -> list[tuple]:
    """The next rows of a form after ``after_id``: ``(id, form_version, scoring_version,
    has this version's scores, data JSON if it has no answers row, *answer columns)``."""
    if columns:
        cols = ", ".join(f"a.{q(c)}" for c in columns)
        sql = (
            "SELECT s.id, s.form_version, s.scoring_version, EXISTS(SELECT 1 FROM "
            "submission_scores ss WHERE ss.submission_id = s.id AND ss.scoring_version = ?), "
            f"CASE WHEN a.submission_id IS NULL THEN s.data END, {cols} FROM submissions s "
            f"LEFT JOIN {q(main_table(form_id))} a ON a.submission_id = s.id "
        )
    else:
        sql = (
            "SELECT s.id, s.form_version, s.scoring_version, EXISTS(SELECT 1 FROM "
            "submission_scores ss WHERE ss.submission_id = s.id AND ss.scoring_version = ?), "
            "s.data FROM submissions s "
        )
    # '+' keeps the planner on the rowid range (the form_id index would scan and
    # sort the whole form for every batch).
    sql += ("WHERE +s.form_id = ? AND s.id > ? AND s.id <= ? AND s.state != 'quarantined' "
            "ORDER BY s.id LIMIT ?")
    return db.execute(sql, [version, form_id, after_id, until_id, limit]).fetchall()


# Trends -----------------------------------------------------------------------------

TREND_FIELDS = ("country_of_return", "interview_date", "return_date", "survey_round")


def trend_rows(db: Database, form_id: str, version: str, score_names: list[str],
               excluded_flags: tuple[str, ...], excluded_reviews: tuple[str, ...],
               country: str | None = None):
    """Yield ``(country_of_return, interview_date, return_date, survey_round,
    *scores)`` for the current version of each logical record scored with
    ``version``, leaving out conflicts, excluded flags and excluded review states;
    with ``country``, only that country of return's records."""
    have, sql, params = _counted(db, form_id, version, "", TREND_FIELDS, score_names,
                                 excluded_flags, excluded_reviews, scored_only=True)
    if country is not None:
        if "country_of_return" not in have:
            return
        sql += " AND a.country_of_return = ?"
        params.append(country)
    yield from db.execute(sql, params)


PERSON_FIELDS = ("case_id", "survey_round", "country_of_return", "sex", "interview_date",
                 "return_date")


def person_rows(db: Database, form_id: str, version: str, score_names: list[str],
                excluded_flags: tuple[str, ...], excluded_reviews: tuple[str, ...]):
    """Yield ``(id, instance_id, case_id, survey_round, country_of_return, sex,
    interview_date, return_date, *scores)`` for the current version of each
    logical record (scores NULL when not scored with ``version``; left out as
    ``trend_rows`` leaves out), in the order they were stored."""
    have, sql, params = _counted(db, form_id, version, "s.id, s.instance_id, ",
                                 PERSON_FIELDS, score_names, excluded_flags,
                                 excluded_reviews, scored_only=False)
    if "case_id" not in have:
        return
    yield from db.execute(sql + " ORDER BY s.id", params)


def _counted(db: Database, form_id: str, version: str, lead: str, fields: tuple[str, ...],
             score_names: list[str], excluded_flags: tuple[str, ...],
             excluded_reviews: tuple[str, ...], *, scored_only: bool
             ) -> tuple[set[str], str, list]:
    """The records trends and trajectories count (current versions, not rejected or
    a duplicate, no excluded flag), with ``fields`` of the answers (NULL where the
    form has no such column) and the scores of ``version``: (the answers columns
    the form has, the SQL, its parameters)."""
    have = set(answer_columns(db, form_id))
    columns = ", ".join(f"a.{q(f)}" if f in have else "NULL" for f in fields)
    scores = "".join(", json_extract(ss.scores, ?)" for _ in score_names)
    flag_marks = ", ".join("?" * len(excluded_flags)) or "NULL"
    review_marks = ", ".join("?" * len(excluded_reviews)) or "NULL"
    sql = (
        f"SELECT {lead}{columns}{scores} FROM submissions s "
        f"JOIN {q(main_table(form_id))} a ON a.submission_id = s.id "
        f"{'JOIN' if scored_only else 'LEFT JOIN'} submission_scores ss "
        "ON ss.submission_id = s.id AND ss.scoring_version = ? "
        "WHERE s.form_id = ? AND s.state = 'current' "
        f"AND s.review_state NOT IN ({review_marks}) "
        f"AND NOT EXISTS (SELECT 1 FROM json_each(s.flags) WHERE value IN ({flag_marks}))"
    )
    params = [f'$."{name}"' for name in score_names]
    params += [version, form_id, *excluded_reviews, *excluded_flags]
    return have, sql, params

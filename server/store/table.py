"""The submissions table of one form: filtered, keyset-paged, columns chosen.

Rows come most recently changed first (by change sequence, through the
``(form_id, seq)`` index), ``before`` a seq: a page costs the rows it reads,
however deep it is, never an OFFSET nor a sort of the whole form. Flagged
records (``flagged=True``), usually a small share, are read through their own
partial index instead, newest first by submission id, and ``before`` is an id. Answer columns are read
from the form's flat answers table; no record's ``data`` is decoded.
"""

from __future__ import annotations

from sqlite_utils import Database

from server.store.answers import main_table, q
from server.store.submissions import flag_filter, row_filters
from server.store.exports import has_table, table_columns

# (name, SQL over submissions ``s``) shown before the chosen answer columns.
BASE = (
    ("key", "s.seq"),  # the paging key: seq, or id for flagged records
    ("seq", "s.seq"),
    ("instance_id", "s.instance_id"),
    ("form_version", "s.form_version"),
    ("received_at", "s.received_at"),
    ("state", "s.state"),
    ("review_state", "s.review_state"),
    ("flags", "s.flags"),
    ("device_id", "coalesce(json_extract(s.origin, '$.device_id'), s.device_id)"),
    ("enumerator", "coalesce(json_extract(s.origin, '$.user'), s.submitted_by)"),
    ("score_composite", "json_extract(s.scores, '$.scores.composite')"),
)
STATES = ("current", "superseded", "conflict", "quarantined")


def answer_columns(db: Database, form_id: str) -> list[str]:
    """The answer columns the form's flat table holds (all versions)."""
    table = main_table(form_id)
    if not has_table(db, table):
        return []
    return [c for c in table_columns(db, table) if c != "submission_id"]


def page(db: Database, form_id: str, *, columns: list[str], state: str | None,
         review_state: str | None, device: str | None, enumerator: str | None,
         received_from: str | None, received_to: str | None, flagged: bool | None,
         duplicate: bool | None, answers_equal: dict[str, str], before: int | None,
         limit: int) -> list[dict]:
    """One page of rows (dicts of BASE names and ``columns``); ``answers_equal``
    maps answer columns to the value they must hold (country, round)."""
    table = main_table(form_id)
    joined = has_table(db, table)
    select = [expr for _, expr in BASE] + [f"a.{q(c)}" for c in columns]
    sql = (f"SELECT {', '.join(select)} FROM submissions s "
           + (f"LEFT JOIN {q(table)} a ON a.submission_id = s.id " if joined else "")
           + "WHERE s.form_id = ?")
    params: list = [form_id]
    if state:
        sql += " AND s.state = ?"
        params.append(state)
    if review_state:
        sql += " AND s.review_state = ?"
        params.append(review_state)
    for name, present in (("flagged", flagged), ("duplicate", duplicate)):
        if present is not None:
            sql += f" AND {flag_filter(name, present)[0]}"
    for column, value in answers_equal.items():
        sql += f" AND a.{q(column)} = ?"
        params.append(value)
    sql, params = row_filters(sql, params, device, enumerator, received_from, received_to)
    key = "s.id" if flagged else "s.seq"
    if before is not None:
        sql += f" AND {key} < ?"
        params.append(before)
    sql += f" ORDER BY {key} DESC LIMIT ?"
    params.append(limit)
    sql = sql.replace("SELECT s.seq,", f"SELECT {key},", 1)
    names = [n for n, _ in BASE] + list(columns)
    return [dict(zip(names, r)) for r in db.conn.execute(sql, params)]

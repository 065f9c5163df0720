"""Queries for the supervisor's review: the review history and the queues.

A queue is picked by an index (flag ``invalid``: a partial index; conflicts and
quarantine: ``submissions_state``; probable duplicates: the open matches'
partial index), then narrowed by the filters, and paged by submission id.
"""

from __future__ import annotations

from sqlite_utils import Database

from server.store.clock import utcnow
from server.store.submissions import FLAG_TESTS, row_filters

OPEN_STATES = ("received", "has_issues")
REVIEW_COLUMNS = ("id", "submission_id", "action", "state", "previous_state", "comment",
                  "actor", "at", "match_id", "duplicate_of")
_KINDS = {
    "flagged": FLAG_TESTS["flagged"],
    "conflicts": "s.state = 'conflict'",
    "quarantined": "s.state = 'quarantined'",
    "duplicates": ("s.id IN (SELECT submission_id FROM duplicate_matches "
                   "WHERE resolution IS NULL)"),
}
KINDS = tuple(_KINDS)


def insert_review(db: Database, submission_id: int, action: str, state: str,
                  previous_state: str | None, comment: str | None, actor: str | None,
                  match_id: int | None = None, duplicate_of: int | None = None) -> int:
    cur = db.conn.execute(
        "INSERT INTO reviews (submission_id, action, state, previous_state, comment, actor, at, "
        "match_id, duplicate_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [submission_id, action, state, previous_state, comment, actor, utcnow(), match_id,
         duplicate_of],
    )
    return cur.lastrowid


def reviews_of(db: Database, submission_id: int) -> list[dict]:
    rows = db.conn.execute(f"SELECT {', '.join(REVIEW_COLUMNS)} FROM reviews "
                           "WHERE submission_id = ? ORDER BY id", [submission_id])
    return [dict(zip(REVIEW_COLUMNS, r)) for r in rows]


def get_review(db: Database, review_id: int) -> dict:
    row = db.conn.execute(f"SELECT {', '.join(REVIEW_COLUMNS)} FROM reviews WHERE id = ?",
                          [review_id]).fetchone()
    return dict(zip(REVIEW_COLUMNS, row))


def comments_of(db: Database, submission_id: int) -> list[dict]:
    """The record's review history entries that carry a comment, oldest first."""
    rows = db.conn.execute(f"SELECT {', '.join(REVIEW_COLUMNS)} FROM reviews "
                           "WHERE submission_id = ? AND coalesce(comment, '') != '' "
                           "ORDER BY id", [submission_id])
    return [dict(zip(REVIEW_COLUMNS, r)) for r in rows]


def has_state_review(db: Database, submission_id: int) -> bool:
    """Whether someone here set the record's review state (a comment alone does not)."""
    return db.conn.execute("SELECT 1 FROM reviews WHERE submission_id = ? AND "
                           "action != 'comment' LIMIT 1", [submission_id]).fetchone() is not None


def queue_ids(db: Database, kind: str, *, form_id: str | None = None,
              states: tuple[str, ...] | None = OPEN_STATES, device: str | None = None,
              enumerator: str | None = None, since: str | None = None,
              until: str | None = None, after: int = 0, limit: int = 100) -> list[int]:
    """Ids of the submissions in a queue, oldest first (``states`` None: any state)."""
    # The flagged queue is read from its partial index even without a form: the
    # planner otherwise walks the whole table in id order (seconds at a million).
    hint = " INDEXED BY submissions_flag_invalid" if kind == "flagged" else ""
    sql = f"SELECT s.id FROM submissions s{hint} WHERE {_KINDS[kind]} AND s.id > ?"
    params: list = [after]
    if form_id:
        sql += " AND s.form_id = ?"
        params.append(form_id)
    if states:
        sql += f" AND s.review_state IN ({','.join('?' * len(states))})"
        params += list(states)
    sql, params = row_filters(sql, params, device, enumerator, since, until)
    sql += " ORDER BY s.id LIMIT ?"
    params.append(limit)
    return [r[0] for r in db.conn.execute(sql, params).fetchall()]

"""Queries on forwarding to HQ: the upstream, its cursor over the changes feed,
and the dead letters (records the upstream refused).

The outbox is not a copy of the records: it is ``upstream.cursor``, a position
in the changes feed (``submissions.seq``). Everything with ``seq <= cursor`` has
been settled (acknowledged by HQ or dead-lettered); everything after it is
queued. Because every write takes its seq inside its own transaction, a record
is queued exactly when its ingest, rescoring or review commits.
"""

from __future__ import annotations

from sqlite_utils import Database

from server.store.clock import utcnow

UPSTREAM_COLUMNS = ("url", "token", "set_at", "cursor", "failures", "next_attempt_at",
                    "last_attempt_at", "last_success_at", "last_error", "last_run_by",
                    "forwarded")
DEAD_COLUMNS = ("submission_id", "instance_id", "seq", "kind", "reason", "state",
                "attempts", "first_at", "last_at")


def upstream(db: Database) -> dict | None:
    row = db.execute(f"SELECT {', '.join(UPSTREAM_COLUMNS)} FROM upstream WHERE id = 1"
                     ).fetchone()
    return dict(zip(UPSTREAM_COLUMNS, row)) if row else None


def set_upstream(db: Database, url: str, token: str) -> bool:
    """Set where to forward; a different URL restarts the cursor. True if it did."""
    held = upstream(db)
    if held is None:
        db.execute("INSERT INTO upstream (id, url, token, set_at) VALUES (1, ?, ?, ?)",
                   [url, token, utcnow()])
        return True
    moved = held["url"] != url
    db.execute(
        "UPDATE upstream SET url = ?, token = ?, set_at = ?, failures = 0, "
        "next_attempt_at = 0, last_error = NULL"
        + (", cursor = 0, forwarded = 0" if moved else "") + " WHERE id = 1",
        [url, token, utcnow()],
    )
    if moved:
        db.execute("DELETE FROM outbox_dead")
    return moved


def advance(db: Database, cursor: int, forwarded: int) -> None:
    """Move the cursor forward (never back) and count what was forwarded."""
    db.execute("UPDATE upstream SET cursor = max(cursor, ?), forwarded = forwarded + ? "
               "WHERE id = 1", [cursor, forwarded])


def record_attempt(db: Database, *, ok: bool, error: str | None, failures: int,
                   next_attempt_at: float, run_by: str) -> None:
    now = utcnow()
    db.execute(
        "UPDATE upstream SET last_attempt_at = ?, last_success_at = CASE WHEN ? THEN ? "
        "ELSE last_success_at END, last_error = ?, failures = ?, next_attempt_at = ?, "
        "last_run_by = ? WHERE id = 1",
        [now, ok, now, error, failures, next_attempt_at, run_by],
    )


def queued_count(db: Database, cursor: int) -> int:
    return db.execute("SELECT count(*) FROM submissions WHERE seq > ?", [cursor]).fetchone()[0]


# Dead letters -------------------------------------------------------------------

def dead_letter(db: Database, submission_id: int, instance_id: str, seq: int, kind: str,
                reason: str) -> None:
    now = utcnow()
    db.execute(
        "INSERT INTO outbox_dead (submission_id, instance_id, seq, kind, reason, state, "
        "attempts, first_at, last_at) VALUES (?, ?, ?, ?, ?, 'dead', 1, ?, ?) "
        "ON CONFLICT(submission_id) DO UPDATE SET seq = excluded.seq, kind = excluded.kind, "
        "reason = excluded.reason, state = 'dead', attempts = attempts + 1, "
        "last_at = excluded.last_at",
        [submission_id, instance_id, seq, kind, reason, now, now],
    )


def forget_dead(db: Database, submission_ids: list[int]) -> None:
    """The upstream acknowledged these: they are no longer dead letters."""
    db.conn.executemany("DELETE FROM outbox_dead WHERE submission_id = ?",
                        [[i] for i in submission_ids])


def dead_letters(db: Database, limit: int = 100, state: str | None = None) -> list[dict]:
    sql = f"SELECT {', '.join(DEAD_COLUMNS)} FROM outbox_dead"
    params: list = []
    if state:
        sql += " WHERE state = ?"
        params.append(state)
    sql += " ORDER BY seq LIMIT ?"
    params.append(limit)
    return [dict(zip(DEAD_COLUMNS, r)) for r in db.execute(sql, params).fetchall()]


def dead_counts(db: Database) -> dict[str, int]:
    rows = db.execute("SELECT state, count(*) FROM outbox_dead GROUP BY state").fetchall()
    return {state: n for state, n in rows}


def mark_retry(db: Database, instance_ids: list[str] | None = None) -> int:
    """Queue dead letters for another attempt (all, or those of these instance ids)."""
    if instance_ids is None:
        cur = db.execute("UPDATE outbox_dead SET state = 'retry' WHERE state = 'dead'")
        return cur.rowcount
    count = 0
    for instance_id in instance_ids:
        count += db.execute("UPDATE outbox_dead SET state = 'retry' WHERE state = 'dead' "
                            "AND instance_id = ?", [instance_id]).rowcount
    return count


def retry_ids(db: Database, limit: int) -> list[int]:
    rows = db.execute("SELECT submission_id FROM outbox_dead WHERE state = 'retry' "
                      "ORDER BY seq LIMIT ?", [limit]).fetchall()
    return [r[0] for r in rows]


def requeue_ready_attachments(db: Database) -> int:
    """Dead letters that waited for attachment bytes this office now holds: retry them."""
    cur = db.execute(
        "UPDATE outbox_dead SET state = 'retry' WHERE state = 'dead' AND kind = 'attachment' "
        "AND NOT EXISTS (SELECT 1 FROM submission_attachments a LEFT JOIN blobs b "
        "ON b.sha256 = a.sha256 WHERE a.submission_id = outbox_dead.submission_id "
        "AND b.sha256 IS NULL)"
    )
    return cur.rowcount

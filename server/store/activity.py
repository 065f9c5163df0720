"""Queries on what devices pushed and what each form received per day.

Ingest calls ``note_batch`` inside its write transaction: one upsert per
(device, enumerator) and per (form, day) a batch touches, so the console's
overview and sync-status pages read a few rows instead of counting the
submissions table (migration 0030 fills both from the rows already held).
"""

from __future__ import annotations

from sqlite_utils import Database

NEW_ROW = ("created", "conflict", "updated", "flagged")  # statuses that stored a row
PROBLEMS = ("conflict", "flagged")
DEVICE_COLUMNS = ("device_id", "enumerator", "first_push_at", "last_push_at", "pushes",
                  "records", "last_door", "last_problem", "last_problem_at")


def note_batch(db: Database, *, device_id: str | None, enumerator: str | None, door: str,
               received_at: str, results: list[tuple[str | None, dict]]) -> None:
    """Record one batch: ``results`` are (form_id, ingest result) pairs."""
    stored = [(form_id, r) for form_id, r in results if r["status"] in NEW_ROW]
    problem = next((r for _, r in reversed(results) if r["status"] in PROBLEMS), None)
    db.conn.execute(
        "INSERT INTO device_activity (device_id, enumerator, first_push_at, last_push_at, "
        "pushes, records, last_door, last_problem, last_problem_at) "
        "VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?) ON CONFLICT(device_id, enumerator) DO UPDATE SET "
        "last_push_at = excluded.last_push_at, pushes = pushes + 1, "
        "records = records + excluded.records, last_door = excluded.last_door, "
        "last_problem = coalesce(excluded.last_problem, last_problem), "
        "last_problem_at = coalesce(excluded.last_problem_at, last_problem_at)",
        [device_id or "", enumerator or "", received_at, received_at, len(stored), door,
         f"{problem['status']}: {problem['instance_id']}" if problem else None,
         received_at if problem else None])
    per_form: dict[str, int] = {}
    for form_id, _ in stored:
        if form_id:
            per_form[form_id] = per_form.get(form_id, 0) + 1
    for form_id, count in per_form.items():
        db.conn.execute(
            "INSERT INTO form_day_counts (form_id, day, received) VALUES (?, ?, ?) "
            "ON CONFLICT(form_id, day) DO UPDATE SET received = received + excluded.received",
            [form_id, received_at[:10], count])


def devices(db: Database, limit: int = 1000) -> list[dict]:
    """Every (device, enumerator) pair, the longest silent first."""
    rows = db.conn.execute(
        f"SELECT {', '.join(DEVICE_COLUMNS)} FROM device_activity "
        "ORDER BY last_push_at, device_id, enumerator LIMIT ?", [limit])
    return [dict(zip(DEVICE_COLUMNS, r)) for r in rows]


def received_since(db: Database, day: str) -> dict[str, int]:
    """form_id -> records received on ``day`` (YYYY-MM-DD) or after."""
    rows = db.conn.execute("SELECT form_id, sum(received) FROM form_day_counts "
                           "WHERE day >= ? GROUP BY form_id", [day])
    return {r[0]: r[1] for r in rows}


def queue_counts(db: Database, form_id: str) -> dict[str, int]:
    """The form's records waiting for a supervisor, each count read from an index."""
    one = db.conn.execute

    def count(sql: str) -> int:
        return one(sql, [form_id]).fetchone()[0]

    return {
        "flagged": count("SELECT count(*) FROM submissions WHERE form_id = ? "
                         "AND instr(flags, '\"invalid\"') > 0"),
        "conflicts": count("SELECT count(*) FROM submissions WHERE state = 'conflict' "
                           "AND form_id = ?"),
        "quarantined": count("SELECT count(*) FROM submissions WHERE state = 'quarantined' "
                             "AND form_id = ?"),
        "duplicates": count("SELECT count(*) FROM duplicate_matches WHERE form_id = ? "
                            "AND resolution IS NULL"),
    }


def rebuild(db: Database) -> None:
    """Recount both tables from the submissions held (for a store whose rows were
    written around ingest, e.g. by a bulk load)."""
    with db.atomic():
        db.conn.execute("DELETE FROM device_activity")
        db.conn.execute("DELETE FROM form_day_counts")
        db.conn.execute(
            "INSERT INTO device_activity (device_id, enumerator, first_push_at, last_push_at, "
            "pushes, records) SELECT coalesce(device_id, ''), coalesce(submitted_by, ''), "
            "min(received_at), max(received_at), count(DISTINCT received_at), count(*) "
            "FROM submissions WHERE json_extract(origin, '$.door') IS NOT 'review' "
            "GROUP BY coalesce(device_id, ''), coalesce(submitted_by, '')")
        db.conn.execute(
            "INSERT INTO form_day_counts (form_id, day, received) "
            "SELECT form_id, substr(received_at, 1, 10), count(*) FROM submissions "
            "GROUP BY form_id, substr(received_at, 1, 10)")

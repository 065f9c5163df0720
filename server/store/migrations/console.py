"""What the web console reads without counting rows, and users' preferences."""

from __future__ import annotations

from sqlite_utils import Database

from server.store.migrations import migrations


@migrations(name="0030_console_activity")
def m0030_console_activity(db: Database) -> None:
    # What the console's overview and sync-status pages show, kept up to date by
    # ingest (one upsert per device and per form and day, per batch) so they
    # never count a million rows: the last push of each tablet and enumerator,
    # and the records each form received each day. Filled here from the rows
    # a store already holds.
    db.execute(
        """CREATE TABLE device_activity (
            device_id TEXT NOT NULL,
            enumerator TEXT NOT NULL,
            first_push_at TEXT NOT NULL,
            last_push_at TEXT NOT NULL,
            pushes INTEGER NOT NULL DEFAULT 0,
            records INTEGER NOT NULL DEFAULT 0,
            last_door TEXT,
            last_problem TEXT,
            last_problem_at TEXT,
            PRIMARY KEY (device_id, enumerator)
        )"""
    )
    db.execute(
        """CREATE TABLE form_day_counts (
            form_id TEXT NOT NULL,
            day TEXT NOT NULL,
            received INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (form_id, day)
        )"""
    )
    db.execute(
        "INSERT INTO device_activity (device_id, enumerator, first_push_at, last_push_at, "
        "pushes, records) SELECT coalesce(device_id, ''), coalesce(submitted_by, ''), "
        "min(received_at), max(received_at), count(DISTINCT received_at), count(*) "
        "FROM submissions WHERE json_extract(origin, '$.door') IS NOT 'review' "
        "GROUP BY coalesce(device_id, ''), coalesce(submitted_by, '')")
    db.execute(
        "INSERT INTO form_day_counts (form_id, day, received) "
        "SELECT form_id, substr(received_at, 1, 10), count(*) FROM submissions "
        "GROUP BY form_id, substr(received_at, 1, 10)")


@migrations(name="0031_user_preferences")
def m0031_user_preferences(db: Database) -> None:
    # A user's choices in the console (the language), apart from the account.
    db.execute(
        """CREATE TABLE user_preferences (
            user_id INTEGER PRIMARY KEY REFERENCES users(id),
            language TEXT
        )"""
    )

"""Sessions of the ODK Central-compatible API."""

from __future__ import annotations

from sqlite_utils import Database

from server.store.migrations import migrations


@migrations(name="0025_central_sessions")
def m0025_central_sessions(db: Database) -> None:
    # Sessions of the Central-compatible API (POST /v1/sessions): a bearer token
    # (stored as its sha256) that expires, apart from fieldsync's API tokens,
    # which do not (server/central/auth.py).
    db.execute(
        """CREATE TABLE central_sessions (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            user_id INTEGER NOT NULL REFERENCES users(id),
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            ended_at TEXT
        )"""
    )

"""Queries on a user's console preferences (the language), apart from the account."""

from __future__ import annotations

from sqlite_utils import Database


def language_of(db: Database, user_id: int) -> str | None:
    row = db.conn.execute("SELECT language FROM user_preferences WHERE user_id = ?",
                          [user_id]).fetchone()
    return row[0] if row else None


def set_language(db: Database, user_id: int, language: str) -> None:
    db.conn.execute(
        "INSERT INTO user_preferences (user_id, language) VALUES (?, ?) "
        "ON CONFLICT(user_id) DO UPDATE SET language = excluded.language",
        [user_id, language])

"""Queries on users and their bearer tokens (stored as sha256 hashes only)."""

from __future__ import annotations

from sqlite_utils import Database

from server.store.clock import utcnow

USER_KEYS = ("id", "name", "role", "password_hash", "created_at", "disabled_at", "deleted_at",
             "sessions_ended_at")
USER_COLUMNS = ", ".join(USER_KEYS)


def _user(row) -> dict | None:
    if row is None:
        return None
    return dict(zip(USER_KEYS, row))


def insert_user(db: Database, name: str, role: str, password_hash: str | None) -> dict:
    cur = db.execute(
        "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
        [name, role, password_hash, utcnow()],
    )
    return get_user_by_id(db, cur.lastrowid)


def get_user(db: Database, name: str) -> dict | None:
    return _user(db.execute(f"SELECT {USER_COLUMNS} FROM users WHERE name = ?", [name]).fetchone())


def get_user_by_id(db: Database, user_id: int) -> dict | None:
    return _user(db.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", [user_id]).fetchone())


def list_users(db: Database, include_deleted: bool = False) -> list[dict]:
    where = "" if include_deleted else "WHERE deleted_at IS NULL "
    rows = db.execute(f"SELECT {USER_COLUMNS} FROM users {where}ORDER BY name").fetchall()
    return [_user(r) for r in rows]


def set_disabled(db: Database, user_id: int, disabled_at: str | None) -> None:
    """Disable (a time) or enable (None); disabling also ends the account's
    console sessions for good (``sessions_ended_at``)."""
    db.execute("UPDATE users SET disabled_at = ?, sessions_ended_at = coalesce(?, "
               "sessions_ended_at) WHERE id = ?", [disabled_at, disabled_at, user_id])


def mark_deleted(db: Database, user_id: int) -> None:
    """Keep the row (records name their author) but no way to sign in."""
    now = utcnow()
    db.execute("UPDATE users SET deleted_at = ?, disabled_at = coalesce(disabled_at, ?), "
               "sessions_ended_at = ?, password_hash = NULL, digest_ha1 = NULL WHERE id = ?",
               [now, now, now, user_id])


def set_password_hash(db: Database, user_id: int, password_hash: str) -> None:
    db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [password_hash, user_id])


def insert_token(db: Database, user_id: int, token_hash: str) -> int:
    cur = db.execute(
        "INSERT INTO tokens (user_id, token_hash, created_at) VALUES (?, ?, ?)",
        [user_id, token_hash, utcnow()],
    )
    return cur.lastrowid


def user_for_token(db: Database, token_hash: str) -> dict | None:
    """The user of a live token, disabled or not (the caller checks that)."""
    row = db.execute(
        f"SELECT {', '.join('u.' + c for c in USER_KEYS)} "
        "FROM tokens t JOIN users u ON u.id = t.user_id "
        "WHERE t.token_hash = ? AND t.revoked_at IS NULL",
        [token_hash],
    ).fetchone()
    return _user(row)


def revoke_tokens(db: Database, user_id: int) -> int:
    cur = db.execute(
        "UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        [utcnow(), user_id],
    )
    return cur.rowcount

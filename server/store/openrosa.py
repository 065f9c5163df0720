"""Queries for the OpenRosa door: form media files, Digest HA1 values (sealed
with the server key, server/accounts/keys.py) and the server secret that signs
Digest nonces."""

from __future__ import annotations

import secrets

from sqlite_utils import Database

from server.store.clock import utcnow

MEDIA_COLUMNS = ("name", "content_type", "size", "md5", "sha256", "uploaded_at")


def server_secret(db: Database, name: str) -> bytes:
    """The named secret, created on first use; the same for every worker."""
    db.execute(
        "INSERT OR IGNORE INTO openrosa_secrets (name, value) VALUES (?, ?)",
        [name, secrets.token_bytes(32)],
    )
    return db.execute("SELECT value FROM openrosa_secrets WHERE name = ?", [name]).fetchone()[0]


def set_digest_ha1(db: Database, user_id: int, ha1: str | None) -> None:
    db.execute("UPDATE users SET digest_ha1 = ? WHERE id = ?", [ha1, user_id])


_HA1_KEYS = ("id", "name", "role", "password_hash", "created_at", "disabled_at",
             "deleted_at", "digest_ha1")


def user_with_ha1(db: Database, name: str) -> dict | None:
    """The user with its (sealed) Digest HA1."""
    row = db.execute(f"SELECT {', '.join(_HA1_KEYS)} FROM users WHERE name = ?",
                     [name]).fetchone()
    return dict(zip(_HA1_KEYS, row)) if row is not None else None


def digest_ha1_values(db: Database) -> list[tuple[int, str, str]]:
    """(id, name, digest_ha1) of every user holding one."""
    return db.execute("SELECT id, name, digest_ha1 FROM users "
                      "WHERE digest_ha1 IS NOT NULL").fetchall()


def list_media(db: Database, form_id: str, version: str) -> list[dict]:
    rows = db.execute(
        f"SELECT {', '.join(MEDIA_COLUMNS)} FROM form_media "
        "WHERE form_id = ? AND version = ? ORDER BY name",
        [form_id, version],
    ).fetchall()
    return [dict(zip(MEDIA_COLUMNS, r)) for r in rows]


def get_media(db: Database, form_id: str, version: str, name: str) -> dict | None:
    row = db.execute(
        f"SELECT {', '.join(MEDIA_COLUMNS)}, data FROM form_media "
        "WHERE form_id = ? AND version = ? AND name = ?",
        [form_id, version, name],
    ).fetchone()
    return dict(zip((*MEDIA_COLUMNS, "data"), row)) if row else None


def insert_media(db: Database, *, form_id: str, version: str, name: str, content_type: str,
                 data: bytes, md5: str, sha256: str, uploaded_by: str | None) -> None:
    db.execute(
        "INSERT INTO form_media (form_id, version, name, content_type, size, md5, sha256, "
        "data, uploaded_at, uploaded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [form_id, version, name, content_type, len(data), md5, sha256, data, utcnow(),
         uploaded_by],
    )

"""Numbered schema migrations, applied at start and recorded in the database.

Each migration is a function registered in order; sqlite-utils records the ones
applied in ``_sqlite_migrations`` and runs each inside a transaction, so an old
store upgrades in place and a failed step leaves it as it was. Append new
migrations at the end with the next number; never edit or reorder applied ones.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("fieldsync")


@migrations(name="0001_users_tokens_audit")
def m0001_users_tokens_audit(db: Database) -> None:
    db.execute(
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN
                ('admin','supervisor','enumerator','analyst','peer')),
            password_hash TEXT,
            created_at TEXT NOT NULL,
            disabled_at TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE tokens (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT,
            action TEXT NOT NULL,
            target TEXT,
            details TEXT
        )"""
    )
    db.execute("CREATE INDEX audit_log_action ON audit_log(action, at)")


@migrations(name="0002_forms")
def m0002_forms(db: Database) -> None:
    db.execute(
        """CREATE TABLE forms (
            form_id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open'
                CHECK (state IN ('open','closing','closed')),
            current_version TEXT,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE form_versions (
            id INTEGER PRIMARY KEY,
            form_id TEXT NOT NULL REFERENCES forms(form_id),
            version TEXT NOT NULL,
            title TEXT NOT NULL,
            xform TEXT NOT NULL,
            md5 TEXT NOT NULL,
            model TEXT NOT NULL,
            source BLOB NOT NULL,
            source_name TEXT NOT NULL,
            source_sha256 TEXT NOT NULL,
            published_at TEXT NOT NULL,
            published_by TEXT,
            UNIQUE (form_id, version)
        )"""
    )


def migrate(db: Database) -> list[str]:
    """Apply pending migrations; return the names applied now."""
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending


@migrations(name="0004_openrosa")
def m0004_openrosa(db: Database) -> None:
    # HA1 = md5(name:realm:password) for Digest; set with the password.
    db.execute("ALTER TABLE users ADD COLUMN digest_ha1 TEXT")
    db.execute(
        """CREATE TABLE openrosa_secrets (
            name TEXT PRIMARY KEY,
            value BLOB NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE form_media (
            id INTEGER PRIMARY KEY,
            form_id TEXT NOT NULL,
            version TEXT NOT NULL,
            name TEXT NOT NULL,
            content_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            md5 TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            data BLOB NOT NULL,
            uploaded_at TEXT NOT NULL,
            uploaded_by TEXT,
            UNIQUE (form_id, version, name),
            FOREIGN KEY (form_id, version) REFERENCES form_versions(form_id, version)
        )"""
    )

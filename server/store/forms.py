"""Queries on the form registry: forms, their immutable versions and states."""

from __future__ import annotations

from sqlite_utils import Database

from server.store.clock import utcnow

VERSION_COLUMNS = (
    "form_id, version, title, md5, source_name, source_sha256, published_at, published_by"
)


def get_form(db: Database, form_id: str) -> dict | None:
    row = db.execute(
        "SELECT form_id, title, state, current_version, created_at FROM forms WHERE form_id = ?",
        [form_id],
    ).fetchone()
    if row is None:
        return None
    return dict(zip(["form_id", "title", "state", "current_version", "created_at"], row))


def list_forms(db: Database) -> list[dict]:
    rows = db.execute(
        "SELECT form_id, title, state, current_version, created_at FROM forms ORDER BY form_id"
    ).fetchall()
    return [dict(zip(["form_id", "title", "state", "current_version", "created_at"], r))
            for r in rows]


def list_versions(db: Database, form_id: str) -> list[dict]:
    rows = db.execute(
        f"SELECT {VERSION_COLUMNS} FROM form_versions WHERE form_id = ? ORDER BY id",
        [form_id],
    ).fetchall()
    return [dict(zip([c.strip() for c in VERSION_COLUMNS.split(",")], r)) for r in rows]


def get_version(db: Database, form_id: str, version: str) -> dict | None:
    row = db.execute(
        f"SELECT {VERSION_COLUMNS}, xform, model, source FROM form_versions "
        "WHERE form_id = ? AND version = ?",
        [form_id, version],
    ).fetchone()
    if row is None:
        return None
    keys = [c.strip() for c in VERSION_COLUMNS.split(",")] + ["xform", "model", "source"]
    return dict(zip(keys, row))


def insert_version(db: Database, *, form_id: str, version: str, title: str, xform: str,
                   md5: str, model: str, source: bytes, source_name: str,
                   source_sha256: str, published_by: str | None) -> None:
    now = utcnow()
    db.execute(
        "INSERT INTO forms (form_id, title, state, current_version, created_at) "
        "VALUES (?, ?, 'open', ?, ?) "
        "ON CONFLICT(form_id) DO UPDATE SET title = excluded.title, "
        "current_version = excluded.current_version",
        [form_id, title, version, now],
    )
    db.execute(
        "INSERT INTO form_versions (form_id, version, title, xform, md5, model, source, "
        "source_name, source_sha256, published_at, published_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [form_id, version, title, xform, md5, model, source, source_name, source_sha256,
         now, published_by],
    )


def set_state(db: Database, form_id: str, state: str) -> None:
    db.execute("UPDATE forms SET state = ? WHERE form_id = ?", [state, form_id])


def get_model(db: Database, form_id: str, version: str) -> tuple[str, str] | None:
    """(md5, model JSON) of a version, without loading the XForm or source."""
    return db.execute(
        "SELECT md5, model FROM form_versions WHERE form_id = ? AND version = ?",
        [form_id, version],
    ).fetchone()

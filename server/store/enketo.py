"""Queries on Enketo surveys (the links Enketo gave), public links, and the
instance as received that an edit in Enketo starts from."""

from __future__ import annotations

import json

from sqlite_utils import Database

from server.store.clock import utcnow

SURVEY_COLUMNS = ("form_id", "link_id", "server_url", "enketo_id", "links", "active",
                  "synced", "refreshed_at", "error")
LINK_COLUMNS = ("id", "form_id", "label", "token_hash", "token_sealed", "created_by",
                "created_at", "revoked_by", "revoked_at")
FORM_SURVEY = 0  # link_id of a form's own survey


def _survey(row) -> dict | None:
    if row is None:
        return None
    out = dict(zip(SURVEY_COLUMNS, row))
    out["links"] = json.loads(out["links"] or "{}")
    out["active"], out["synced"] = bool(out["active"]), bool(out["synced"])
    return out


def survey_get(db: Database, form_id: str, link_id: int = FORM_SURVEY) -> dict | None:
    return _survey(db.execute(
        f"SELECT {', '.join(SURVEY_COLUMNS)} FROM enketo_surveys WHERE form_id = ? "
        "AND link_id = ?", [form_id, link_id]).fetchone())


SHOWN = ("active", "synced", "enketo_id", "links", "refreshed_at", "error")


def survey_shown(db: Database, form_id: str, link_id: int = FORM_SURVEY) -> dict:
    """The parts of a survey the API, the CLI and the console show (empty when
    Enketo was never asked)."""
    row = survey_get(db, form_id, link_id)
    if row is None:
        return {"active": False, "synced": False, "enketo_id": None, "links": {},
                "refreshed_at": None, "error": None}
    return {k: row[k] for k in SHOWN}


def surveys_of(db: Database, form_id: str) -> list[dict]:
    rows = db.execute(f"SELECT {', '.join(SURVEY_COLUMNS)} FROM enketo_surveys "
                      "WHERE form_id = ? ORDER BY link_id", [form_id]).fetchall()
    return [_survey(r) for r in rows]


def survey_put(db: Database, form_id: str, link_id: int, *, server_url: str, active: bool,
               synced: bool, links: dict | None = None, enketo_id: str | None = None,
               error: str | None = None) -> None:
    """Record what fieldsync wants of a survey and what Enketo last answered;
    links already held are kept when Enketo gave none (it could not be reached)."""
    db.execute(
        "INSERT INTO enketo_surveys (form_id, link_id, server_url, enketo_id, links, active, "
        "synced, refreshed_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(form_id, link_id) DO UPDATE SET server_url = excluded.server_url, "
        "enketo_id = coalesce(excluded.enketo_id, enketo_id), "
        "links = CASE WHEN excluded.links = '{}' THEN links ELSE excluded.links END, "
        "active = excluded.active, synced = excluded.synced, "
        "refreshed_at = CASE WHEN excluded.synced THEN excluded.refreshed_at "
        "ELSE refreshed_at END, error = excluded.error",
        [form_id, link_id, server_url, enketo_id, json.dumps(links or {}, sort_keys=True),
         int(active), int(synced), utcnow() if synced else None, error])


def _link(row) -> dict | None:
    return dict(zip(LINK_COLUMNS, row)) if row else None


def link_insert(db: Database, form_id: str, label: str, token_hash: str, token_sealed: str,
                created_by: str | None) -> int:
    cur = db.execute(
        "INSERT INTO public_links (form_id, label, token_hash, token_sealed, created_by, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
        [form_id, label, token_hash, token_sealed, created_by, utcnow()])
    return cur.lastrowid


def link_by_hash(db: Database, token_hash: str) -> dict | None:
    return _link(db.execute(f"SELECT {', '.join(LINK_COLUMNS)} FROM public_links "
                            "WHERE token_hash = ?", [token_hash]).fetchone())


def link_get(db: Database, link_id: int) -> dict | None:
    return _link(db.execute(f"SELECT {', '.join(LINK_COLUMNS)} FROM public_links "
                            "WHERE id = ?", [link_id]).fetchone())


def links_of(db: Database, form_id: str) -> list[dict]:
    rows = db.execute(f"SELECT {', '.join(LINK_COLUMNS)} FROM public_links WHERE form_id = ? "
                      "ORDER BY id", [form_id]).fetchall()
    return [_link(r) for r in rows]


def link_revoke(db: Database, link_id: int, actor: str | None) -> bool:
    return db.execute("UPDATE public_links SET revoked_at = ?, revoked_by = ? "
                      "WHERE id = ? AND revoked_at IS NULL",
                      [utcnow(), actor, link_id]).rowcount > 0


def raw_instance(db: Database, submission_id: int) -> tuple[bytes | None, str | None]:
    """(the instance as received, its format ``xml`` or ``json``) of one row."""
    row = db.execute("SELECT raw, raw_format FROM submissions WHERE id = ?",
                     [submission_id]).fetchone()
    return (row[0], row[1]) if row else (None, None)

"""Queries behind the Central-compatible API: sessions, form statistics, and the
submission columns Central's clients read, as SQL expressions shared by the
REST listing and OData (so a filter on ``__system/reviewState`` compares the
very value the row shows).

The expressions read ``submissions s`` and ``users u`` (the account that
submitted, ``LEFT JOIN users u ON u.name = s.submitted_by``).
"""

from __future__ import annotations

from sqlite_utils import Database

from server.store.answers import main_table, q, repeat_table
from server.store.submissions import FLAG_WORDS, of_logical
from server.store.users import USER_COLUMNS

# fieldsync review state -> Central's (received is Central's null; a received
# record that was edited is Central's "edited"; a duplicate is set aside: rejected).
REVIEW_STATE = (
    "CASE s.review_state WHEN 'has_issues' THEN 'hasIssues' WHEN 'approved' THEN 'approved' "
    "WHEN 'rejected' THEN 'rejected' WHEN 'duplicate' THEN 'rejected' "
    "ELSE CASE WHEN s.logical_id != s.instance_id THEN 'edited' END END"
)
EDITED = "s.logical_id != s.instance_id"
# When the record first arrived: its own row, or for an edit its first version's.
CREATED_AT = (
    "CASE WHEN s.logical_id = s.instance_id THEN s.received_at ELSE (SELECT f.received_at "
    "FROM submissions f WHERE f.instance_id = s.logical_id ORDER BY f.id LIMIT 1) END"
)
# The last change after arrival: a review of this version, else the edit that made it.
UPDATED_AT = (
    "coalesce((SELECT r.at FROM reviews r WHERE r.submission_id = s.id ORDER BY r.id DESC "
    "LIMIT 1), CASE WHEN s.logical_id != s.instance_id THEN s.received_at END)"
)
EDITS = ("CASE WHEN s.logical_id = s.instance_id THEN 0 ELSE (SELECT count(*) FROM "
         "submissions e WHERE e.logical_id = s.logical_id AND e.logical_id != e.instance_id) END")
DEVICE_ID = "coalesce(json_extract(s.origin, '$.device_id'), s.device_id)"
SUBMITTER_NAME = "coalesce(json_extract(s.origin, '$.user'), s.submitted_by)"
ATTACHMENTS_EXPECTED = ("(SELECT count(*) FROM submission_attachments sa "
                        "WHERE sa.submission_id = s.id)")
ATTACHMENTS_PRESENT = ("(SELECT count(*) FROM submission_attachments sa JOIN blobs b "
                       "ON b.sha256 = sa.sha256 WHERE sa.submission_id = s.id)")
FLAGS = f"CASE WHEN s.flags = '[]' THEN NULL ELSE {FLAG_WORDS} END"
CONFLICT = "(instr(s.flags, '\"conflict\"') > 0 OR instr(s.flags, '\"edit_conflict\"') > 0)"
VALIDATION = "CASE WHEN instr(s.flags, '\"invalid\"') > 0 THEN 'invalid' ELSE 'valid' END"
DUPLICATE = ("CASE WHEN instr(s.flags, '\"duplicate\"') > 0 OR s.review_state = 'duplicate' "
             "THEN 'duplicate' WHEN instr(s.flags, '\"probable_duplicate\"') > 0 "
             "THEN 'probable' END")
DUPLICATE_OF = (
    "CASE WHEN s.review_state = 'duplicate' THEN (SELECT d.logical_id FROM reviews r "
    "JOIN submissions d ON d.id = r.duplicate_of WHERE r.submission_id = s.id "
    "AND r.duplicate_of IS NOT NULL ORDER BY r.id DESC LIMIT 1) END"
)
OFFICE = "json_extract(s.origin, '$.office')"
USER_JOIN = "LEFT JOIN users u ON u.name = s.submitted_by"
# The REST listing shows every record as it is now, quarantined ones included.
LISTED_STATES = ("current", "quarantined")


def score_expr(dimension: str) -> tuple[str, list]:
    return "json_extract(s.scores, ?)", [f"$.scores.{dimension}"]


# Sessions ------------------------------------------------------------------------

def insert_session(db: Database, token_hash: str, user_id: int, created_at: str,
                   expires_at: str) -> None:
    db.execute("INSERT INTO central_sessions (token_hash, user_id, created_at, expires_at) "
               "VALUES (?, ?, ?, ?)", [token_hash, user_id, created_at, expires_at])


def session_user_id(db: Database, token_hash: str, now: str) -> int | None:
    """The user of a live session (not ended, not expired), or None."""
    row = db.execute("SELECT user_id FROM central_sessions WHERE token_hash = ? "
                     "AND ended_at IS NULL AND expires_at > ?", [token_hash, now]).fetchone()
    return row[0] if row else None


def end_session(db: Database, token_hash: str, user_id: int | None, now: str) -> int:
    """End a live session (of ``user_id`` only, unless None); returns how many ended."""
    sql = "UPDATE central_sessions SET ended_at = ? WHERE token_hash = ? AND ended_at IS NULL"
    params: list = [now, token_hash]
    if user_id is not None:
        sql += " AND user_id = ?"
        params.append(user_id)
    return db.execute(sql, params).rowcount


def end_user_sessions(db: Database, user_id: int, now: str) -> int:
    """End every live session of a user (disabled, deleted, new password)."""
    return db.execute("UPDATE central_sessions SET ended_at = ? WHERE user_id = ? "
                      "AND ended_at IS NULL", [now, user_id]).rowcount


# Accounts, forms ---------------------------------------------------------------

def first_account_at(db: Database) -> str | None:
    return db.execute("SELECT min(created_at) FROM users").fetchone()[0]


def user_by_name(db: Database, name: str | None) -> dict | None:
    if not name:
        return None
    row = db.execute(f"SELECT {USER_COLUMNS} FROM users WHERE name = ?", [name]).fetchone()
    return dict(zip([c.strip() for c in USER_COLUMNS.split(",")], row)) if row else None


def form_counts(db: Database, form_id: str) -> dict:
    """Records shown for a form (current versions) by Central's review states."""
    row = db.execute(
        "SELECT count(*), coalesce(sum(s.review_state = 'received' AND "
        f"s.logical_id = s.instance_id), 0), coalesce(sum(s.review_state = 'has_issues'), 0), "
        f"coalesce(sum(s.review_state = 'received' AND {EDITED}), 0), max(s.received_at) "
        "FROM submissions s WHERE s.form_id = ? AND s.state = 'current'", [form_id]).fetchone()
    return {"submissions": row[0], "received": row[1], "hasIssues": row[2], "edited": row[3],
            "lastSubmission": row[4]}


def project_counts(db: Database) -> tuple[int, str | None]:
    row = db.execute("SELECT (SELECT count(*) FROM forms), (SELECT max(received_at) FROM "
                     "submissions WHERE state = 'current')").fetchone()
    return row[0], row[1]


# Submissions as Central's REST API shows them ---------------------------------

def _submission_json(extended: bool) -> str:
    submitter = "coalesce(u.id, 0)"
    version = (f"json_object('instanceId', s.instance_id, 'instanceName', NULL, "
               f"'submitterId', {submitter}, 'deviceId', {DEVICE_ID}, 'userAgent', NULL, "
               f"'createdAt', s.received_at, 'current', json('true'))")
    parts = ["'instanceId', s.logical_id", f"'submitterId', {submitter}",
             f"'deviceId', {DEVICE_ID}", "'userAgent', NULL", f"'reviewState', {REVIEW_STATE}",
             f"'createdAt', {CREATED_AT}", f"'updatedAt', {UPDATED_AT}", "'deletedAt', NULL",
             f"'currentVersion', {version}"]
    if extended:
        parts.append("'submitter', json_object('id', coalesce(u.id, 0), 'type', 'user', "
                     f"'displayName', coalesce(u.name, {SUBMITTER_NAME}, ''), "
                     "'createdAt', u.created_at, 'updatedAt', NULL, 'deletedAt', u.disabled_at)")
    return f"json_object({', '.join(parts)})"


def submissions_json(db: Database, form_id: str, *, extended: bool = False):
    """A live cursor of (json text,) per record of the form, oldest change first."""
    marks = ",".join("?" * len(LISTED_STATES))
    return db.conn.execute(
        f"SELECT {_submission_json(extended)} FROM submissions s {USER_JOIN} "
        f"WHERE s.form_id = ? AND s.state IN ({marks}) ORDER BY s.seq",
        [form_id, *LISTED_STATES])


def submission_json(db: Database, submission_id: int, *, extended: bool = False) -> str:
    return db.execute(f"SELECT {_submission_json(extended)} FROM submissions s {USER_JOIN} "
                      "WHERE s.id = ?", [submission_id]).fetchone()[0]


def listed_row_id(db: Database, form_id: str, instance_id: str) -> int | None:
    """The row shown for a record: its current (or quarantined) version, found by the
    record's first instanceID or by any version's instanceID (through the
    instanceID index and the index of edits, never a scan)."""
    row = db.execute("SELECT logical_id FROM submissions WHERE instance_id = ? AND "
                     "form_id = ? ORDER BY id LIMIT 1", [instance_id, form_id]).fetchone()
    if row is None:
        return None
    sql, params = of_logical("id, state", row[0])
    marks = ",".join("?" * len(LISTED_STATES))
    found = db.execute(f"SELECT id FROM ({sql}) WHERE state IN ({marks}) ORDER BY id DESC "
                       "LIMIT 1", [*params, *LISTED_STATES]).fetchone()
    return found[0] if found else None


# Central's CSV export ------------------------------------------------------------

def _answer_columns(db: Database, table: str, alias: str, paths: list[str]) -> list[str]:
    have = {r[1] for r in db.execute(f"PRAGMA table_info({q(table)})").fetchall()}
    return ["s.instance_id" if p == "meta/instanceID" else
            f"{alias}.{q(p)}" if p in have else "NULL" for p in paths]


def csv_root_rows(db: Database, form_id: str, paths: list[str]):
    """Rows of Central's root CSV: SubmissionDate, the answers at ``paths``, KEY,
    SubmitterID, SubmitterName, AttachmentsPresent, AttachmentsExpected, Status,
    ReviewState, DeviceID, Edits, FormVersion (a live cursor, current versions)."""
    table = main_table(form_id)
    select = ([CREATED_AT] + _answer_columns(db, table, "a", paths) +
              ["s.logical_id", "u.id", SUBMITTER_NAME, ATTACHMENTS_PRESENT,
               ATTACHMENTS_EXPECTED, "NULL", REVIEW_STATE, DEVICE_ID, EDITS, "s.form_version"])
    return db.conn.execute(
        f"SELECT {', '.join(select)} FROM {q(table)} a CROSS JOIN submissions s ON "
        f"s.id = a.submission_id {USER_JOIN} WHERE s.state = 'current' "
        "ORDER BY a.submission_id")


def csv_repeat_rows(db: Database, form_id: str, repeat_path: str, paths: list[str]):
    """Rows of (record's first instanceID, _index, answers at ``paths``...) of a repeat."""
    table = repeat_table(form_id, repeat_path)
    select = ["s.logical_id", "r._index"] + _answer_columns(db, table, "r", paths)
    return db.conn.execute(
        f"SELECT {', '.join(select)} FROM {q(table)} r CROSS JOIN submissions s ON "
        "s.id = r.submission_id WHERE s.state = 'current' ORDER BY r.rowid")


def media_of_form(db: Database, form_id: str):
    """(file name, bytes) of every file held for the form's current records, one at a time."""
    return db.conn.execute(
        "SELECT sa.name, b.data FROM submissions s JOIN submission_attachments sa ON "
        "sa.submission_id = s.id JOIN blobs b ON b.sha256 = sa.sha256 "
        "WHERE s.form_id = ? AND s.state = 'current' ORDER BY s.id, sa.name", [form_id])

"""Queries on submissions, their attachments, blobs, batches and the change sequence.

Every write to a submission row takes the next value of the one change sequence
(``next_seq``) inside the writer's transaction. SQLite runs one writer at a
time and commits in order, so readers paging ``seq > N`` never skip a record
and never see one twice at the same seq.
"""

from __future__ import annotations

import json

from sqlite_utils import Database

from server.store.clock import utcnow

COLUMNS = (
    "id", "instance_id", "logical_id", "form_id", "form_version", "deprecated_id",
    "content_hash", "data", "raw_format", "state", "flags", "findings", "scores",
    "scoring_version", "review_state", "origin", "device_id", "submitted_by",
    "received_at", "seq",
)
# A row's current scores, ``{"scores", "indicators"}``. A record stored by ingest
# keeps ``{"scores": ...}`` in its row and its indicators (some 700 bytes, most
# of the document) in ``submission_scores`` only, under the same version, which
# ingest writes in the same transaction: one copy, and the row small enough for
# two to share a 4 KiB page. Rows written otherwise (rescoring, a peer's scores,
# rows from before) hold the whole document, read as it is.
_CURRENT_SCORES = (
    "CASE WHEN scores IS NULL OR json_type(scores, '$.indicators') IS NOT NULL THEN scores "
    "ELSE coalesce((SELECT '{\"scores\":' || ss.scores || ',\"indicators\":' || ss.indicators "
    "|| '}' FROM submission_scores ss WHERE ss.submission_id = submissions.id "
    "AND ss.scoring_version = submissions.scoring_version), scores) END AS scores"
)
SELECTED = ", ".join(_CURRENT_SCORES if c == "scores" else c for c in COLUMNS)
_SELECT = f"SELECT {SELECTED} FROM submissions"
JSON_COLUMNS = ("data", "flags", "findings", "scores", "origin")
# A row's flags as space-separated names, in SQL. Flag names are plain words, so
# taking the JSON punctuation away is enough, whether the list was written with
# json's ", " separator or a compact one.
FLAG_WORDS = ("replace(replace(replace(replace(s.flags, '\", \"', ' '), '\",\"', ' '), "
              "'[\"', ''), '\"]', '')")
# Which records carry a flag, as every table, queue and export filters them
# ("flagged" is the condition of the partial index submissions_flag_invalid).
FLAG_TESTS = {
    "flagged": "instr(s.flags, '\"invalid\"') > 0",
    "duplicate": ("(instr(s.flags, '\"probable_duplicate\"') > 0 "
                  "OR instr(s.flags, '\"duplicate\"') > 0)"),
}
# Who sent a record: here, or as the office that forwarded it says.
SENT_BY = {
    "device": "(s.device_id = ? OR json_extract(s.origin, '$.device_id') = ?)",
    "enumerator": "(s.submitted_by = ? OR json_extract(s.origin, '$.user') = ?)",
}


def flag_filter(name: str, present: bool) -> tuple[str, list]:
    """Records with (or without) the ``flagged`` (invalid) or ``duplicate`` flags."""
    return (FLAG_TESTS[name] if present else f"NOT {FLAG_TESTS[name]}"), []


def sent_by_filter(name: str, value: str) -> tuple[str, list]:
    """Records sent from this ``device`` or by this ``enumerator``."""
    return SENT_BY[name], [value, value]


def row_filters(sql: str, params: list, device, enumerator, since, until):
    """``sql`` (over submissions ``s``) narrowed to a device, an enumerator and a
    received date range, where given."""
    for name, value in (("device", device), ("enumerator", enumerator)):
        if value:
            clause, values = sent_by_filter(name, value)
            sql += f" AND {clause}"
            params += values
    if since:
        sql += " AND s.received_at >= ?"
        params.append(since)
    if until:
        sql += " AND s.received_at < ?"
        params.append(until)
    return sql, params


def _row(row) -> dict | None:
    if row is None:
        return None
    out = dict(zip(COLUMNS, row))
    for key in JSON_COLUMNS:
        if out[key] is not None:
            out[key] = json.loads(out[key])
    return out


def next_seq(db: Database) -> int:
    """Take the next change sequence number (call inside a write transaction)."""
    return take_seqs(db, 1)[0]


def take_seqs(db: Database, count: int) -> range:
    """Take ``count`` consecutive change sequence numbers at once (a batch's
    new records, a rescoring batch; call inside a write transaction)."""
    last = db.conn.execute(
        "UPDATE seq_counter SET value = value + ? WHERE id = 1 RETURNING value", [count]
    ).fetchone()[0]
    return range(last - count + 1, last + 1)


def instances_among(db: Database, instance_ids: list[str]) -> set[str]:
    """Which of these instanceIDs the store already holds (one statement for a
    batch, through the instanceID index; call inside the write transaction, so
    the answer holds until it ends)."""
    found: set[str] = set()
    for at in range(0, len(instance_ids), _IDS_PER_STATEMENT):
        part = instance_ids[at:at + _IDS_PER_STATEMENT]
        found.update(r[0] for r in db.conn.execute(
            f"SELECT instance_id FROM submissions WHERE instance_id IN "
            f"({','.join('?' * len(part))})", part))
    return found


_IDS_PER_STATEMENT = 10_000  # SQLite allows 32,766 host parameters


def by_instance(db: Database, instance_id: str) -> list[dict]:
    rows = db.execute(f"{_SELECT} WHERE instance_id = ? ORDER BY id", [instance_id]).fetchall()
    return [_row(r) for r in rows]


def by_id(db: Database, submission_id: int) -> dict | None:
    return _row(db.execute(f"{_SELECT} WHERE id = ?", [submission_id]).fetchone())


def of_logical(columns: str, logical_id: str) -> tuple[str, list]:
    """A SELECT of ``columns`` of every version of a logical record, and its
    parameters. The first version's instanceID is the logical id (the
    instanceID index finds it); the later ones are in the index of edits
    (migration 0014), which a new record never enters."""
    return (f"SELECT {columns} FROM submissions WHERE instance_id = ? AND logical_id = ? "
            f"UNION ALL SELECT {columns} FROM submissions WHERE logical_id = ? "
            f"AND logical_id != instance_id", [logical_id] * 3)


def current_of_logical(db: Database, logical_id: str) -> dict | None:
    sql, params = of_logical(SELECTED, logical_id)
    return _row(db.execute(
        f"SELECT * FROM ({sql}) WHERE state = 'current' ORDER BY id DESC LIMIT 1",
        params).fetchone())


def history(db: Database, logical_id: str) -> list[dict]:
    sql, params = of_logical(SELECTED, logical_id)
    return [_row(r) for r in db.execute(f"{sql} ORDER BY id", params).fetchall()]


def insert(db: Database, rec: dict, seq: int | None = None) -> tuple[int, int]:
    """Insert a submission row; returns (id, seq).

    ``data_json`` is the data's JSON text; ``findings_json``, ``origin_json`` and
    ``scores_json`` (``rescore.scores_text``), when present, are the other
    columns' text already encoded outside the write transaction. With
    ``scores_json`` the row keeps the scores alone: the caller keeps the whole
    under the same version in ``submission_scores`` (``rescore.keep_scores``)
    in the same transaction, where reads take the indicators from
    (``_CURRENT_SCORES``). ``seq``: one the caller took (``take_seqs``); else
    the next is taken here."""
    if seq is None:
        seq = next_seq(db)
    scores_json = rec.get("scores_json")
    cur = db.execute(
        "INSERT INTO submissions (instance_id, logical_id, form_id, form_version, "
        "deprecated_id, content_hash, data, raw, raw_format, state, flags, findings, scores, "
        "scoring_version, review_state, origin, device_id, submitted_by, received_at, seq) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            rec["instance_id"], rec["logical_id"], rec["form_id"], rec["form_version"],
            rec.get("deprecated_id"), rec["content_hash"], rec["data_json"], rec.get("raw"),
            rec.get("raw_format", "json"), rec["state"], json.dumps(rec.get("flags", [])),
            rec.get("findings_json") or json.dumps(rec.get("findings", [])),
            f'{{"scores":{scores_json[0]}}}' if scores_json else (
                json.dumps(rec["scores"]) if rec.get("scores") is not None else None),
            rec.get("scoring_version"), rec.get("review_state") or "received",
            rec.get("origin_json") or origin_text(rec.get("origin") or {}),
            rec.get("device_id"), rec.get("submitted_by"), rec.get("received_at") or utcnow(),
            seq,
        ],
    )
    return cur.lastrowid, seq


def origin_text(origin: dict) -> str:
    """The origin column's text: sorted keys, so one origin has one text."""
    return json.dumps(origin, sort_keys=True)


def update(db: Database, submission_id: int, **changes) -> int:
    """Update columns of one row and give it a new seq; returns the seq."""
    seq = next_seq(db)
    sets, params = [], []
    for key, value in changes.items():
        if key not in COLUMNS or key in ("id", "seq"):
            raise ValueError(f"not an updatable column: {key}")
        sets.append(f"{key} = ?")
        params.append(json.dumps(value) if key in JSON_COLUMNS and value is not None
                      else value)
    sets.append("seq = ?")
    params += [seq, submission_id]
    db.execute(f"UPDATE submissions SET {', '.join(sets)} WHERE id = ?", params)
    return seq


def quarantined(db: Database, form_id: str | None = None,
                version: str | None = None) -> list[dict]:
    sql = f"{_SELECT} WHERE state = 'quarantined'"
    params: list = []
    if form_id is not None:
        sql += " AND form_id = ?"
        params.append(form_id)
    if version is not None:
        sql += " AND form_version = ?"
        params.append(version)
    return [_row(r) for r in db.execute(sql + " ORDER BY id", params).fetchall()]


def changes(db: Database, since: int, limit: int, form_id: str | None = None) -> list[dict]:
    sql = f"{_SELECT} WHERE seq > ?"
    params: list = [since]
    if form_id:
        sql += " AND form_id = ?"
        params.append(form_id)
    sql += " ORDER BY seq LIMIT ?"
    params.append(limit)
    return [_row(r) for r in db.execute(sql, params).fetchall()]


def max_seq(db: Database) -> int:
    return db.execute("SELECT value FROM seq_counter WHERE id = 1").fetchone()[0]


def count(db: Database, form_id: str | None = None) -> int:
    if form_id:
        return db.execute("SELECT count(*) FROM submissions WHERE form_id = ?",
                          [form_id]).fetchone()[0]
    return db.execute("SELECT count(*) FROM submissions").fetchone()[0]


# Attachments and blobs ---------------------------------------------------------

def put_blob(db: Database, sha256: str, data: bytes) -> bool:
    """Store bytes under their sha256; returns True if they were new."""
    cur = db.execute(
        "INSERT OR IGNORE INTO blobs (sha256, size, data, received_at) VALUES (?, ?, ?, ?)",
        [sha256, len(data), data, utcnow()],
    )
    return cur.rowcount == 1


def has_blob(db: Database, sha256: str) -> bool:
    return db.execute("SELECT 1 FROM blobs WHERE sha256 = ?", [sha256]).fetchone() is not None


def held_blobs(db: Database, hashes: list[str]) -> set[str]:
    if not hashes:
        return set()
    marks = ",".join("?" * len(hashes))
    rows = db.execute(f"SELECT sha256 FROM blobs WHERE sha256 IN ({marks})", hashes)
    return {r[0] for r in rows}


def get_blob(db: Database, sha256: str) -> bytes | None:
    row = db.execute("SELECT data FROM blobs WHERE sha256 = ?", [sha256]).fetchone()
    return row[0] if row else None


def link_attachment(db: Database, submission_id: int, name: str, sha256: str | None,
                    size: int | None) -> None:
    """Record that a submission names an attachment; a known hash is never erased."""
    db.execute(
        "INSERT INTO submission_attachments (submission_id, name, sha256, size) "
        "VALUES (?, ?, ?, ?) ON CONFLICT(submission_id, name) DO UPDATE SET "
        "sha256 = coalesce(excluded.sha256, sha256), size = coalesce(excluded.size, size)",
        [submission_id, name, sha256, size],
    )


def attachments(db: Database, submission_id: int) -> list[dict]:
    rows = db.execute(
        "SELECT a.name, a.sha256, a.size, b.sha256 IS NOT NULL FROM submission_attachments a "
        "LEFT JOIN blobs b ON b.sha256 = a.sha256 WHERE a.submission_id = ? ORDER BY a.name",
        [submission_id],
    ).fetchall()
    return [{"name": r[0], "sha256": r[1], "size": r[2], "received": bool(r[3])} for r in rows]


def record_batch(db: Database, device_id: str, batch_id: str, submitted_by: str | None,
                 counts: dict) -> None:
    db.execute(
        "INSERT INTO batches (device_id, batch_id, received_at, submitted_by, counts) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(device_id, batch_id) DO UPDATE SET "
        "received_at = excluded.received_at, counts = excluded.counts",
        [device_id, batch_id, utcnow(), submitted_by, json.dumps(counts, sort_keys=True)],
    )

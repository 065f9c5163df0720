"""Queries for probable-duplicate detection: respondent keys, the typo index,
the matches found, and the per-form duplicate rules.

Every candidate query is an index lookup (person key; device or enumerator and
day range; typo variants) on ``respondent_keys`` alone, so its cost does not
grow with the number of stored records. Whether a candidate is still live (a
current record not resolved as a duplicate) is asked by ``live`` only for the
few candidates the rules kept, by primary key. CROSS JOIN fixes the join order
of the typo query: SQLite never reorders it, whatever its statistics say. Candidates are current
records not already resolved as duplicates and not versions of the same
logical record.
"""

from __future__ import annotations

import json

from sqlite_utils import Database

from server.store.answers import main_table, q
from server.store.clock import utcnow

KEY_COLUMNS = ("submission_id", "logical_id", "key_norm", "person_norm", "round_norm",
               "day", "device_id", "enumerator", "layout", "sig")
_CANDIDATE = f"SELECT {', '.join('k.' + c for c in KEY_COLUMNS)} FROM respondent_keys k "
_OTHER = "AND k.logical_id != ? "
MATCH_COLUMNS = ("id", "submission_id", "other_id", "form_id", "reasons", "similarity",
                 "detected_at", "resolution", "resolved_by", "resolved_at", "duplicate_id",
                 "merged_id", "comment")


def _keys(rows) -> list[dict]:
    return [dict(zip(KEY_COLUMNS, r)) for r in rows]


# Keys and the typo index ---------------------------------------------------------

def insert_key(db: Database, submission_id: int, form_id: str, logical_id: str, *,
               key_norm, person_norm, round_norm, day, device_id, enumerator, layout: int,
               sig: bytes, variant_hashes: list[int]) -> None:
    conn = db.conn
    conn.execute(
        "INSERT OR REPLACE INTO respondent_keys (submission_id, form_id, logical_id, key_norm, "
        "person_norm, round_norm, day, device_id, enumerator, layout, sig) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [submission_id, form_id, logical_id, key_norm, person_norm, round_norm, day,
         device_id, enumerator, layout, sig],
    )
    if variant_hashes:
        conn.executemany(
            "INSERT OR IGNORE INTO respondent_key_variants (h, submission_id) VALUES (?, ?)",
            [(h, submission_id) for h in variant_hashes],
        )


def key_of(db: Database, submission_id: int) -> dict | None:
    row = db.conn.execute(f"SELECT {', '.join(KEY_COLUMNS)} FROM respondent_keys "
                          "WHERE submission_id = ?", [submission_id]).fetchone()
    return dict(zip(KEY_COLUMNS, row)) if row else None


def by_person(db: Database, form_id: str, person: str, logical_id: str,
              limit: int) -> list[dict]:
    return _keys(db.conn.execute(
        _CANDIDATE + "WHERE k.form_id = ? AND k.person_norm = ? " + _OTHER + "LIMIT ?",
        [form_id, person, logical_id, limit]).fetchall())


def near_in_time(db: Database, form_id: str, device_id: str | None, enumerator: str | None,
                 lo: int, hi: int, logical_id: str, limit: int) -> list[tuple]:
    """(submission_id, device_id, enumerator, day, layout, sig) of the records of the
    same device or enumerator with a day in [lo, hi]."""
    terms, params = [], [form_id]
    if device_id:
        terms.append("(k.device_id = ? AND k.day BETWEEN ? AND ?)")
        params += [device_id, lo, hi]
    if enumerator:
        terms.append("(k.enumerator = ? AND k.day BETWEEN ? AND ?)")
        params += [enumerator, lo, hi]
    if not terms:
        return []
    sql = ("SELECT k.submission_id, k.device_id, k.enumerator, k.day, k.layout, k.sig "
           f"FROM respondent_keys k WHERE k.form_id = ? AND ({' OR '.join(terms)}) "
           + _OTHER + "LIMIT ?")
    return db.conn.execute(sql, params + [logical_id, limit]).fetchall()


def by_variants(db: Database, hashes: list[int], round_norm: str, person_norm: str,
                logical_id: str, limit: int) -> list[tuple]:
    """(submission_id, person_norm, layout, sig) of the records of this round that
    share a typo variant with ``person_norm`` but are another person key."""
    if not hashes:
        return []
    marks = ",".join("?" * len(hashes))
    sql = ("SELECT k.submission_id, k.person_norm, k.layout, k.sig "
           "FROM respondent_key_variants v "
           "CROSS JOIN respondent_keys k ON k.submission_id = v.submission_id "
           f"WHERE v.h IN ({marks}) AND k.round_norm = ? AND k.person_norm != ? "
           + _OTHER + "LIMIT ?")
    return db.conn.execute(sql, list(hashes) + [round_norm, person_norm, logical_id,
                                                limit]).fetchall()


def live(db: Database, submission_ids: list[int]) -> set[int]:
    """The ids among these that are current and not resolved as duplicates."""
    if not submission_ids:
        return set()
    marks = ",".join("?" * len(submission_ids))
    rows = db.conn.execute(
        f"SELECT id FROM submissions WHERE id IN ({marks}) AND state = 'current' "
        "AND review_state != 'duplicate'", submission_ids).fetchall()
    return {r[0] for r in rows}


def answers_rows(db: Database, form_id: str, paths: list[str],
                 submission_ids: list[int]) -> dict[int, tuple]:
    """Flat answers of some records (columns ``paths``), by submission id."""
    if not submission_ids or not paths:
        return {}
    table = main_table(form_id)
    have = {r[1] for r in db.conn.execute(f"PRAGMA table_info({q(table)})").fetchall()}
    cols = ", ".join(q(p) if p in have else "NULL" for p in paths)
    marks = ",".join("?" * len(submission_ids))
    rows = db.conn.execute(f"SELECT submission_id, {cols} FROM {q(table)} "
                           f"WHERE submission_id IN ({marks})", submission_ids).fetchall()
    return {r[0]: r[1:] for r in rows}


# Matches -------------------------------------------------------------------------

def _match(row) -> dict | None:
    if row is None:
        return None
    out = dict(zip(MATCH_COLUMNS, row))
    out["reasons"] = json.loads(out["reasons"])
    return out


def insert_match(db: Database, submission_id: int, other_id: int, form_id: str,
                 reasons: list[dict], similarity: float | None) -> int:
    cur = db.conn.execute(
        "INSERT INTO duplicate_matches (submission_id, other_id, form_id, reasons, similarity, "
        "detected_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (submission_id, other_id) "
        "DO UPDATE SET reasons = excluded.reasons, similarity = excluded.similarity",
        [submission_id, other_id, form_id, json.dumps(reasons, sort_keys=True), similarity,
         utcnow()],
    )
    return cur.lastrowid


def get_match(db: Database, match_id: int) -> dict | None:
    return _match(db.conn.execute(
        f"SELECT {', '.join(MATCH_COLUMNS)} FROM duplicate_matches WHERE id = ?",
        [match_id]).fetchone())


def matches_of(db: Database, submission_id: int) -> list[dict]:
    rows = db.conn.execute(
        f"SELECT {', '.join(MATCH_COLUMNS)} FROM duplicate_matches "
        "WHERE submission_id = ? OR other_id = ? ORDER BY id", [submission_id, submission_id])
    return [_match(r) for r in rows]


def open_count_of(db: Database, submission_id: int) -> int:
    return db.conn.execute(
        "SELECT count(*) FROM duplicate_matches WHERE resolution IS NULL "
        "AND (submission_id = ? OR other_id = ?)", [submission_id, submission_id]).fetchone()[0]


def list_matches(db: Database, *, form_id: str | None = None, status: str = "open",
                 device: str | None = None, enumerator: str | None = None,
                 since: str | None = None, until: str | None = None,
                 after: int = 0, limit: int = 100) -> list[dict]:
    """Matches, oldest first; status open|resolved|all; filters on the newer record."""
    sql = (f"SELECT {', '.join('m.' + c for c in MATCH_COLUMNS)} FROM duplicate_matches m "
           "JOIN submissions s ON s.id = m.submission_id WHERE m.id > ?")
    params: list = [after]
    if status == "open":
        sql += " AND m.resolution IS NULL"
    elif status == "resolved":
        sql += " AND m.resolution IS NOT NULL"
    if form_id:
        sql += " AND m.form_id = ?"
        params.append(form_id)
    sql, params = row_filters(sql, params, "s", device, enumerator, since, until)
    sql += " ORDER BY m.id LIMIT ?"
    params.append(limit)
    return [_match(r) for r in db.conn.execute(sql, params).fetchall()]


def resolve_match(db: Database, match_id: int, resolution: str, actor: str | None, *,
                  duplicate_id: int | None = None, merged_id: int | None = None,
                  comment: str | None = None) -> None:
    db.conn.execute(
        "UPDATE duplicate_matches SET resolution = ?, resolved_by = ?, resolved_at = ?, "
        "duplicate_id = ?, merged_id = ?, comment = ? WHERE id = ?",
        [resolution, actor, utcnow(), duplicate_id, merged_id, comment, match_id],
    )


def row_filters(sql: str, params: list, alias: str, device, enumerator, since, until):
    """Filters on a submissions row (device, enumerator, received date range)."""
    if device:
        sql += (f" AND ({alias}.device_id = ? OR "
                f"json_extract({alias}.origin, '$.device_id') = ?)")
        params += [device, device]
    if enumerator:
        sql += (f" AND ({alias}.submitted_by = ? OR "
                f"json_extract({alias}.origin, '$.user') = ?)")
        params += [enumerator, enumerator]
    if since:
        sql += f" AND {alias}.received_at >= ?"
        params.append(since)
    if until:
        sql += f" AND {alias}.received_at < ?"
        params.append(until)
    return sql, params




# Rules -----------------------------------------------------------------------------

def get_rules(db: Database, form_id: str) -> dict | None:
    row = db.conn.execute("SELECT rules FROM duplicate_rules WHERE form_id = ?",
                          [form_id]).fetchone()
    return json.loads(row[0]) if row else None


def set_rules(db: Database, form_id: str, rules: dict, actor: str | None) -> None:
    db.conn.execute(
        "INSERT INTO duplicate_rules (form_id, rules, updated_at, updated_by) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (form_id) DO UPDATE SET rules = excluded.rules, "
        "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        [form_id, json.dumps(rules, sort_keys=True), utcnow(), actor],
    )

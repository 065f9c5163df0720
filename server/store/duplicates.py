"""Queries for probable-duplicate detection: respondent keys, the matches
found, and the per-form duplicate rules.

Every candidate query is an index lookup (person key; device or enumerator and
day range, read from covering indexes; form, round and day range for the typo
rule, ``server.dedup.typo_map``), bounded by a LIMIT or by its days, so its
cost grows neither with the number of stored records nor with how many
records share a key: one statement per rule and record
(``server.dedup.lookups``). Whether a candidate is still live (a current
record not resolved as a duplicate) is asked, with its answers, only for the
few candidates the rules kept, by primary key (``confirm_rows``). Candidates
are not versions of the same logical record.
"""

from __future__ import annotations

import json

from sqlite_utils import Database

from server.store import submissions as subs_q
from server.store.answers import main_table, q
from server.store.clock import utcnow

# What the person-key rules read of a candidate: all in the covering index
# ``respondent_keys_person`` (migration 0013), so no row of the table is read.
CANDIDATE_COLUMNS = ("submission_id", "logical_id", "key_norm", "person_norm", "round_norm",
                     "day")
_CANDIDATE = f"SELECT {', '.join('k.' + c for c in CANDIDATE_COLUMNS)} FROM respondent_keys k "
_OTHER = "AND k.logical_id != ? "
NEAR_COLUMNS = ("submission_id", "day", "layout", "answered", "sketch", "same_device",
                "same_enumerator")
_NEAR = ("SELECT k.submission_id, k.day, k.layout, k.answered, k.sketch, k.device_id = ?, "
         "k.enumerator = ? FROM respondent_keys k ")
MAX_PARAMS = 30_000  # host parameters a statement may bind (SQLite's default: 32,766)
MATCH_COLUMNS = ("id", "submission_id", "other_id", "form_id", "reasons", "similarity",
                 "detected_at", "resolution", "resolved_by", "resolved_at", "duplicate_id",
                 "merged_id", "comment")


def _candidates(rows) -> list[dict]:
    return [dict(zip(CANDIDATE_COLUMNS, r)) for r in rows]


# Keys --------------------------------------------------------------------------

def insert_key(db: Database, submission_id: int, form_id: str, logical_id: str, *,
               key_norm, person_norm, round_norm, day, device_id, enumerator, layout: int,
               summary: tuple[int, int] | None) -> None:
    """A record's row in ``respondent_keys`` (its indexes serve every rule). The
    ``sig`` column, a byte per compared field that earlier versions compared
    candidates on, is left empty: the answer summary does that job."""
    answered, sketch = summary if summary else (None, None)
    db.conn.execute(
        "INSERT OR REPLACE INTO respondent_keys (submission_id, form_id, logical_id, key_norm, "
        "person_norm, round_norm, day, device_id, enumerator, layout, sig, answered, sketch) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [submission_id, form_id, logical_id, key_norm, person_norm, round_norm, day,
         device_id, enumerator, layout, b"", answered, sketch])


def by_person(db: Database, form_id: str, person: str, logical_id: str,
              limit: int) -> list[dict]:
    return _candidates(db.conn.execute(
        _CANDIDATE + "WHERE k.form_id = ? AND k.person_norm = ? " + _OTHER
        + "ORDER BY k.submission_id DESC LIMIT ?",
        [form_id, person, logical_id, limit]).fetchall())


def near_in_time(db: Database, form_id: str, device_id: str | None, enumerator: str | None,
                 lo: int, hi: int, logical_id: str, limit: int) -> list[tuple]:
    """``NEAR_COLUMNS`` of the records of the same device or enumerator with a day
    in [lo, hi], not versions of ``logical_id``.

    Read from the two covering indexes (migration 0012), integers only: the
    rule compares answer summaries, and most candidates end there.
    """
    near = _near_select(form_id, device_id, enumerator, lo, hi)
    if near is None:
        return []
    sql, params = near
    versions, more = subs_q.of_logical("id", logical_id)
    return db.conn.execute(sql + f"AND k.submission_id NOT IN ({versions}) LIMIT ?",
                           params + more + [limit]).fetchall()


def _near_select(form_id: str, device_id: str | None, enumerator: str | None,
                 lo: int, hi: int) -> tuple[str, list] | None:
    """The near-in-time SELECT and its parameters, to which a caller adds its
    own conditions and LIMIT; None without a device or an enumerator."""
    terms, params = [], [device_id, enumerator, form_id]
    for column, value in (("device_id", device_id), ("enumerator", enumerator)):
        if value:
            terms.append(f"(k.{column} = ? AND k.day BETWEEN ? AND ?)")
            params += [value, lo, hi]
    if not terms:
        return None
    return _NEAR + f"WHERE k.form_id = ? AND ({' OR '.join(terms)}) ", params


def by_persons(db: Database, form_id: str, persons: list[str]) -> list[dict]:
    """Key rows of any of ``persons``, newest first: a batch's person keys at
    once. As ``by_person`` does, it reads every row of each key from the index
    (a key typed on many records, a placeholder, costs a read of them all)."""
    rows: list[dict] = []
    for at in range(0, len(persons), MAX_PARAMS):
        part = persons[at:at + MAX_PARAMS]
        marks = ",".join("?" * len(part))
        rows += _candidates(db.conn.execute(
            _CANDIDATE + f"WHERE k.form_id = ? AND k.person_norm IN ({marks}) "
            "ORDER BY k.submission_id DESC", [form_id, *part]).fetchall())
    if len(persons) > MAX_PARAMS:
        rows.sort(key=lambda r: r["submission_id"], reverse=True)
    return rows


def near_in_range(db: Database, form_id: str, device_id: str | None,
                  enumerator: str | None, lo: int, hi: int, limit: int) -> list[tuple]:
    """``NEAR_COLUMNS`` of the records of this device or enumerator with a day in
    [lo, hi], at most ``limit``: a batch's span at once."""
    near = _near_select(form_id, device_id, enumerator, lo, hi)
    if near is None:
        return []
    sql, params = near
    return db.conn.execute(sql + "LIMIT ?", params + [limit]).fetchall()


def versions_of(db: Database, logical_id: str) -> set[int]:
    """The submission ids of every version of a logical record."""
    return {r[0] for r in db.conn.execute(*subs_q.of_logical("id", logical_id))}


# The typo rule's keys (``server.dedup.typo_map``): rows of ``TYPO_KEY``. Its map
# is read through a connection of its own, so the first three give the
# statement and its parameters; the rest run on the caller's connection.

TYPO_KEY = ("submission_id", "person_norm", "day", "layout", "answered", "sketch")
_TYPO_KEY = ", ".join("k." + c for c in TYPO_KEY)
_TYPO_KEYED = "k.person_norm IS NOT NULL AND k.day IS NOT NULL"


def keys_in_days(form_id: str, round_norm: str, lo: int, hi: int) -> tuple[str, list]:
    """The keys of one form and round interviewed on days [lo, hi], read from the
    time-ordered covering index ``respondent_keys_round_day`` (migration 0013)."""
    return (f"SELECT {_TYPO_KEY} FROM respondent_keys k WHERE k.form_id = ? "
            f"AND k.round_norm = ? AND k.day BETWEEN ? AND ? AND {_TYPO_KEYED}",
            [form_id, round_norm, lo, hi])


def keys_changed_since(seq: int, limit: int) -> tuple[str, list]:
    """(form_id, round_norm, *``TYPO_KEY``) of the records whose change sequence
    is above ``seq``, in that order, at most ``limit``."""
    return (f"SELECT k.form_id, k.round_norm, {_TYPO_KEY} FROM submissions s "
            f"JOIN respondent_keys k ON k.submission_id = s.id WHERE s.seq > ? "
            f"AND {_TYPO_KEYED} ORDER BY s.seq LIMIT ?", [seq, limit])


def committed_seq() -> tuple[str, list]:
    return "SELECT value FROM seq_counter WHERE id = 1", []


def persons_in_days(db: Database, form_id: str, round_norm: str, lo: int,
                       hi: int) -> list[str]:
    """The person keys of one form and round interviewed on days [lo, hi], one
    per record, read as one text (a window holds thousands: no row object each)."""
    text = db.conn.execute(
        f"SELECT group_concat(k.person_norm, char(31)) FROM respondent_keys k "
        f"WHERE k.form_id = ? AND k.round_norm = ? AND k.day BETWEEN ? AND ? "
        f"AND {_TYPO_KEYED}", [form_id, round_norm, lo, hi]).fetchone()[0]
    return text.split("\x1f") if text else []


def keys_of_persons(db: Database, form_id: str, round_norm: str, persons: list[str],
                       lo: int, hi: int) -> list[tuple]:
    """``TYPO_KEY`` rows of these person keys in one form and round, interviewed
    on days [lo, hi], the newest first."""
    if not persons:
        return []
    marks = ",".join("?" * len(persons))
    return db.conn.execute(
        f"SELECT {_TYPO_KEY} FROM respondent_keys k INDEXED BY respondent_keys_person "
        f"WHERE k.form_id = ? AND k.person_norm IN ({marks}) AND k.round_norm = ? "
        f"AND k.day BETWEEN ? AND ? "
        f"ORDER BY k.day DESC, k.submission_id DESC",
        [form_id, *persons, round_norm, lo, hi]).fetchall()


def keys_written_since(db: Database, seq: int) -> list[tuple]:
    """``keys_changed_since`` on ``db``'s own connection, without a bound: inside
    a write transaction, the keys that transaction wrote."""
    return db.conn.execute(*keys_changed_since(seq, -1)).fetchall()


def live(db: Database, submission_ids: list[int]) -> set[int]:
    """The ids among these that are current and not resolved as duplicates."""
    if not submission_ids:
        return set()
    marks = ",".join("?" * len(submission_ids))
    rows = db.conn.execute(
        f"SELECT id FROM submissions WHERE id IN ({marks}) AND state = 'current' "
        "AND review_state != 'duplicate'", submission_ids).fetchall()
    return {r[0] for r in rows}


def answer_columns(db: Database, form_id: str) -> set[str]:
    """The columns of the form's flat answers table (none before its first record)."""
    return {r[1] for r in db.conn.execute(
        f"PRAGMA table_info({q(main_table(form_id))})").fetchall()}


def confirm_rows(db: Database, form_id: str, paths: list[str], submission_ids: list[int],
                 have: set[str] | None = None) -> dict[int, tuple | None]:
    """Of these records, the live ones (current, not resolved as duplicates) with
    their flat answers (columns ``paths``; None when a record has no answers row),
    by submission id: one query. ``have``: ``answer_columns``, when known."""
    if not submission_ids:
        return {}
    table = main_table(form_id)
    if have is None:
        have = answer_columns(db, form_id)
    if not have:
        return {i: None for i in live(db, submission_ids)}
    cols = ", ".join(f"a.{q(p)}" if p in have else "NULL" for p in paths) or "NULL"
    marks = ",".join("?" * len(submission_ids))
    rows = db.conn.execute(
        f"SELECT s.id, a.submission_id, {cols} FROM submissions s "
        f"LEFT JOIN {q(table)} a ON a.submission_id = s.id "
        f"WHERE s.id IN ({marks}) AND s.state = 'current' AND s.review_state != 'duplicate'",
        submission_ids).fetchall()
    return {r[0]: (r[2:] if r[1] is not None else None) for r in rows}


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
    sql, params = subs_q.row_filters(sql, params, device, enumerator, since, until)
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


# Rules -----------------------------------------------------------------------------

def get_rules(db: Database, form_id: str) -> dict | None:
    text = get_rules_text(db, form_id)
    return json.loads(text) if text else None


def get_rules_text(db: Database, form_id: str) -> str | None:
    """The form's stored rules as JSON text (None: the defaults)."""
    row = db.conn.execute("SELECT rules FROM duplicate_rules WHERE form_id = ?",
                          [form_id]).fetchone()
    return row[0] if row else None


def set_rules(db: Database, form_id: str, rules: dict, actor: str | None) -> None:
    db.conn.execute(
        "INSERT INTO duplicate_rules (form_id, rules, updated_at, updated_by) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (form_id) DO UPDATE SET rules = excluded.rules, "
        "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        [form_id, json.dumps(rules, sort_keys=True), utcnow(), actor],
    )

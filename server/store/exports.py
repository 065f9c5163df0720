"""The export query: the flat answers table joined with submissions, read as one
snapshot and iterated with a cursor (never loaded whole).

``open_snapshot`` starts a read transaction and reads the change sequence in
it; the export's SELECT then runs in the same transaction, so the rows it
yields are exactly those with ``since < seq <= next``, whatever ingest commits
meanwhile (WAL: readers see the snapshot they started with). The next pull
starts after ``next``: no record is skipped or repeated.
"""

from __future__ import annotations

from sqlite_utils import Database

from server.store.answers import main_table, q, repeat_table
from server.store.submissions import FLAG_WORDS

# (header, SQL expression over submissions ``s``), before the answer columns.
BASE_COLUMNS = (
    ("seq", "s.seq"),
    ("instance_id", "s.instance_id"),
    ("logical_id", "s.logical_id"),
    ("form_version", "s.form_version"),
    ("state", "s.state"),
    ("received_at", "s.received_at"),
    ("office", "json_extract(s.origin, '$.office')"),
    ("office_received_at", "json_extract(s.origin, '$.received_at')"),
    ("device_id", "coalesce(json_extract(s.origin, '$.device_id'), s.device_id)"),
    ("enumerator", "coalesce(json_extract(s.origin, '$.user'), s.submitted_by)"),
    ("review_state", "s.review_state"),
    ("flags", f"CASE WHEN s.flags = '[]' THEN '' ELSE {FLAG_WORDS} END"),
    ("scoring_version", "s.scoring_version"),
    ("score_economic", "json_extract(s.scores, '$.scores.economic')"),
    ("score_social", "json_extract(s.scores, '$.scores.social')"),
    ("score_psychosocial", "json_extract(s.scores, '$.scores.psychosocial')"),
    ("score_composite", "json_extract(s.scores, '$.scores.composite')"),
)


# Base columns whose text the server made itself; every other text a spreadsheet
# might read as a formula is neutralised unless a raw export is asked for.
SERVER_MADE = frozenset({"seq", "instance_id", "logical_id", "state", "received_at"})
# Text that starts like a formula (=, +, -, @, tab, carriage return) gets a
# leading apostrophe, unless it is only a number or numbers (a negative
# number, a geopoint "-12.5 45.2 0 0", a geotrace "...;..."), which no
# spreadsheet runs. Numbers stored as numbers are never touched.
_SAFE_TEXT = ("CASE WHEN substr({x}, 1, 1) IN ('=', '+', '-', '@', char(9), char(13)) "
              "AND typeof({x}) = 'text' AND NOT ({x} GLOB '[+-][0-9.]*' "
              "AND {x} NOT GLOB '*[^0-9. ;+-]*') THEN char(39) || {x} ELSE {x} END")


def safe_text(expr: str) -> str:
    """``expr`` as a CSV cell that a spreadsheet shows as text, never runs."""
    return _SAFE_TEXT.format(x=expr)


def open_snapshot(db: Database) -> int:
    """Begin a read transaction on ``db``; returns the last seq it sees."""
    db.execute("BEGIN")
    return db.execute("SELECT value FROM seq_counter WHERE id = 1").fetchone()[0]


def close_snapshot(db: Database) -> None:
    if db.conn.in_transaction:
        db.execute("COMMIT")


def table_columns(db: Database, table: str) -> list[str]:
    return [r[1] for r in db.execute(f"PRAGMA table_info({q(table)})").fetchall()]


def has_table(db: Database, table: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                      [table]).fetchone() is not None


def iter_main(db: Database, form_id: str, answer_columns: list[str], *, since: int,
              upto: int, where: list[tuple[str, list]], include_all: bool,
              splits: dict[str, list[str]] | None = None, neutralise: bool = False):
    """Rows of BASE_COLUMNS + ``answer_columns`` (each select_multiple in ``splits``
    followed by one 0/1 column per choice), ordered by seq: a live cursor whose
    rows are ready to write, with no per-row work left in Python. ``neutralise``:
    text that a spreadsheet would run as a formula comes out as text (CSV)."""
    table = main_table(form_id)
    select, select_params = _answers_select("a", answer_columns, splits or {}, neutralise)
    select = [safe_text(expr) if neutralise and name not in SERVER_MADE else expr
              for name, expr in BASE_COLUMNS] + select
    join = (f"LEFT JOIN {q(table)} a ON a.submission_id = s.id"
            if has_table(db, table) else "")
    sql, params = _where(f"SELECT {', '.join(select)} FROM submissions s {join}",
                         form_id, since, upto, where, include_all)
    return db.conn.execute(sql + " ORDER BY s.seq", select_params + params)


def _answers_select(alias: str, columns: list[str], splits: dict[str, list[str]],
                    neutralise: bool = False):
    """Answer columns, each select_multiple followed by its choices as 1/0, and NULL
    when unanswered (NULL || ' ' is NULL, so instr(...) > 0 is NULL too)."""
    select, params = [], []
    for c in columns:
        col = f"{alias}.{q(c)}"
        select.append(safe_text(col) if neutralise else col)
        for choice in splits.get(c, ()):
            select.append(f"instr(' ' || {col} || ' ', ?) > 0")
            params.append(f" {choice} ")
    return select, params


def iter_repeat(db: Database, form_id: str, repeat: str, answer_columns: list[str], *,
                since: int, upto: int, where: list[tuple[str, list]], include_all: bool,
                splits: dict[str, list[str]] | None = None, neutralise: bool = False):
    """Rows of (seq, instance_id, _index, _parent_index, answers...) of one repeat."""
    table = repeat_table(form_id, repeat)
    main = main_table(form_id)
    answers, select_params = _answers_select("r", answer_columns, splits or {}, neutralise)
    select = ["s.seq", "s.instance_id", "r._index", "r._parent_index"] + answers
    join = f"JOIN {q(table)} r ON r.submission_id = s.id"
    if has_table(db, main):
        join += f" LEFT JOIN {q(main)} a ON a.submission_id = s.id"
    sql, params = _where(f"SELECT {', '.join(select)} FROM submissions s {join}",
                         form_id, since, upto, where, include_all)
    return db.conn.execute(sql + " ORDER BY s.seq, r.rowid", select_params + params)


def _where(sql: str, form_id: str, since: int, upto: int, where, include_all: bool):
    clauses = ["s.form_id = ?", "s.seq > ?", "s.seq <= ?"]
    params: list = [form_id, since, upto]
    if not include_all:
        clauses.append("s.state = 'current'")
    for clause, values in where:
        clauses.append(clause)
        params.extend(values)
    return f"{sql} WHERE {' AND '.join(clauses)}", params


def answer_filter(column: str, op: str) -> str:
    """A filter clause on an answers column (``a.``) or a submissions column."""
    if column in ("received_at", "review_state"):
        return f"s.{column} {op} ?"
    if column == "office":
        return f"json_extract(s.origin, '$.office') {op} ?"
    return f"a.{q(column)} {op} ?"

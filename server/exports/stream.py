"""Consolidated exports: every version of a form in one column set, with scores,
flags, review state and origin, streamed as CSV, JSON lines or XLSX.

    plan = export_plan(db, "rss", ExportOptions(since=120, country="GIN"))
    for chunk in stream(db, plan, "csv"): ...      # flat memory, any size
    plan.next                                      # the cursor for the next pull

Columns: the base columns of ``server.store.exports.BASE_COLUMNS``, then each
answer column by group path (``econ/econ_satisfaction``) in the order the
versions introduced them, each select_multiple followed by one 0/1 column per
choice (``econ/productive_assets/land``). Repeats are exported one at a time
(``repeat=PATH``) as separate tables keyed by instance_id and ``_index``, as
ODK does. Rows are read by SQL from the flat answers tables, never by decoding
each record's JSON.

Safe to open by default: an answer is data, never a formula. In CSV, text that
starts like a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return) gets a
leading apostrophe (numbers, and texts that are only numbers such as a
geopoint, are left alone); in XLSX every text is a text cell, and characters
XLSX cannot hold (control characters, a NUL) are written as ``\\xNN``
escapes. ``ExportOptions(raw=True)`` writes texts as received (XLSX: a text
starting with ``=`` becomes a live formula). JSON lines are always raw.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain

from sqlite_utils import Database

from server.errors import FieldsyncError
from server.registry.models import model_for
from server.store import exports as exports_q
from server.store import forms as forms_q
from server.store import submissions as subs_q
from server.store.answers import main_table, repeat_table

FORMATS = ("csv", "jsonl", "xlsx")
COUNTRY_FIELDS = ("country_of_return", "country")
ROUND_FIELDS = ("survey_round", "round")
CHUNK_ROWS = 1000


@dataclass
class ExportOptions:
    since: int = 0
    repeat: str | None = None
    include_all: bool = False
    country: str | None = None
    round: str | None = None
    review_state: str | None = None
    office: str | None = None
    device: str | None = None
    enumerator: str | None = None
    flagged: bool | None = None    # the invalid flag, as the console's table reads it
    duplicate: bool | None = None  # probable or confirmed duplicate
    date_field: str = "interview_date"
    date_from: str | None = None
    date_to: str | None = None
    raw: bool = False  # texts exactly as received, formulas included


@dataclass
class ExportPlan:
    form_id: str
    headers: list[str]
    answer_columns: list[str]
    splits: dict[str, list[str]]  # select_multiple path -> its choices
    rows: object = None  # the live cursor
    next: int = 0
    since: int = 0
    repeat: str | None = None
    where: list = field(default_factory=list)
    raw: bool = False


def export_plan(db: Database, form_id: str, options: ExportOptions,
                fmt: str = "csv") -> ExportPlan:
    """Work out columns and filters, open the snapshot and its cursor (see ``stream``,
    which must be given the same ``fmt``)."""
    versions = forms_q.list_versions(db, form_id)
    if not versions:
        raise FieldsyncError("form_unknown", f"No form '{form_id}' is published here; "
                             "see GET /api/v1/forms.", {"form_id": form_id})
    models = [m for m in (model_for(db, form_id, v["version"]) for v in versions) if m]
    repeats = {f.path for m in models for f in m.repeats()}
    if options.repeat is not None and options.repeat not in repeats:
        raise FieldsyncError("bad_request", f"'{options.repeat}' is not a repeat of "
                             f"'{form_id}'; its repeats: {', '.join(sorted(repeats)) or 'none'}.")
    table = (repeat_table(form_id, options.repeat) if options.repeat
             else main_table(form_id))
    have = set(exports_q.table_columns(db, table)) if exports_q.has_table(db, table) else set()
    fields_, choices = _fields(models, options.repeat)
    answer_columns = [p for p in fields_ if p in have]
    where = _filters(options, set(exports_q.table_columns(db, main_table(form_id)))
                     if exports_q.has_table(db, main_table(form_id)) else set())
    base = (["seq", "instance_id", "_index", "_parent_index"] if options.repeat
            else [h for h, _ in exports_q.BASE_COLUMNS])
    headers = list(base)
    splits = {p: choices[p] for p in answer_columns if p in choices}
    for path in answer_columns:
        headers.append(path)
        headers.extend(f"{path}/{c}" for c in splits.get(path, ()))
    plan = ExportPlan(form_id, headers, answer_columns, splits, since=options.since,
                      repeat=options.repeat, where=where, raw=options.raw)
    plan.next = exports_q.open_snapshot(db)
    if plan.next < options.since:
        plan.next = options.since
    args = dict(since=options.since, upto=plan.next, where=where,
                include_all=options.include_all, splits=splits,
                neutralise=fmt == "csv" and not options.raw)
    if options.repeat:
        plan.rows = exports_q.iter_repeat(db, form_id, options.repeat, answer_columns, **args)
    else:
        plan.rows = exports_q.iter_main(db, form_id, answer_columns, **args)
    return plan


def _fields(models, repeat: str | None) -> tuple[list[str], dict[str, list[str]]]:
    """Answer paths of the main table (or one repeat) over all versions, and the
    choices of each select_multiple (union over versions, in first-seen order)."""
    paths: list[str] = []
    choices: dict[str, list[str]] = {}
    for model in models:
        for f in model.questions():
            if f.path == "meta/instanceID" or f.repeat != repeat:
                continue
            if f.path not in paths:
                paths.append(f.path)
            if f.is_select_multiple and f.list_name:
                known = choices.setdefault(f.path, [])
                known.extend(c.name for c in model.choices.get(f.list_name, [])
                             if c.name not in known)
    return paths, choices


def _filters(options: ExportOptions, columns: set[str]) -> list[tuple[str, list]]:
    where = []

    def on_field(candidates, value, what):
        column = next((c for c in candidates if c in columns), None)
        if column is None:
            raise FieldsyncError("bad_request", f"This form has no {what} field "
                                 f"({' or '.join(candidates)}) to filter on.")
        where.append((exports_q.answer_filter(column, "="), [value]))

    if options.country:
        on_field(COUNTRY_FIELDS, options.country, "country")
    if options.round:
        on_field(ROUND_FIELDS, options.round, "round")
    for value, op in ((options.date_from, ">="), (options.date_to, "<=")):
        if value:
            if options.date_field != "received_at" and options.date_field not in columns:
                raise FieldsyncError("bad_request", f"No date field '{options.date_field}' "
                                     "to filter on; use interview_date or received_at.")
            if options.date_field == "received_at" and op == "<=" and len(value) == 10:
                value += "T23:59:59.999Z"
            where.append((exports_q.answer_filter(options.date_field, op), [value]))
    if options.review_state:
        where.append((exports_q.answer_filter("review_state", "="), [options.review_state]))
    if options.office:
        where.append((exports_q.answer_filter("office", "="), [options.office]))
    for name in ("device", "enumerator"):
        if getattr(options, name):
            where.append(subs_q.sent_by_filter(name, getattr(options, name)))
    for name in ("flagged", "duplicate"):
        if getattr(options, name) is not None:
            where.append(subs_q.flag_filter(name, getattr(options, name)))
    return where


def rows(plan: ExportPlan) -> Iterator[tuple]:
    """Export rows as tuples matching ``plan.headers`` (all shaping is done in SQL:
    flags as space-separated names, select_multiple split into 0/1 columns)."""
    return plan.rows


def stream(db: Database, plan: ExportPlan, fmt: str, *, on_rows=None) -> Iterator[bytes]:
    """Encoded chunks of the export; closes the snapshot when done."""
    if fmt not in FORMATS:
        raise FieldsyncError("bad_request", f"format must be one of {', '.join(FORMATS)}.")
    writer = {"csv": _csv, "jsonl": _jsonl, "xlsx": _xlsx}[fmt]
    try:
        yield from writer(plan, on_rows or (lambda n: None))
    finally:
        exports_q.close_snapshot(db)


class _Parts:
    """A csv.writer target that keeps the written lines in a list: cheaper than
    reusing a StringIO, which after its first ``truncate`` holds 4 bytes a char."""

    __slots__ = ("parts", "write")

    def __init__(self):
        self.parts: list[str] = []
        self.write = self.parts.append

    def take(self) -> bytes:
        data = "".join(self.parts).encode("utf-8")
        self.parts.clear()
        return data


def _csv(plan: ExportPlan, on_rows) -> Iterator[bytes]:
    """``writerows`` over ``fetchmany`` chunks: the rows come out of SQLite ready to
    write, so the only per-cell work in Python is the csv module's own."""
    sink = _Parts()
    # RFC 4180 line ends: the csv module quotes a field only for the characters
    # of its line terminator, and a carriage return inside an answer must be
    # quoted too, or a reader would start a new row there.
    out = csv.writer(sink, lineterminator="\r\n")
    out.writerow(plan.headers)
    n = 0
    cursor = rows(plan)
    while batch := cursor.fetchmany(CHUNK_ROWS):
        out.writerows(batch)
        n += len(batch)
        yield sink.take()
        on_rows(n)
    if sink.parts:
        yield sink.take()
    on_rows(n)


def _jsonl(plan: ExportPlan, on_rows) -> Iterator[bytes]:
    """One JSON object per line: exactly ``json.dumps(dict(zip(headers, row)),
    ensure_ascii=False)``, built without a dict per row (see ``_json_line``)."""
    line = _json_line(plan.headers)
    n = 0
    cursor = rows(plan)
    while batch := cursor.fetchmany(CHUNK_ROWS):
        lines = [line(row) for row in batch]
        lines.append("")
        n += len(batch)
        yield "\n".join(lines).encode("utf-8")
        on_rows(n)
    on_rows(n)


def _json_line(headers: list[str]):
    """A function row -> its JSON object text. The keys are encoded once; each row's
    values are encoded in one call as an array whose items are separated by NUL,
    a character the encoder always escapes inside strings (as \\u0000), so splitting
    on it yields each value's JSON; keys and values are then interleaved."""
    key = json.JSONEncoder(ensure_ascii=False).encode
    values = json.JSONEncoder(ensure_ascii=False, check_circular=False,
                              separators=("\x00", ": ")).encode
    prefixes = [("{" if i == 0 else ", ") + key(h) + ": " for i, h in enumerate(headers)]
    interleave = chain.from_iterable

    def line(row) -> str:
        return "".join(interleave(zip(prefixes, values(row)[1:-1].split("\x00")))) + "}"

    return line


def _xlsx(plan: ExportPlan, on_rows) -> Iterator[bytes]:
    """openpyxl write-only workbook in a temporary file, then streamed out."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(plan.repeat.replace("/", "_")[:31] if plan.repeat else plan.form_id[:31])
    cell = _xlsx_cell(ws, plan.raw)
    ws.append([cell(h) for h in plan.headers])
    n = 0
    for row in rows(plan):
        ws.append([cell(v) if type(v) is str else v for v in row])
        n += 1
        if n % CHUNK_ROWS == 0:
            on_rows(n)
    on_rows(n)
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        wb.save(path)
        with open(path, "rb") as fh:
            while chunk := fh.read(256 * 1024):
                yield chunk
    finally:
        os.unlink(path)


_NOT_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_cell(ws, raw: bool):
    """A function text -> what to append for it: characters XLSX cannot hold
    written as ``\\xNN`` escapes; unless ``raw``, a text starting with ``=``
    as a text cell (openpyxl would write it as a formula)."""
    from openpyxl.cell import WriteOnlyCell

    def cell(text: str):
        if _NOT_IN_XLSX.search(text):
            text = _NOT_IN_XLSX.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
        if text[:1] == "=" and not raw:
            written = WriteOnlyCell(ws, value=text)
            written.data_type = "s"
            return written
        return text

    return cell

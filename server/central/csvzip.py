"""Central's CSV export: ``submissions.csv.zip`` and ``submissions.csv``.

The zip holds, as Central lays it out (ODK Briefcase's layout):

- ``{form_id}.csv``: ``SubmissionDate``, each answer outside repeats by its
  group path joined with ``-`` (``econ-econ_satisfaction``; a geopoint as four
  columns ``-Latitude -Longitude -Altitude -Accuracy``), ``KEY`` (the record's
  first instanceID), ``SubmitterID``, ``SubmitterName``, ``AttachmentsPresent``,
  ``AttachmentsExpected``, ``Status``, ``ReviewState``, ``DeviceID``, ``Edits``,
  ``FormVersion``;
- ``{form_id}-{repeat}.csv`` per repeat: its answers, ``PARENT_KEY``, ``KEY``
  (``uuid:.../household/members[2]``);
- ``media/{file}``: the files the records hold (unless ``attachments=false``).

Streamed: the zip is written as it is read (``zipfile`` on a sink that is
emptied after every write), so memory stays flat whatever the form's size.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterator

from sqlite_utils import Database

from server.central.odata import entity_model
from server.store import central as central_q
from server.store.odata import EntityModel, Group, Leaf, Table

CHUNK_ROWS = 1000
GEO_PARTS = ("Latitude", "Longitude", "Altitude", "Accuracy")
ROOT_TAIL = ("KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent",
             "AttachmentsExpected", "Status", "ReviewState", "DeviceID", "Edits", "FormVersion")


class _Sink:
    """A write-only target for zipfile and csv that hands out what was written."""

    def __init__(self):
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data) if not isinstance(data, str) else data.encode("utf-8"))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def root_csv(db: Database, form_id: str) -> Iterator[bytes]:
    """The root table alone, as ``submissions.csv``."""
    try:
        db.execute("BEGIN")
        yield from _root_chunks(db, entity_model(db, form_id))
    finally:
        _end(db)


def csv_zip(db: Database, form_id: str, *, media: bool = True) -> Iterator[bytes]:
    """The zip, in chunks; read in one snapshot."""
    sink = _Sink()
    try:
        db.execute("BEGIN")
        em = entity_model(db, form_id)
        with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, chunks in _files(db, em):
                with zf.open(name, "w", force_zip64=True) as out:
                    for chunk in chunks:
                        out.write(chunk)
                        yield sink.take()
            if media:
                seen: set[str] = set()
                for name, data in central_q.media_of_form(db, form_id):
                    if name in seen:
                        continue
                    seen.add(name)
                    with zf.open(f"media/{name}", "w", force_zip64=True) as out:
                        out.write(data)
                    yield sink.take()
        yield sink.take()
    finally:
        _end(db)


def _end(db: Database) -> None:
    if db.conn.in_transaction:
        db.execute("COMMIT")


def _files(db: Database, em: EntityModel):
    yield f"{em.form_id}.csv", _root_chunks(db, em)
    repeats = [t for t in em.tables.values() if t.path is not None]
    counts: dict[str, int] = {}
    for t in repeats:
        counts[t.prop] = counts.get(t.prop, 0) + 1
    seen: dict[str, int] = {}
    for t in repeats:
        name = f"{em.form_id}-{t.prop}"
        if counts[t.prop] > 1:
            seen[t.prop] = seen.get(t.prop, 0) + 1
            name += f"~{seen[t.prop]}"
        yield f"{name}.csv", _repeat_chunks(db, em, t)


def _leaves(members: list, prefix: str = "") -> list[tuple[str, Leaf]]:
    """(CSV header, leaf) outside nested repeats: the XML names (not the OData
    ones), groups joined with '-'."""
    out = []
    for m in members:
        raw = m.path.split("/")[-1] if isinstance(m, (Leaf, Group)) else None
        if isinstance(m, Leaf):
            out.append((prefix + raw, m))
        elif isinstance(m, Group):
            out += _leaves(m.members, f"{prefix}{raw}-")
    return out


def _headers(leaves) -> tuple[list[str], list[int]]:
    headers, geo_at = [], []
    for i, (header, leaf) in enumerate(leaves):
        if leaf.type == "geopoint":
            geo_at.append(i)
            headers += [f"{header}-{part}" for part in GEO_PARTS]
        else:
            headers.append(header)
    return headers, geo_at


def _root_chunks(db: Database, em: EntityModel) -> Iterator[bytes]:
    leaves = _leaves(em.submissions.members)
    headers, geo_at = _headers(leaves)
    cursor = central_q.csv_root_rows(db, em.form_id, [leaf.path for _, leaf in leaves])
    offset = 1  # SubmissionDate comes first
    yield from _write(["SubmissionDate", *headers, *ROOT_TAIL], cursor,
                      lambda row: _split_geo(row, [offset + i for i in geo_at]))


def _repeat_chunks(db: Database, em: EntityModel, table: Table) -> Iterator[bytes]:
    leaves = _leaves(table.members)
    headers, geo_at = _headers(leaves)
    cursor = central_q.csv_repeat_rows(db, em.form_id, table.path,
                                       [leaf.path for _, leaf in leaves])
    chain = _chain(table)

    def shape(row):
        logical_id, index = row[0], str(row[1]).split("/")
        values = _split_geo(row[2:], geo_at)
        key = _key(logical_id, chain, index)
        parent = _key(logical_id, chain[:-1], index[:-1]) if len(chain) > 1 else logical_id
        return [*values, parent, key]

    yield from _write([*headers, "PARENT_KEY", "KEY"], cursor, shape)


def _chain(table: Table) -> list[tuple[str, ...]]:
    """Per enclosing repeat (outermost first), its path segments after the
    previous repeat: [('household', 'members'), ('jobs',)]."""
    tables, t = [], table
    while t.path is not None:
        tables.append(t)
        t = t.parent
    tables.reverse()
    out, before = [], 0
    for t in tables:
        parts = t.path.split("/")
        out.append(tuple(parts[before:]))
        before = len(parts)
    return out


def _key(logical_id: str, chain, index: list[str]) -> str:
    """Briefcase's KEY: ``uuid:.../household/members[1]/jobs[2]``."""
    parts = [logical_id]
    for segments, i in zip(chain, index):
        parts += list(segments[:-1]) + [f"{segments[-1]}[{i}]"]
    return "/".join(parts)


def _split_geo(row, positions: list[int]) -> list:
    if not positions:
        return list(row)
    out = []
    for i, value in enumerate(row):
        if i in positions:
            parts = (value or "").split() if isinstance(value, str) else []
            out += (parts + [None] * 4)[:4]
        else:
            out.append(value)
    return out


def _write(headers: list[str], cursor, shape) -> Iterator[bytes]:
    sink = _Sink()
    out = csv.writer(sink, lineterminator="\n")
    out.writerow(headers)
    while batch := cursor.fetchmany(CHUNK_ROWS):
        out.writerows(shape(row) for row in batch)
        yield sink.take()
    yield sink.take()

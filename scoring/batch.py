"""Score a file of submissions: what ``fieldsync score --form FORM INPUT`` runs.

INPUT is ``.jsonl`` (one submission a line: a record envelope with ``instance_id``
and ``data``, or a bare data dict) or ``.csv`` with a header of field names or
group paths. CSV exports from KoboToolbox and ODK Central are understood:
``group/field``, ``group-field`` and ``group.field`` headers, question labels as
headers, choice labels as values (any language of the form), select_multiple as
one space-separated column or as one column per choice, ``;`` or tab delimiters,
and ``meta/instanceID``, ``meta-instanceID``, ``KEY`` or ``_uuid`` as the record id.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from forms.model import FormModel

from scoring.engine import _norm, plan_for
from scoring.errors import ScoringError
from scoring.spec import Spec

JSONL_SUFFIXES = {".jsonl", ".ndjson"}
CSV_SUFFIXES = {".csv", ".tsv"}
_SEPARATORS = ("/", "-", ".", ":")
_TRUE = {"1", "true", "yes", "x", "vrai", "oui"}
_ID_COLUMNS = ("meta/instanceID", "meta-instanceID", "instanceID", "instance_id", "KEY")


def score_file(spec: Spec, model: FormModel, path: str | os.PathLike) -> Iterator[dict]:
    """Score every submission in a .jsonl or .csv file, lazily, in file order.

    Yields one JSON-ready dict per record: ``{"instance_id", "scoring_version",
    "scores": {"economic", "social", "psychosocial", "composite"}, "indicators",
    "warnings"}``. Raises ``ScoringError("scoring_input_invalid")`` for a file it
    cannot read (the message names the line).
    """
    plan = plan_for(spec, model)
    for record in read_records(path, model):
        yield {"instance_id": record["instance_id"], **plan.score(record["data"])}


def read_records(path: str | os.PathLike, model: FormModel) -> Iterator[dict]:
    """Yield ``{"instance_id", "data"}`` for each submission in a .jsonl or .csv file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in JSONL_SUFFIXES | CSV_SUFFIXES:
        raise ScoringError(
            "scoring_input_invalid",
            f"'{path.name}' is neither .jsonl nor .csv; give one submission a line as "
            ".jsonl, or a .csv with a header of field names.",
        )
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ScoringError("scoring_input_invalid", f"Cannot read '{path}': {exc}.") from None
    with handle:
        if suffix in JSONL_SUFFIXES:
            yield from read_jsonl(handle, path.name)
        else:
            yield from read_csv(handle, model, path.name)


def read_jsonl(lines: Iterable[str], name: str = "input") -> Iterator[dict]:
    """Records from JSON lines; blank lines are skipped."""
    from scoring.engine import instance_id_of

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ScoringError(
                "scoring_input_invalid",
                f"{name} line {number} is not valid JSON: {exc.msg} (column {exc.colno}).",
                {"line": number},
            ) from None
        if not isinstance(obj, dict):
            raise ScoringError(
                "scoring_input_invalid",
                f"{name} line {number} must be a JSON object (a record or its data).",
                {"line": number},
            )
        data = obj["data"] if isinstance(obj.get("data"), dict) else obj
        iid = instance_id_of(obj) or (instance_id_of(data) if data is not obj else None)
        yield {"instance_id": iid, "data": data}


def read_csv(handle: io.TextIOBase, model: FormModel, name: str = "input") -> Iterator[dict]:
    """Records from a CSV export; headers are mapped to field paths once."""
    first = handle.readline()
    if not first.strip():
        return
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(_chain(first, handle), delimiter=delimiter)
    header = next(reader)
    columns = map_headers(model, header)
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise ScoringError(
                "scoring_input_invalid",
                f"{name} line {number} has {len(row)} cells but the header has {len(header)}.",
                {"line": number},
            )
        yield _csv_record(columns, row)


def _chain(first: str, rest: Iterable[str]) -> Iterator[str]:
    yield first
    yield from rest


def map_headers(model: FormModel, header: list[str]) -> list[tuple[str, str | None]]:
    """For each column: ``(field path, None)``, ``(field path, choice)`` for a
    select_multiple per-choice column, or ``(raw header, None)`` if no field matches."""
    lookup = _header_lookup(model)
    out = []
    for raw in header:
        text = raw.strip()
        hit = lookup.get(_norm(text))
        if hit is None:
            for sep in _SEPARATORS:
                if sep in text:
                    fld = model.resolve(text.rsplit(sep, 1)[1])
                    if fld is not None and not fld.is_container:
                        hit = (fld.path, None)
                        break
        out.append(hit or (text, None))
    return out


def _header_lookup(model: FormModel) -> dict[str, tuple[str, str | None]]:
    lookup: dict[str, tuple[str, str | None]] = {}

    def add(text: str, target: tuple[str, str | None]) -> None:
        lookup.setdefault(_norm(text), target)

    fields = [f for f in model.fields.values() if not f.is_container]
    for fld in fields:  # names and paths first: they win over labels
        for sep in _SEPARATORS:
            add(fld.path.replace("/", sep), (fld.path, None))
        if model.resolve(fld.name) is fld:
            add(fld.name, (fld.path, None))
    for fld in fields:
        for sep in _SEPARATORS:
            for choice in model.choices.get(fld.list_name or "", []) if fld.is_select_multiple else []:
                add(f"{fld.path.replace('/', sep)}{sep}{choice.name}", (fld.path, choice.name))
                add(f"{fld.name}{sep}{choice.name}", (fld.path, choice.name))
                for lang, label in fld.labels.items():
                    if choice.labels.get(lang):
                        add(f"{label}{sep}{choice.labels[lang]}", (fld.path, choice.name))
        for lang, label in fld.labels.items():
            add(label, (fld.path, None))
            chain = _label_chain(model, fld, lang)
            for sep in _SEPARATORS:
                add(sep.join(chain), (fld.path, None))
    return lookup


def _label_chain(model: FormModel, fld, lang: str) -> list[str]:
    chain = [fld.labels.get(lang, fld.name)]
    parent = model.fields.get(fld.parent or "")
    while parent is not None:
        chain.insert(0, parent.labels.get(lang, parent.name))
        parent = model.fields.get(parent.parent or "")
    return chain


def _csv_record(columns, row: list[str]) -> dict:
    data: dict[str, str] = {}
    per_choice: dict[str, list[str]] = {}
    for (target, choice), cell in zip(columns, row):
        cell = cell.strip()
        if not cell:
            continue
        if choice is None:
            data.setdefault(target, cell)
        elif cell.casefold() in _TRUE or cell == choice:
            per_choice.setdefault(target, []).append(choice)
    for target, chosen in per_choice.items():
        data.setdefault(target, " ".join(chosen))
    iid = next((data[c] for c in _ID_COLUMNS if data.get(c)), None)
    if iid is None and data.get("_uuid"):
        iid = f"uuid:{data['_uuid']}"
    return {"instance_id": iid, "data": data}

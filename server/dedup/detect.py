"""Probable-duplicate detection at ingest (issue 7).

Ingest calls :func:`prepare` for each record before it takes the write lock
(the pure CPU work: key normalisation, typo-index rows, answer signature and
summary), :func:`detect` inside the write transaction before storing the row
(the lookups), and :func:`record` once the row has an id. A record is never
refused or merged here: a match only adds the flag ``probable_duplicate`` (so
the push answers ``flagged``) and a row in ``duplicate_matches`` with its
reasons and similarity, for a supervisor to resolve (``server.review.actions``).

The rules, each one indexed lookup (never a scan) bounded by
``max_candidates``, thresholds in ``Rules``:

1. ``same_key``: another record with the same normalised respondent key
   (RSS: case_id + survey_round).
2. ``reinterview_too_close``: the same person (normalised key without the
   round) in another round, interviewed fewer than ``reinterview_days`` apart.
   Follow-up rounds months apart are not duplicates.
3. ``near_identical``: answers at least ``similar_threshold`` equal (over at
   least ``min_compared`` fields both answered) from the same device or the
   same enumerator within ``similar_window_days``, whatever the key says.
4. ``case_id_typo``: a person key one edit away (insert, delete, substitute,
   swap) in the same round, interviewed at most ``typo_days`` apart (the same
   interview entered twice; the day received when there is no interview
   date), with answers at least ``typo_similarity`` equal. Two keys one edit
   apart share a deletion variant (the key with one character deleted): the
   weeks of keys around the record, read from an index in (form, round, day)
   order, are held in memory as a map from variant to keys
   (``server.dedup.typo``), so the lookup is a dozen dictionary reads and a
   record writes one index row, not a dozen (dense sequential case ids have
   dozens of neighbours over a survey, a few within a month). Each key carries
   its answer summary, so most neighbours are dropped without reading them.
   The costliest rule: a form whose case ids are scanned (a barcode or QR
   card), not typed, switches it off with ``case_id_typo`` false. Its index
   row is still written, so switching it back on finds the records stored
   meanwhile.

Signatures and summaries only ever over-estimate similarity: they pick
candidates; the similarity stored is recomputed from the flat answers.

Rules are set per form (``duplicate_rules`` table, ``fieldsync review rules``);
a form without a row uses the defaults. With ``enabled`` false, records are
neither checked nor indexed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

from sqlite_utils import Database

from forms.model import Field, FormModel
from server.dedup import rules as dup
from server.dedup.lookups import BatchLookups, PerRecord
from server.store import duplicates as dup_q

FLAG = "probable_duplicate"


@dataclass
class Detection:
    """What detection learnt about one record: made by ``prepare`` (pure work,
    outside the write transaction), completed by ``detect``, used by ``record``."""

    form_id: str
    rules: dup.Rules
    parts: dup.KeyParts | None
    day: int | None
    device: str | None
    enumerator: str | None
    fields: list[Field]
    data: dict               # the answers (normalised for comparison only if needed)
    sig: bytes
    layout: int
    summary: tuple[int, int] | None
    variants: tuple[str, ...]  # the person key's deletion variants (the typo rule)
    matches: list[dict] = field(default_factory=list)
    # A new logical record, not an edit: no earlier version of it can be a candidate.
    fresh: bool = False


def rules_for(db: Database, form_id: str) -> dup.Rules:
    return _parsed_rules(dup_q.get_rules_text(db, form_id))


@lru_cache(maxsize=64)
def _parsed_rules(text: str | None) -> dup.Rules:
    return dup.Rules.from_dict(json.loads(text) if text else None)  # Rules is frozen


def prepare(db: Database, model: FormModel | None, form_id: str, data: dict, *,
            origin: dict | None, device_id: str | None, user: str | None,
            received_at: str | None, rules: dup.Rules | None = None) -> Detection | None:
    """Describe a record for the rules, before the write lock is taken (reads the
    form's rules unless given; the rest is CPU work). None when detection does
    not apply."""
    if model is None:
        return None  # quarantined: checked when released (``check_released``)
    rules = rules or rules_for(db, form_id)
    if not rules.enabled:
        return None
    return describe(model, form_id, data, rules, origin=origin, device_id=device_id,
                    user=user, received_at=received_at)


def lookups_for(db: Database, dets: list[Detection | None]) -> PerRecord:
    """Where a batch's ``detect`` reads candidates: its lookups read once for the
    whole batch (``server.dedup.lookups``). Call inside the write transaction."""
    if any(d is not None for d in dets):
        return BatchLookups(db, dets)
    return PerRecord(db)


def detect(db: Database, row: dict, det: Detection | None,
           lookups: PerRecord | None = None) -> Detection | None:
    """Look for probable duplicates of ``row`` (not yet stored) as ``prepare``
    described it; flag it if any. Runs inside the write transaction; ``lookups``
    (``lookups_for``) when the record is one of a batch."""
    if det is None or row["state"] != "current":
        return None  # conflicting and quarantined records have their own queues
    det.fresh = row["logical_id"] == row.get("instance_id")
    det.matches = _find(lookups or PerRecord(db), det, det.rules, row["logical_id"])
    if det.matches and FLAG not in row["flags"]:
        row["flags"].append(FLAG)
    return det


def record(db: Database, row: dict, det: Detection | None,
           lookups: PerRecord | None = None) -> None:
    """Store the record's key in the indexes and its matches (row has its id now);
    with a batch's ``lookups``, the key may wait for ``lookups.flush()``."""
    if det is None:
        return
    lookups = lookups or PerRecord(db)
    lookups.written(det, row)
    parts = det.parts
    lookups.write_key(dup_q.key_row(
        row["id"], det.form_id, row["logical_id"],
        key_norm=parts.key if parts else None, person_norm=parts.person if parts else None,
        round_norm=parts.round if parts else None, day=det.day, device_id=det.device,
        enumerator=det.enumerator, layout=det.layout, sig=det.sig, summary=det.summary))
    for m in det.matches:
        dup_q.insert_match(db, row["id"], m["other_id"], det.form_id, m["reasons"],
                           m["similarity"])


def check_released(db: Database, model: FormModel, row: dict, data: dict,
                   flags: list[str]) -> list[str]:
    """Detection for a stored record released from quarantine (it was not checked
    at ingest); returns its flags, with ``probable_duplicate`` if it matches."""
    det = prepare(db, model, row["form_id"], data, origin=row.get("origin"),
                  device_id=row.get("device_id"), user=row.get("submitted_by"),
                  received_at=row.get("received_at"))
    current = {**row, "state": "current", "flags": list(flags)}
    det = detect(db, current, det)
    record(db, current, det)
    return current["flags"]


def describe(model: FormModel, form_id: str, data: dict, rules: dup.Rules, *,
             origin: dict | None = None, device_id: str | None = None,
             user: str | None = None, received_at: str | None = None) -> Detection:
    """The record as the rules see it (pure)."""
    parts = dup.key_parts(model, data, rules)
    flds = dup.compared_fields(model, rules)
    sig = dup.answers_signature(flds, data)
    origin = origin or {}
    day = dup.day_number(dup.value_at(data, rules.date_field)) \
        if rules.date_field in model.fields else None
    return Detection(
        form_id=form_id, rules=rules, parts=parts,
        day=day if day is not None else dup.day_number(received_at),
        device=origin.get("device_id") or device_id or _text(data.get("deviceid")),
        enumerator=origin.get("user") or user,
        fields=flds, data=data, sig=sig, layout=dup.layout_id(flds),
        summary=dup.summary(sig),
        variants=tuple(dup.deletion_variants(parts.person))
        if parts and rules.case_id_typo else (),
    )


def _find(src: PerRecord, det: Detection, rules: dup.Rules, logical_id: str) -> list[dict]:
    found: dict[int, dict] = {}      # other submission id -> reasons so far
    minimum = rules.min_compared

    def entry(other_id: int) -> dict:
        return found.setdefault(other_id, {"other_id": other_id, "reasons": []})

    parts = det.parts
    if parts:
        for cand in src.by_person(det, logical_id):
            if cand["key_norm"] == parts.key:
                entry(cand["submission_id"])["reasons"].append(
                    {"rule": "same_key", "key": parts.key})
            elif (parts.round and cand["round_norm"] != parts.round
                  and det.day is not None and cand["day"] is not None
                  and abs(det.day - cand["day"]) < rules.reinterview_days):
                entry(cand["submission_id"])["reasons"].append({
                    "rule": "reinterview_too_close", "rounds": [parts.round, cand["round_norm"]],
                    "days": abs(det.day - cand["day"]), "window_days": rules.reinterview_days})
        for sid, other in _typo_candidates(src, det, rules):
            entry(sid)["_typo"] = [parts.person, other]
    if det.day is not None:
        # Without a summary (forms comparing more than 64 fields) the byte
        # signatures decide, in ``_drop_by_signature``.
        window, threshold = rules.similar_window_days, rules.similar_threshold
        near = src.near(det, det.day - window, det.day + window, logical_id)
        for sid, day, _layout, _answered, _sketch, same_device, same_enumerator in \
                dup.kept_by_summary(det.summary, det.layout, minimum, threshold, near, 2):
            entry(sid)["_near"] = {
                "by": [w for w, same in (("device", same_device),
                                         ("enumerator", same_enumerator)) if same],
                "days": abs(det.day - (day if day is not None else det.day))}
    if found:
        _drop_by_signature(src, det, rules, found)
    if not found:
        return []
    return _confirm(src, det, rules, found)


def _typo_candidates(src: PerRecord, det: Detection,
                     rules: dup.Rules) -> list[tuple[int, str]]:
    """(submission id, person key) of the records of the same round whose person
    key is one edit from this one, interviewed at most ``typo_days`` from it (the
    same interview entered twice), and whose answer summary does not rule out
    ``typo_similarity``: the newest ``max_candidates`` of them."""
    if det.day is None:
        return []  # neither an interview date nor a received date: not indexed either
    mine = det.parts.person
    kept = {sid: other for sid, other in src.typo_neighbours(det).items()
            if other != mine and dup.within_one_edit(mine, other)}
    newest = sorted(kept, reverse=True)[:rules.max_candidates]
    return [(sid, kept[sid]) for sid in newest]


def _drop_by_signature(src: PerRecord, det: Detection, rules: dup.Rules,
                       found: dict) -> None:
    """Drop from ``found`` the candidates that only answer-based rules picked and
    whose stored signature rules out every one of them: a byte per answer
    tells differing answers apart where the summary's one bit shows about half
    (and is all there is for forms comparing more than 64 fields), and is read
    by primary key or taken from the batch's keys not yet written, where
    confirming reads the record and its answers (most candidates the summary
    keeps end here)."""
    judged = [sid for sid, entry in found.items() if not entry["reasons"]]
    if not judged:
        return
    probe = dup.SignatureProbe(det.sig)
    minimum = rules.min_compared
    for sid, (layout, sig) in src.signatures(judged).items():
        if layout != det.layout:
            continue  # another version's fields: only the answers can tell
        est, both = probe.estimate(sig)
        entry = found[sid]
        if both < minimum or not (
                ("_typo" in entry and est >= rules.typo_similarity)
                or ("_near" in entry and est >= rules.similar_threshold)):
            del found[sid]


def _confirm(src: PerRecord, det: Detection, rules: dup.Rules, found: dict) -> list[dict]:
    """Exact similarity from the flat answers of the live candidates; keep what
    the rules still accept."""
    paths = [f.path for f in det.fields]
    stored = dup_q.confirm_rows(src.db, det.form_id, paths, list(found),
                                src.answer_columns(det.form_id, paths))
    mine = dup.answers_of(det.fields, det.data)
    out = []
    for other_id, entry in found.items():
        if other_id not in stored:
            continue  # superseded, in conflict or resolved as a duplicate
        row = stored[other_id]
        theirs = dup.normalise_values(det.fields, row) if row else []
        sim, both = dup.similarity(mine, theirs) if row else (0.0, 0)
        enough = both >= rules.min_compared
        typo = entry.pop("_typo", None)
        near = entry.pop("_near", None)
        if typo and enough and sim >= rules.typo_similarity:
            entry["reasons"].append({"rule": "case_id_typo", "keys": typo,
                                     "similarity": round(sim, 4)})
        if near and enough and sim >= rules.similar_threshold:
            entry["reasons"].append({"rule": "near_identical", **near,
                                     "similarity": round(sim, 4), "compared": both})
        if entry["reasons"]:
            entry["similarity"] = round(sim, 4) if row else None
            out.append(entry)
    return sorted(out, key=lambda e: e["other_id"])


def _text(value) -> str | None:
    return str(value).strip() or None if value not in (None, "") else None

"""Probable-duplicate detection at ingest (issue 7).

Ingest calls :func:`detect` for each record before storing it and
:func:`record` once the row has an id. A record is never refused or merged
here: a match only adds the flag ``probable_duplicate`` (so the push answers
``flagged``) and a row in ``duplicate_matches`` with its reasons and
similarity, for a supervisor to resolve (``server.review``).

The rules, each an indexed lookup (never a scan), thresholds in ``Rules``:

1. ``same_key``: another record with the same normalised respondent key
   (RSS: case_id + survey_round).
2. ``reinterview_too_close``: the same person (normalised key without the
   round) in another round, interviewed fewer than ``reinterview_days`` apart.
   Follow-up rounds months apart are not duplicates.
3. ``near_identical``: answers at least ``similar_threshold`` equal (over at
   least ``min_compared`` fields both answered) from the same device or the
   same enumerator within ``similar_window_days``, whatever the key says.
4. ``case_id_typo``: a person key one edit away (insert, delete, substitute,
   swap) in the same round, with answers at least ``typo_similarity`` equal.

Rules are set per form (``duplicate_rules`` table, ``fieldsync review rules``);
a form without a row uses the defaults. With ``enabled`` false, records are
neither checked nor indexed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlite_utils import Database

from forms.model import Field, FormModel
from server import duplicates as dup
from server.store import duplicates as dup_q

FLAG = "probable_duplicate"


@dataclass
class Detection:
    """What detection learnt about one record, kept until the row is stored."""

    form_id: str
    parts: dup.KeyParts | None
    day: int | None
    device: str | None
    enumerator: str | None
    fields: list[Field]
    values: list
    sig: bytes
    layout: int
    variants: list[int]
    matches: list[dict] = field(default_factory=list)


def rules_for(db: Database, form_id: str) -> dup.Rules:
    return dup.Rules.from_dict(dup_q.get_rules(db, form_id))


def detect(db: Database, model: FormModel | None, row: dict) -> Detection | None:
    """Look for probable duplicates of ``row`` (not yet stored); flag it if any."""
    if model is None or row["state"] != "current":
        return None  # quarantined and conflicting records have their own queues
    rules = rules_for(db, row["form_id"])
    if not rules.enabled:
        return None
    det = describe(model, row, rules)
    det.matches = _find(db, det, rules, row["logical_id"])
    if det.matches and FLAG not in row["flags"]:
        row["flags"].append(FLAG)
    return det


def record(db: Database, row: dict, det: Detection | None) -> None:
    """Store the record's key in the indexes and its matches (row has its id now)."""
    if det is None:
        return
    parts = det.parts
    dup_q.insert_key(
        db, row["id"], det.form_id, row["logical_id"],
        key_norm=parts.key if parts else None, person_norm=parts.person if parts else None,
        round_norm=parts.round if parts else None, day=det.day, device_id=det.device,
        enumerator=det.enumerator, layout=det.layout, sig=det.sig,
        variant_hashes=det.variants,
    )
    for m in det.matches:
        dup_q.insert_match(db, row["id"], m["other_id"], det.form_id, m["reasons"],
                           m["similarity"])


def describe(model: FormModel, row: dict, rules: dup.Rules) -> Detection:
    data = row["data"]
    parts = dup.key_parts(model, data, rules)
    flds = dup.compared_fields(model, rules)
    values = dup.answers_of(flds, data)
    layout = dup.layout_id(flds)
    origin = row.get("origin") or {}
    day = dup.day_number(dup.value_at(data, rules.date_field)) \
        if rules.date_field in model.fields else None
    variants = []
    if parts:
        variants = [dup.variant_hash(row["form_id"], parts.round, v)
                    for v in sorted(dup.deletion_variants(parts.person))]
    return Detection(
        form_id=row["form_id"], parts=parts,
        day=day if day is not None else dup.day_number(row.get("received_at")),
        device=origin.get("device_id") or row.get("device_id") or _text(data.get("deviceid")),
        enumerator=origin.get("user") or row.get("submitted_by"),
        fields=flds, values=values, sig=dup.signature(values), layout=layout,
        variants=variants,
    )


def _find(db: Database, det: Detection, rules: dup.Rules, logical_id: str) -> list[dict]:
    found: dict[int, dict] = {}      # other submission id -> reasons so far
    probe = dup.SignatureProbe(det.sig)
    limit, layout, minimum = rules.max_candidates, det.layout, rules.min_compared

    def entry(other_id: int) -> dict:
        return found.setdefault(other_id, {"other_id": other_id, "reasons": []})

    parts = det.parts
    if parts:
        for cand in dup_q.by_person(db, det.form_id, parts.person, logical_id, limit):
            if cand["key_norm"] == parts.key:
                entry(cand["submission_id"])["reasons"].append(
                    {"rule": "same_key", "key": parts.key})
            elif (parts.round and cand["round_norm"] != parts.round
                  and det.day is not None and cand["day"] is not None
                  and abs(det.day - cand["day"]) < rules.reinterview_days):
                entry(cand["submission_id"])["reasons"].append({
                    "rule": "reinterview_too_close", "rounds": [parts.round, cand["round_norm"]],
                    "days": abs(det.day - cand["day"]), "window_days": rules.reinterview_days})
        threshold = rules.typo_similarity
        for sid, person, their_layout, sig in dup_q.by_variants(
                db, det.variants, parts.round, parts.person, logical_id, limit):
            if their_layout == layout:  # else: another form version, decide on the answers
                est, both = probe.estimate(sig)
                if both < minimum or est < threshold:
                    continue
            if dup.within_one_edit(parts.person, person or ""):
                entry(sid)["_typo"] = [parts.person, person]
    if det.day is not None:
        window, threshold = rules.similar_window_days, rules.similar_threshold
        for sid, device, enumerator, day, their_layout, sig in dup_q.near_in_time(
                db, det.form_id, det.device, det.enumerator, det.day - window,
                det.day + window, logical_id, limit):
            if their_layout == layout:
                est, both = probe.estimate(sig)
                if both < minimum or est < threshold:
                    continue
            entry(sid)["_near"] = {
                "by": [w for w, mine, theirs in (("device", det.device, device),
                                                 ("enumerator", det.enumerator, enumerator))
                       if mine and mine == theirs],
                "days": abs(det.day - (day if day is not None else det.day))}
    if not found:
        return []
    alive = dup_q.live(db, list(found))
    return _confirm(db, det, rules, {k: v for k, v in found.items() if k in alive})


def _confirm(db: Database, det: Detection, rules: dup.Rules, found: dict) -> list[dict]:
    """Exact similarity from the flat answers; keep what the rules still accept."""
    stored = dup_q.answers_rows(db, det.form_id, [f.path for f in det.fields], list(found))
    out = []
    for other_id, entry in found.items():
        row = stored.get(other_id)
        theirs = [dup.normalise_value(f, v) for f, v in zip(det.fields, row)] if row else []
        sim, both = dup.similarity(det.values, theirs) if row else (0.0, 0)
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

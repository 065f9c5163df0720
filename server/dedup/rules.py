"""The four duplicate rules and their settings.

A record is never refused or merged: a match only adds the flag
``probable_duplicate`` and a row in ``duplicate_matches`` with its reasons and
similarity, for a supervisor to resolve (``server.review.actions``).

1. ``same_key``: another record with the same normalised respondent key (RSS:
   case_id + survey_round).
2. ``reinterview_too_close``: the same person (the key without its round) in
   another round, interviewed fewer than ``reinterview_days`` apart. Follow-up
   rounds months apart are not duplicates.
3. ``near_identical``: answers at least ``similar_threshold`` equal (over at
   least ``min_compared`` fields both answered) from the same device or the
   same enumerator within ``similar_window_days``, whatever the key says.
4. ``case_id_typo``: a person key one edit away (insert, delete, substitute,
   swap) in the same round, interviewed at most ``typo_days`` apart (the same
   interview entered twice; the day received when there is no interview
   date), with answers at least ``typo_similarity`` equal. A form whose case
   ids are scanned (a barcode or QR card), not typed, switches it off with
   ``case_id_typo`` false; its keys are still stored, so switching it back on
   finds the records stored meanwhile.

Each rule reads at most ``max_candidates`` candidates per record. Candidates
that only rules 3 and 4 picked are first judged on their answer summaries
(``similarity.could_match``), then on their answers; the similarity stored is
the exact one.

Rules are set per form (``duplicate_rules`` table, ``fieldsync review rules``);
a form without a row uses the defaults. With ``enabled`` false, records are
neither checked nor indexed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from server.dedup import similarity
from server.dedup.keys import within_one_edit


@dataclass(frozen=True)
class Rules:
    """The rules' settings (defaults; a form may override any)."""

    enabled: bool = True
    round_field: str = "survey_round"      # the key part that names the round
    date_field: str = "interview_date"     # when the interview happened
    reinterview_days: int = 60             # same person, other round, closer than this
    similar_threshold: float = 0.9         # near-identical answers (same device/enumerator)
    similar_window_days: int = 3           # ... within this many days of each other
    typo_similarity: float = 0.8           # case id one edit apart, same round
    typo_days: int = 14                    # ... interviewed at most this many days apart
    case_id_typo: bool = True              # the typo rule itself (off: ids scanned, not typed)
    min_compared: int = 10                 # fields both answered before similarity counts
    max_candidates: int = 100              # per rule and record: a bound, not a sample

    @classmethod
    def from_dict(cls, values: dict | None) -> Rules:
        """Rules from a stored or user-given mapping; unknown names are refused."""
        values = dict(values or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown duplicate rule(s): {', '.join(unknown)}; "
                             f"known: {', '.join(known)}")
        return cls(**{name: _coerce(type(getattr(cls, name)), name, value)
                      for name, value in values.items()})

    def to_dict(self) -> dict:
        return asdict(self)


def _coerce(kind: type, name: str, value):
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            return bool(value)
        if kind is int:
            return int(value)
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        expected = {bool: "true or false", int: "a whole number", float: "a number"}
        raise ValueError(f"duplicate rule {name} must be {expected.get(kind, 'text')}, "
                         f"not {value!r}") from None


def matches(src, desc, logical_id: str, fresh: bool) -> list[dict]:
    """The probable duplicates of a record (``desc``, a
    ``server.dedup.detector.Description``; not yet stored, of logical record
    ``logical_id``, ``fresh`` when it is not an edit) among the records ``src``
    (``server.dedup.lookups.Lookups``) finds: ``{"other_id", "reasons",
    "similarity"}`` each, by other id."""
    rules = desc.rules
    found: dict[int, dict] = {}      # other submission id -> reasons so far

    def entry(other_id: int) -> dict:
        return found.setdefault(other_id, {"other_id": other_id, "reasons": []})

    parts, day = desc.parts, desc.day
    if parts:
        for cand in src.same_person(desc, logical_id):
            if cand["key_norm"] == parts.key:
                entry(cand["submission_id"])["reasons"].append(
                    {"rule": "same_key", "key": parts.key})
            elif (parts.round and cand["round_norm"] != parts.round
                  and day is not None and cand["day"] is not None
                  and abs(day - cand["day"]) < rules.reinterview_days):
                entry(cand["submission_id"])["reasons"].append({
                    "rule": "reinterview_too_close", "rounds": [parts.round, cand["round_norm"]],
                    "days": abs(day - cand["day"]), "window_days": rules.reinterview_days})
        for sid, other in _typo_candidates(src, desc):
            entry(sid)["_typo"] = [parts.person, other]
    if day is not None:
        window = rules.similar_window_days
        near = src.near_in_time(desc, day - window, day + window, logical_id, fresh)
        for sid, other_day, _layout, _answered, _sketch, same_device, same_enumerator in \
                similarity.could_match(desc.summary, desc.layout, rules.min_compared,
                                       rules.similar_threshold, near, 2):
            entry(sid)["_near"] = {
                "by": [w for w, same in (("device", same_device),
                                         ("enumerator", same_enumerator)) if same],
                "days": abs(day - (other_day if other_day is not None else day))}
    return _confirm(src, desc, found) if found else []


def _typo_candidates(src, desc) -> list[tuple[int, str]]:
    """(submission id, person key) of the records of the same round whose person
    key is one edit from this one, interviewed at most ``typo_days`` from it,
    and whose answer summary does not rule out ``typo_similarity``: the newest
    ``max_candidates`` of them."""
    if desc.day is None:
        return []  # neither an interview date nor a received date: not indexed either
    mine = desc.parts.person
    kept = {sid: other for sid, other in src.typo_neighbours(desc).items()
            if other != mine and within_one_edit(mine, other)}
    newest = sorted(kept, reverse=True)[:desc.rules.max_candidates]
    return [(sid, kept[sid]) for sid in newest]


def _confirm(src, desc, found: dict) -> list[dict]:
    """The exact similarity from the answers of the candidates still live;
    keep what the rules still accept."""
    rules = desc.rules
    stored = src.answers(desc, list(found))
    mine = similarity.answers_of(desc.fields, desc.data)
    out = []
    for other_id, entry in found.items():
        if other_id not in stored:
            continue  # superseded, in conflict or resolved as a duplicate
        row = stored[other_id]
        if row:
            sim, both = similarity.similarity(
                mine, similarity.normalise_values(desc.fields, row))
        else:
            sim, both = 0.0, 0
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

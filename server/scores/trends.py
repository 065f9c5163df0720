"""Reintegration trends over the stored records: what `GET /api/v1/scores/trends`
and `fieldsync trends` answer, and, per returnee over rounds, what
`GET /api/v1/scores/trajectories` and `GET /api/v1/scores/changes` answer
(`fieldsync trajectories`, `fieldsync changes`).

Rows come from SQL over the flat answers table joined to the scores kept for
one spec version (no record's ``data`` is decoded); ``scoring.summarise`` groups
them and gives n, mean, median and the 95% interval of each score. Only the
current version of each logical record counts: superseded versions, conflicts,
records a supervisor rejected and records flagged or resolved as duplicates are
left out. Over rounds, a person is the returnee's case id with case, spaces
and punctuation ignored (as duplicate detection compares it).
"""

from __future__ import annotations

from sqlite_utils import Database

import scoring
from scoring import normalise_key_part
from scoring.trends import ALIASES, DEFAULT_TOLERANCE, GROUPINGS, PAIRED_GROUPINGS
from server.errors import FieldsyncError
from server.registry.models import model_for, published_form, spec_for
from server.scores.specs import spec_by_version
from server.store import scores as scores_q

ROUND_FIELD = "survey_round"
MAX_PEOPLE = 1000  # people in one page of trajectories

EXCLUDED_FLAGS = ("conflict", "edit_conflict", "duplicate", "duplicate_of")
EXCLUDED_REVIEWS = ("rejected", "duplicate")
BY_CHOICES = ("country", "quarter", "round", "months_since_return", "year")


def trends(db: Database, form_id: str, by: str | list[str] = "country",
           scoring_version: str | None = None, threshold: float | None = None,
           country: str | None = None) -> dict:
    """Group a form's current records and describe each score of one spec version
    (default: the spec the form's current version is scored with).

    Returns ``{"form_id", "scoring_version", "by", "n", "groups": [{"group", "n",
    "scores": {score: {"n", "mean", "median", "ci95"}}}]}``; with ``threshold``
    each score also gives ``at_or_above``, the share of its values >= threshold;
    ``country`` keeps only the records of that country of return.
    """
    keys = _groupings(by)
    form = published_form(db, form_id)
    spec = _spec(db, form, scoring_version)
    names = list(spec.scores)
    fields = scores_q.TREND_FIELDS
    rows = (
        {**dict(zip(fields, row)), "scores": dict(zip(names, row[len(fields):]))}
        for row in scores_q.trend_rows(db, form_id, spec.version, names,
                                       EXCLUDED_FLAGS, EXCLUDED_REVIEWS, country or None)
    )
    groups = scoring.summarise(rows, by=keys, scores=names, threshold=threshold)
    return {"form_id": form_id, "scoring_version": spec.version, "by": keys,
            **({"threshold": threshold} if threshold is not None else {}),
            "n": sum(g["n"] for g in groups), "groups": groups}


def _groupings(by: str | list[str]) -> list[str]:
    items = [b.strip() for b in by.split(",")] if isinstance(by, str) else list(by)
    items = [b for b in items if b]
    unknown = [b for b in items if ALIASES.get(b, b) not in GROUPINGS]
    if not items or unknown:
        raise FieldsyncError(
            "bad_request", f"Group by one or more of {', '.join(BY_CHOICES)}, separated by "
            f"commas (got '{','.join(unknown) or by}').", {"by": items})
    return items


def _spec(db: Database, form: dict, version: str | None) -> scoring.Spec:
    if version:
        return spec_by_version(db, version)
    spec = spec_for(db, model_for(db, form["form_id"], form["current_version"]))
    if spec is None:
        raise scoring.ScoringError(
            "scoring_spec_unknown", f"Form '{form['form_id']}' is not scored: no scoring "
            "spec fits it.", {"form_id": form["form_id"]})
    return spec


def _person_rows(db: Database, form_id: str, scoring_version: str | None):
    form = published_form(db, form_id)
    spec = _spec(db, form, scoring_version)
    names = list(spec.scores)
    fields = ("order", "instance_id") + scores_q.PERSON_FIELDS
    rows = (
        {**dict(zip(fields, row)), "person": normalise_key_part(row[2] or "") or None,
         "scores": dict(zip(names, row[len(fields):]))}
        for row in scores_q.person_rows(db, form_id, spec.version, names,
                                        EXCLUDED_FLAGS, EXCLUDED_REVIEWS)
    )
    return form, spec, names, rows


def trajectories(db: Database, form_id: str, case_id: str | None = None,
                 scoring_version: str | None = None, limit: int = 100,
                 after: str | None = None) -> dict:
    """Each returnee's scores round by round (rounds in the form's order), a page
    of people at a time: ``{"form_id", "scoring_version", "people": [{"person",
    "case_id", "rounds": [{"round", "interview_date", "instance_id", "scores"}]}],
    "next"}``; ``case_id`` gives one person's."""
    form, spec, names, rows = _person_rows(db, form_id, scoring_version)
    wanted = normalise_key_part(case_id) if case_id else None
    if case_id is not None and not wanted:
        raise FieldsyncError("bad_request", "case_id must contain letters or digits.")
    limit = min(max(limit, 1), MAX_PEOPLE)
    kept, case_ids = [], {}
    for row in rows:
        person = row["person"]
        if not person or (wanted and person != wanted) or (after and person <= after):
            continue
        case_ids.setdefault(person, row["case_id"])
        kept.append(row)
    people = scoring.trajectories(kept, _round_order(db, form), names)
    page = people[:limit]
    for item in page:
        item["case_id"] = case_ids[item["person"]]
    return {"form_id": form_id, "scoring_version": spec.version, "people": page,
            "next": page[-1]["person"] if len(people) > limit else None}


def changes(db: Database, form_id: str, from_round: str, to_round: str,
            by: str | list[str] = "", tolerance: float = DEFAULT_TOLERANCE,
            scoring_version: str | None = None) -> dict:
    """The paired change of each score between two rounds of the same people
    (``scoring.paired_changes``), grouped by any of country, sex and
    months_since_return."""
    items = [b.strip() for b in by.split(",")] if isinstance(by, str) else list(by)
    items = [b for b in items if b]
    unknown = [b for b in items if ALIASES.get(b, b) not in PAIRED_GROUPINGS]
    if unknown:
        raise FieldsyncError("bad_request", "Group changes by any of country, sex, "
                             f"months_since_return (got '{','.join(unknown)}').",
                             {"by": items})
    if not from_round or not to_round or from_round == to_round:
        raise FieldsyncError("bad_request", "Name two different rounds: "
                             "?from=baseline&to=6m.")
    if not 0 <= tolerance <= 1:
        raise FieldsyncError("bad_request", "tolerance is a score difference between 0 "
                             "and 1 (default 0.05).")
    form, spec, names, rows = _person_rows(db, form_id, scoring_version)
    rounds = _round_order(db, form)
    missing = [r for r in (from_round, to_round) if rounds and r not in rounds]
    if missing:
        raise FieldsyncError("bad_request", f"Form '{form_id}' has no round "
                             f"{', '.join(missing)}; its rounds are {', '.join(rounds)}.")
    answer = scoring.paired_changes(rows, from_round, to_round, by=items, scores=names,
                                    tolerance=tolerance)
    return {"form_id": form_id, "scoring_version": spec.version, **answer}


def _round_order(db: Database, form: dict) -> list[str]:
    """The round question's choices, in the form's order ([] if it has none)."""
    model = model_for(db, form["form_id"], form["current_version"])
    field = model.resolve(ROUND_FIELD) if model is not None else None
    if field is None or not field.list_name:
        return []
    return [c.name for c in model.choices.get(field.list_name, [])]

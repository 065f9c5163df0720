"""Reintegration trends over the stored records: what `GET /api/v1/scores/trends`
and `fieldsync trends` answer.

Rows come from SQL over the flat answers table joined to the scores kept for
one spec version (no record's ``data`` is decoded); ``scoring.summarise`` groups
them and gives n, mean, median and the 95% interval of each score. Only the
current version of each logical record counts: superseded versions, conflicts,
records a supervisor rejected and records flagged or resolved as duplicates are
left out.
"""

from __future__ import annotations

from sqlite_utils import Database

import scoring
from scoring.trends import ALIASES, GROUPINGS
from server.errors import FieldsyncError
from server.registry.models import model_for, spec_for
from server.scores.specs import spec_by_version
from server.store import forms as forms_q
from server.store import scores as scores_q

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
    form = forms_q.get_form(db, form_id)
    if form is None:
        raise FieldsyncError("form_unknown", f"No form '{form_id}' is published here; list "
                             "them with GET /api/v1/forms.", {"form_id": form_id})
    spec = _spec(db, form, scoring_version)
    names = list(spec.scores)
    fields = scores_q.TREND_FIELDS
    rows = (
        {**dict(zip(fields, row)), "scores": dict(zip(names, row[len(fields):]))}
        for row in scores_q.trend_rows(db, form_id, spec.version, names,
                                       EXCLUDED_FLAGS, EXCLUDED_REVIEWS)
    )
    if country:
        rows = (r for r in rows if r["country_of_return"] == country)
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

"""Scoring a file of submissions against a form: what `fieldsync score` runs.

FORM is an XLSForm file (.xlsx, .xls, .csv, .md), converted on the fly, or the
form_id of a form published in the store (its current version). The spec is
``spec`` if given (published in the store, else an installed spec file or a
path), else the one the form is scored with: for a published form, the
server's current spec (``formcache.spec_for``); for a form file, the spec the
form declares (``scoring.spec_for_form``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from sqlite_utils import Database

import scoring
from forms.model import FormModel
from forms.xlsform import SUFFIXES as FORM_SUFFIXES
from forms.xlsform import convert_xlsform
from server.errors import FieldsyncError
from server.registry.models import model_for, spec_for
from server.scores.specs import spec_by_version
from server.store import forms as forms_q


def score(form: str | os.PathLike, input_path: str | os.PathLike, *,
          db: Database | None = None, spec: str | None = None) -> Iterator[dict]:
    """Score every record of a .jsonl or .csv file, lazily, in file order.

    Yields ``{"instance_id", "scoring_version", "scores", "indicators", "warnings"}``.
    The form and spec are resolved before this returns, so their errors come first.
    """
    model, chosen = _form_and_spec(form, db, spec)
    return scoring.score_file(chosen, model, input_path)


def _form_and_spec(form, db, version) -> tuple[FormModel, scoring.Spec]:
    path = Path(form)
    if path.suffix.lower() in FORM_SUFFIXES and path.is_file():
        model = convert_xlsform(path.read_bytes(), path.name).model
        chosen = spec_by_version(db, version) if version else scoring.spec_for_form(model)
    else:
        model = _published_model(db, str(form))
        chosen = spec_by_version(db, version) if version else spec_for(db, model)
    if chosen is None:
        raise scoring.ScoringError(
            "scoring_spec_unknown", f"Form '{model.form_id}' names no scoring spec and none "
            "is published for it; choose one with --spec VERSION.",
            {"form_id": model.form_id})
    return model, chosen


def _published_model(db: Database | None, form_id: str) -> FormModel:
    form = forms_q.get_form(db, form_id) if db is not None else None
    if form is None:
        raise FieldsyncError(
            "form_unknown", f"'{form_id}' is neither an XLSForm file (.xlsx, .xls, .csv, .md) "
            "nor a form published in the store; check the path, or --db.",
            {"form_id": form_id})
    return model_for(db, form_id, form["current_version"])

"""Compiled form models by (form_id, version), cached: published versions never
change, and the cache key includes the XForm's md5, so a different store with
the same names cannot be served a stale model."""

from __future__ import annotations

from functools import lru_cache

from sqlite_utils import Database

import scoring
from forms.model import FormModel
from server.store import forms as forms_q


def model_for(db: Database, form_id: str, version: str) -> FormModel | None:
    row = forms_q.get_model(db, form_id, version)
    return cached_model(*row) if row is not None else None


@lru_cache(maxsize=256)
def cached_model(md5: str, text: str) -> FormModel:
    del md5  # part of the cache key only
    return FormModel.from_json(text)


def spec_for(db: Database, model: FormModel):
    """The scoring spec a form version is scored with (None if unscored), kept on
    the cached model so it is looked up once per process."""
    del db  # specs are installed files for now; kept for a store-backed registry
    if "_scoring_spec" not in model.__dict__:
        model.__dict__["_scoring_spec"] = scoring.spec_for_form(model)
    return model.__dict__["_scoring_spec"]

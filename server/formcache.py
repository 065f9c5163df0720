"""Compiled form models by (form_id, version), cached: published versions never
change, and the cache key includes the XForm's md5, so a different store with
the same names cannot be served a stale model."""

from __future__ import annotations

from functools import lru_cache

from sqlite_utils import Database

from forms.model import FormModel
from server.store import forms as forms_q


def model_for(db: Database, form_id: str, version: str) -> FormModel | None:
    row = forms_q.get_model(db, form_id, version)
    return cached_model(*row) if row is not None else None


@lru_cache(maxsize=256)
def cached_model(md5: str, text: str) -> FormModel:
    del md5  # part of the cache key only
    return FormModel.from_json(text)

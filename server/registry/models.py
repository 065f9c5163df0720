"""Compiled form models by (form_id, version), cached: published versions never
change, and the cache key includes the XForm's md5, so a different store with
the same names cannot be served a stale model. Also the data files a version's
expressions read (``media_for``), cached by their hashes."""

from __future__ import annotations

import threading
from functools import lru_cache

from sqlite_utils import Database

import scoring
from forms.expressions import form_expressions
from forms.media import FormMedia, media_file_name
from forms.model import FormModel
from server.errors import FieldsyncError
from server.store import forms as forms_q
from server.store import openrosa as openrosa_q
from server.store import scores as scores_q


def published_form(db: Database, form_id: str) -> dict:
    """The form's row (``current_version``, ``state``...), or form_unknown naming
    where the published forms are listed."""
    form = forms_q.get_form(db, form_id)
    if form is None:
        raise FieldsyncError("form_unknown", f"No form '{form_id}' is published here; list "
                             "them with GET /api/v1/forms or `fieldsync forms list`.",
                             {"form_id": form_id})
    return form


def model_for(db: Database, form_id: str, version: str) -> FormModel | None:
    row = forms_q.get_model(db, form_id, version)
    return cached_model(*row) if row is not None else None


_MODELS = 256


@lru_cache(maxsize=_MODELS)
def cached_model(md5: str, text: str) -> FormModel:
    del md5  # part of the cache key only
    return FormModel.from_json(text)


def spec_for(db: Database, model: FormModel):
    """The scoring spec a form version is scored with (None if unscored).

    The newest spec published in the store for the form that fits this version
    wins; without one, the installed spec files decide (``scoring.spec_for_form``).
    Kept here per model object, with the form's published specs (ids and
    hashes) it was chosen among, so a newly published spec is seen by every
    process at once.
    """
    keys = tuple(scores_q.spec_keys(db, model.form_id))
    held = _CHOSEN.get(id(model))
    if held is not None and held[0] is model and held[1] == keys:
        return held[2]
    spec = None
    for spec_id, sha in keys:
        candidate = stored_spec(db, spec_id, sha)
        try:
            scoring.check_spec(candidate, model)
        except scoring.ScoringError:
            continue  # e.g. a newer spec names fields an older form version lacks
        spec = candidate
        break
    if spec is None:
        spec = scoring.spec_for_form(model)
    with _CHOSEN_LOCK:
        if len(_CHOSEN) >= _MODELS and id(model) not in _CHOSEN:
            _CHOSEN.pop(next(iter(_CHOSEN)), None)
        _CHOSEN[id(model)] = (model, keys, spec)
    return spec


# id(model) -> (model, its form's published spec keys, the spec chosen), for at
# most as many models as ``cached_model`` holds
_CHOSEN: dict[int, tuple] = {}
_CHOSEN_LOCK = threading.Lock()


_STORED: dict[str, scoring.Spec] = {}


def stored_spec(db: Database, spec_id: int, sha256: str) -> scoring.Spec:
    """A published spec, parsed once per process (stored specs never change)."""
    spec = _STORED.get(sha256)
    if spec is None:
        if len(_STORED) >= 64:
            _STORED.pop(next(iter(_STORED)))
        spec = _STORED[sha256] = scoring.load_spec(scores_q.spec_document(db, spec_id))
    return spec


_MEDIA: dict[tuple, FormMedia] = {}
MEDIA_KEPT = 32  # versions whose parsed media files are kept in memory


def media_for(db: Database, model: FormModel) -> FormMedia | None:
    """The uploaded files the version's expressions read (``pulldata()``,
    ``instance()``), or None when they read none. Parsed once per set of file
    hashes, so a file uploaded later is seen by the next record."""
    wanted = {media_file_name(model.external.get(name), name)
              for name in form_expressions(model).media_instances()}
    if not wanted:
        return None
    held = tuple(sorted((m["name"], m["md5"])
                        for m in openrosa_q.list_media(db, model.form_id, model.version)
                        if m["name"] in wanted))
    key = (model.form_id, model.version, held)
    media = _MEDIA.get(key)
    if media is None:
        files = {name: openrosa_q.get_media(db, model.form_id, model.version, name)["data"]
                 for name, _ in held}
        if len(_MEDIA) >= MEDIA_KEPT:
            _MEDIA.pop(next(iter(_MEDIA)))
        media = _MEDIA[key] = FormMedia(files)
    return media

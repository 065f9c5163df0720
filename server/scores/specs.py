"""Scoring specs in the store: publish a version, list them, install the built-in ones.

The Python API behind `fieldsync scoring publish` and `POST /api/v1/scoring/specs`.
A published spec version never changes (the same content again is a no-op,
different content under a version that exists is refused). Publishing checks the
spec and checks it against the form's current version, stores it, and queues a
background job that rescores every record of the form stored so far; from then
on ingest scores new records with it (``server.registry.models.spec_for`` prefers the
newest spec in the store that fits a form version).
"""

from __future__ import annotations

import json

from sqlite_utils import Database

import scoring
from server.scores import rescore
from server.errors import FieldsyncError
from server.registry.models import model_for, stored_spec
from server.store import audit
from server.store import forms as forms_q
from server.store import scores as scores_q


def scoring_publish(db: Database, source: bytes | dict, *, actor: str | None = None,
                    queue_rescoring: bool = True) -> dict:
    """Publish a spec (its JSON bytes or document); returns ``{"version", "form_id",
    "sha256", "created", "job"}`` where ``job`` is the queued rescoring job or None.

    Raises ``ScoringError`` (422, ``details["errors"]`` naming sheet and row) for a
    spec that is invalid or does not fit the form, ``form_unknown`` (404) and
    ``scoring_spec_conflict`` (409); nothing is stored then.
    """
    spec = _parse(source)
    if not spec.form_id:
        raise scoring.ScoringError(
            "scoring_spec_invalid", "The scoring spec is invalid: 'spec': 'form_id' must "
            "name the form it scores.",
            {"errors": [{"sheet": "spec", "row": None, "name": "form_id",
                         "message": "'form_id' must name the form it scores."}]})
    with db.atomic():
        model = _current_model(db, spec.form_id)
        scoring.check_spec(spec, model)  # raises naming sheet and row
        existing = scores_q.get_spec(db, spec.version)
        if existing is not None:
            if existing["sha256"] != spec.sha256:
                raise FieldsyncError(
                    "scoring_spec_conflict",
                    f"Scoring spec '{spec.version}' is already published with different "
                    "content; published versions never change. Give the corrected spec a "
                    "new 'version' and publish it.", {"version": spec.version})
            return _answer(spec, created=False, job=None)
        scores_q.insert_spec(
            db, version=spec.version, form_id=spec.form_id,
            document=json.dumps(spec.document, ensure_ascii=False), sha256=spec.sha256,
            provenance=spec.provenance, published_by=actor)
        audit.record(db, actor, "scoring.publish", f"{spec.form_id}:{spec.version}",
                     {"sha256": spec.sha256})
        job = rescore.enqueue(db, spec.form_id, spec.version, actor) \
            if queue_rescoring else None
    return _answer(spec, created=True, job=job)


def scoring_list(db: Database, form_id: str | None = None) -> list[dict]:
    """Published specs (without their documents), oldest first."""
    return scores_q.list_specs(db, form_id)


def scoring_get(db: Database, version: str) -> dict:
    """A published spec with its document."""
    row = scores_q.get_spec(db, version)
    if row is None:
        raise scoring.ScoringError(
            "scoring_spec_unknown", f"No scoring spec '{version}' is published here; list "
            "them with GET /api/v1/scoring/specs.", {"version": version})
    return {**row, "document": json.loads(row["document"])}


def spec_by_version(db: Database | None, version: str) -> scoring.Spec:
    """A spec by version: published in the store, else an installed file (or a path)."""
    row = scores_q.get_spec(db, version) if db is not None else None
    if row is not None:
        return stored_spec(db, row["id"], row["sha256"])
    return scoring.load_spec(version)


def install_builtin_specs(db: Database) -> list[str]:
    """Store the installed spec each published form declares (rss-v1 for the RSS
    form) when the store holds no spec for that form yet; returns the versions.
    Run at `fieldsync serve` start, like publishing the built-in RSS form."""
    installed = []
    for form in forms_q.list_forms(db):
        if scores_q.spec_keys(db, form["form_id"]):
            continue
        model = model_for(db, form["form_id"], form["current_version"])
        try:
            spec = scoring.spec_for_form(model) if model is not None else None
        except scoring.ScoringError:
            continue  # the form's declared spec is not installed or does not fit
        if spec is None or spec.form_id not in (None, form["form_id"]):
            continue
        document = dict(spec.document, form_id=form["form_id"])
        answer = scoring_publish(db, document, actor="fieldsync")
        if answer["created"]:
            installed.append(answer["version"])
    return installed


def _parse(source: bytes | dict) -> scoring.Spec:
    if isinstance(source, dict):
        return scoring.parse_spec(source)
    try:
        text = source.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise scoring.ScoringError(
            "scoring_spec_invalid", "The scoring spec is not UTF-8 text; send the JSON "
            "document.") from None
    if not text.lstrip().startswith("{"):
        raise scoring.ScoringError(
            "scoring_spec_invalid", "The scoring spec must be a JSON object "
            "(format 'fieldsync-scoring-spec/1').",
            {"errors": [{"sheet": "spec", "row": 1, "name": None,
                         "message": "not a JSON object"}]})
    return scoring.load_spec(text)


def _current_model(db: Database, form_id: str):
    form = forms_q.get_form(db, form_id)
    if form is None:
        raise FieldsyncError(
            "form_unknown", f"The scoring spec is for form '{form_id}', which is not "
            "published here; publish the form first.", {"form_id": form_id})
    return model_for(db, form_id, form["current_version"])


def _answer(spec: scoring.Spec, *, created: bool, job: dict | None) -> dict:
    return {"version": spec.version, "form_id": spec.form_id, "sha256": spec.sha256,
            "created": created, "job": job}

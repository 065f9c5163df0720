"""The form registry: publish XLSForms as immutable versions, list, fetch, close.

The Python API behind `fieldsync forms publish` and `POST /api/v1/forms`. A
published (form_id, version) never changes: publishing the same content again
is a no-op that answers the same, and different content under a version that
exists is refused, so every record is checked and scored against exactly the
form it was filled with.

Every form pyxform converts publishes unless a tablet could not load it (an
unknown function, a wrong number of arguments: ``xlsform_expression_unsupported``).
The answer says which expressions the server checks (``expressions``) and, as
the one ``expression_not_checked`` finding, which it leaves to the tablet.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

from sqlite_utils import Database

import scoring
from forms.entities import read_declaration
from forms.expressions import (expression_report, expression_summary, not_checked_finding,
                               require_evaluable)
from forms.model import FormModel
from forms.xlsform import CompiledForm, convert_xlsform
from server.ingest import answers
from server.errors import FieldsyncError
from server.registry.models import model_for, published_form, spec_for
from server.ingest.pipeline import release_quarantine
from server.scores.specs import spec_by_version
from server.store import audit
from server.store import forms as forms_q

STATES = ("open", "closing", "closed")
MAX_FORM_BYTES = 16 * 1024 * 1024



def builtin_rss_path() -> Path:
    """The RSS XLSForm that ships with fieldsync."""
    return Path(str(resources.files("forms") / "builtin" / "rss.md"))


def forms_publish(db: Database, source: bytes, filename: str,
                  actor: str | None = None) -> dict:
    """Publish an XLSForm; returns ``{form_id, version, hash, created}``."""
    if len(source) > MAX_FORM_BYTES:
        raise FieldsyncError(
            "payload_too_large",
            f"The form file is {len(source)} bytes; the limit is {MAX_FORM_BYTES}.",
        )
    compiled = convert_xlsform(source, filename)
    _check(db, compiled)
    sha = hashlib.sha256(source).hexdigest()
    with db.atomic():
        existing = forms_q.get_version(db, compiled.form_id, compiled.version)
        if existing is not None:
            if existing["md5"] != compiled.md5 and existing["source_sha256"] != sha:
                raise FieldsyncError(
                    "form_version_conflict",
                    f"Form '{compiled.form_id}' version '{compiled.version}' is already "
                    "published with different content; published versions never change. "
                    "Raise the version in the settings sheet and publish again.",
                    {"form_id": compiled.form_id, "version": compiled.version},
                )
            return _answer(compiled, existing["md5"], False)
        forms_q.insert_version(
            db, form_id=compiled.form_id, version=compiled.version, title=compiled.title,
            xform=compiled.xform, md5=compiled.md5, model=compiled.model.to_json(),
            source=source, source_name=compiled.source_name, source_sha256=sha,
            published_by=actor,
        )
        audit.record(db, actor, "form.publish", f"{compiled.form_id}@{compiled.version}",
                     {"md5": compiled.md5, "source_name": compiled.source_name})
        answers.prepare(db, compiled.model)
        released = release_quarantine(db, compiled.form_id, compiled.version, compiled.model)
        if released:
            audit.record(db, actor, "quarantine.release",
                         f"{compiled.form_id}@{compiled.version}", {"count": released})
    return _answer(compiled, compiled.md5, True)


def publish_builtin_rss(db: Database) -> dict | None:
    """Publish the shipped RSS form unless the store already holds the form."""
    path = builtin_rss_path()
    if forms_q.get_form(db, "rss") is not None or not path.exists():
        return None
    return forms_publish(db, path.read_bytes(), path.name, actor="fieldsync")


def forms_list(db: Database) -> list[dict]:
    return [
        {**f, "versions": [v["version"] for v in forms_q.list_versions(db, f["form_id"])]}
        for f in forms_q.list_forms(db)
    ]


def form_get(db: Database, form_id: str) -> dict:
    form = published_form(db, form_id)
    versions = [
        {**v, "hash": f"md5:{v.pop('md5')}"} for v in forms_q.list_versions(db, form_id)
    ]
    return {**form, "versions": versions}


def version_get(db: Database, form_id: str, version: str) -> dict:
    row = forms_q.get_version(db, form_id, version)
    if row is None:
        form_get(db, form_id)  # a clearer error when the form itself is unknown
        raise FieldsyncError(
            "form_version_unknown",
            f"Form '{form_id}' has no version '{version}'; publish it first or use one "
            "of the versions GET /api/v1/forms/{form_id} lists.",
            {"form_id": form_id, "version": version},
        )
    return row


def model_get(db: Database, form_id: str, version: str) -> FormModel:
    """The compiled model of a version, or the fitting not-found error."""
    model = model_for(db, form_id, version)
    if model is None:
        version_get(db, form_id, version)  # raises form_unknown / form_version_unknown
    return model


def form_set_state(db: Database, form_id: str, state: str, actor: str | None = None) -> dict:
    if state not in STATES:
        raise FieldsyncError(
            "form_state_invalid", f"Unknown state '{state}'; use one of: {', '.join(STATES)}."
        )
    with db.atomic():
        form_get(db, form_id)
        forms_q.set_state(db, form_id, state)
        audit.record(db, actor, "form.state", form_id, {"state": state})
    return form_get(db, form_id)


def _check(db: Database, compiled: CompiledForm) -> None:
    """Refuse a form whose expressions or scoring spec cannot work, before storing it.

    Errors name the field and attribute (expressions) or the spec's sheet and row.
    """
    require_evaluable(compiled.model)
    read_declaration(compiled.xform)  # an entity declaration this server can honour
    declared = scoring.declared_spec_version(compiled.model)
    if declared:
        # The spec the form names must exist (stored or installed) and fit it.
        scoring.check_spec(spec_by_version(db, declared), compiled.model)
    spec_for(db, compiled.model)  # the spec it will be scored with; raises ScoringError


def _answer(compiled: CompiledForm, md5: str, created: bool) -> dict:
    finding = not_checked_finding(compiled.model)
    return {"form_id": compiled.form_id, "version": compiled.version, "hash": f"md5:{md5}",
            "created": created,
            "expressions": expression_summary(expression_report(compiled.model)),
            "findings": [finding] if finding else []}

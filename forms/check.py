"""``fieldsync forms check FILE [SUBMISSION ...]`` as a function.

``check_files(form, submissions)`` loads the form (an XLSForm, or an XForm
``.xml``), refuses it with ``FormsError`` if any expression cannot work, then
yields one JSON-ready finding per problem in each submission::

    {"file": "a.xml", "path": "members[2]/age", "code": "type_invalid",
     "severity": "error", "message": "..."}

Submissions are XForm instances (``.xml``) or JSON records (``.json``: a record
envelope with ``data``, or a bare data dict). A file that cannot be read yields
one ``submission_unreadable`` finding; one made for another form or version
yields ``form_mismatch`` / ``form_version_mismatch`` warnings and is still checked.

When the server leaves some of the form's expressions to the tablet, the first
finding is the form's one ``expression_not_checked`` (``path`` empty, the
expressions listed); ``form_report`` lists every expression and whether it is
checked. The media files the form reads (``pulldata``, ``instance()``) are
looked for in ``media_dir``, by default the form's own folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo
from pathlib import Path

from forms.errors import FormsError
from forms.expressions import (expression_report, form_expressions, not_checked_finding,
                               require_evaluable)
from forms.instance import instance_to_record
from forms.media import FormMedia, media_file_name
from forms.model import FormModel, compile_xform
from forms.validate import validate_record
from forms.xlsform import convert_xlsform

__all__ = ["check_files", "form_report", "load_form", "load_media", "read_submission"]


def check_files(form_path, submission_paths: Iterable = (), *,
                now: datetime | None = None, tz: tzinfo | None = None,
                media_dir=None) -> Iterator[dict]:
    """Check a form, then each submission against it; yields finding dicts.

    ``tz`` is the time zone dates without a time are in (UTC when None)."""
    model = load_form(form_path)
    media, available = load_media(model, media_dir or Path(form_path).parent)
    finding = not_checked_finding(model, available)
    if finding is not None:
        yield {"file": str(form_path), **finding}
    for path in submission_paths:
        yield from _check_one(model, path, now, media, tz)


def form_report(form_path, media_dir=None) -> list[dict]:
    """Every expression of the form and whether the server checks it
    (``forms.expressions.expression_report``), its media looked for in ``media_dir``."""
    model = load_form(form_path)
    _, available = load_media(model, media_dir or Path(form_path).parent)
    return expression_report(model, available)


def load_media(model: FormModel, folder) -> tuple[FormMedia | None, frozenset]:
    """The media files the form reads, from ``folder``; and which instances they provide."""
    wanted = form_expressions(model).media_instances()
    if not wanted:
        return None, frozenset()
    files = {}
    for name in wanted:
        file_name = media_file_name(model.external.get(name), name)
        try:
            files[file_name] = (Path(folder) / file_name).read_bytes()
        except OSError:
            continue
    media = FormMedia(files)
    return media, media.available(wanted, model.external)


def load_form(form_path) -> FormModel:
    """The form's model; ``FormsError`` if it cannot be read or has expression errors."""
    path = Path(form_path)
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise FormsError("xlsform_unreadable",
                         f"The form file '{path}' could not be read ({exc.strerror}).") from None
    if path.suffix.lower() == ".xml":
        model = _compile_xform(source, path)
    else:
        model = convert_xlsform(source, path.name).model
    require_evaluable(model)
    return model


def _compile_xform(source: bytes, path: Path) -> FormModel:
    try:
        return compile_xform(source)
    except FormsError:
        raise
    except (AttributeError, StopIteration, TypeError, ValueError):
        raise FormsError(
            "xlsform_invalid",
            f"'{path.name}' is not an XForm (no model with a primary instance).",
        ) from None


def read_submission(path, model: FormModel | None = None) -> dict:
    """A submission file as a record ``{"form_id", "form_version", "data", ...}``."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix.lower() == ".xml":
        record = instance_to_record(raw, model)
        record["data"].pop("meta", None)
        return record
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormsError("submission_invalid", f"The file is not valid JSON ({exc}).") from None
    if isinstance(parsed, dict) and isinstance(parsed.get("data"), dict):
        return parsed
    if isinstance(parsed, dict):
        return {"form_id": None, "form_version": None, "data": parsed}
    raise FormsError("submission_invalid",
                     "A JSON submission must be a record with 'data' or an object of answers.")


def _check_one(model: FormModel, path, now, media=None, tz=None) -> Iterator[dict]:
    name = str(path)
    try:
        record = read_submission(path, model)
    except (FormsError, OSError) as exc:
        message = exc.message if isinstance(exc, FormsError) else str(exc)
        yield _finding(name, "", "submission_unreadable", "error",
                       f"The submission could not be read: {message}")
        return
    form_id, version = record.get("form_id"), record.get("form_version")
    if form_id and form_id != model.form_id:
        yield _finding(name, "", "form_mismatch", "warning",
                       f"The submission is for form '{form_id}', not '{model.form_id}'.")
    elif version and str(version) != model.version:
        yield _finding(name, "", "form_version_mismatch", "warning",
                       f"The submission is for version '{version}', not '{model.version}'.")
    for finding in validate_record(model, record["data"], now=now, media=media, tz=tz):
        yield {"file": name, **finding.to_dict()}


def _finding(name, path, code, severity, message) -> dict:
    return {"file": name, "path": path, "code": code, "message": message, "severity": severity}

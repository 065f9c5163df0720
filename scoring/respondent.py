"""The respondent key a form declares for duplicate detection.

A form declares it as a calculate named ``respondent_key`` whose expression
concatenates fields with ``'|'`` (the RSS: ``concat(${case_id}, '|',
${survey_round})``). ODK Collect computes it on the device, so it arrives in the
submission and lands in the flat answers table as a column the server can look up;
for inputs that lack it (JSON clients, CSV files) :func:`respondent_key` computes
the same string from the fields the expression references.

Two records name the same person when their key parts are equal once
normalised (:func:`normalise_key_part`): duplicate detection, entity lists and
trends all compare keys that way.
"""

from __future__ import annotations

import re
import unicodedata

from forms.model import FormModel
from forms.record import answer_at

KEY_FIELD = "respondent_key"
_REF_RE = re.compile(r"/[A-Za-z_][\w.\-]*(?:/[A-Za-z_][\w.\-]*)+")
_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")


def respondent_key_fields(model: FormModel) -> list[str]:
    """Paths of the fields that make up the form's respondent key ([] if none declared)."""
    fld = model.resolve(KEY_FIELD)
    if fld is None or not fld.calculate:
        return []
    prefix = f"/{model.root}/"
    paths = [ref[len(prefix):] for ref in _REF_RE.findall(fld.calculate)
             if ref.startswith(prefix)]
    return [p for p in paths if p in model.fields]


def respondent_key(model: FormModel, data: dict) -> str | None:
    """The record's respondent key, or ``None`` if the form declares none or a part is empty."""
    given = _lookup(data, KEY_FIELD, KEY_FIELD)
    if given:
        return given
    paths = respondent_key_fields(model)
    if not paths:
        return None
    parts = [_lookup(data, p, model.fields[p].name) for p in paths]
    return "|".join(parts) if all(parts) else None


def normalise_key_part(value) -> str:
    """Upper case, accents and everything but letters and digits removed
    (``" gin-2024/00017 "`` and ``"GIN 2024 00017"`` are the same person)."""
    text = str(value)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    return _NOT_ALNUM.sub("", text.upper())


def _lookup(data: dict, path: str, name: str) -> str | None:
    """The answer at ``path`` (or keyed flat by path or name) as stripped text."""
    node = answer_at(data, path, name)
    if node is None or isinstance(node, list):
        return None
    return str(node).strip() or None

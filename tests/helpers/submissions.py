"""Plausible submissions for any form model, as a tablet would fill them.

``sample_data(model, rng)`` answers every question by its bind type (a choice
from its list for a select, a valid geoshape for a geoshape, ...), fills two
instances of each repeat and leaves calculates to the server, so a corpus of
forms can be put through validation and ingest without writing a record by
hand for each. The values are valid for their types; whether they meet each
form's constraints is the validator's business.
"""

from __future__ import annotations

import random

from forms.model import Field, FormModel

VALUES = {
    "int": lambda rng: str(rng.randint(1, 9)),
    "decimal": lambda rng: f"{rng.uniform(1, 9):.2f}",
    "date": lambda rng: f"2024-05-{rng.randint(1, 28):02d}",
    "dateTime": lambda rng: f"2024-05-{rng.randint(1, 28):02d}T09:{rng.randint(0, 59):02d}"
                            ":00.000+02:00",
    "time": lambda rng: f"{rng.randint(0, 23):02d}:30:00.000+02:00",
    "geopoint": lambda rng: f"{rng.uniform(9, 10):.5f} {rng.uniform(-14, -13):.5f} 12 5",
    "geotrace": lambda rng: "9.5 -13.7 0 5;9.51 -13.71 0 5;9.52 -13.7 0 5",
    "geoshape": lambda rng: "9.5 -13.7 0 5;9.5 -13.69 0 5;9.51 -13.69 0 5;9.5 -13.7 0 5",
    "binary": lambda rng: "photo.jpg",
    "boolean": lambda rng: "true",
}


def sample_data(model: FormModel, rng: random.Random | None = None) -> dict:
    """A nested data dict answering every question of ``model``."""
    rng = rng or random.Random(1)
    children: dict[str, list[Field]] = {}
    for f in model.fields.values():
        children.setdefault(f.parent or "", []).append(f)
    return _fill(model, children, "", rng)


def _fill(model: FormModel, children, path: str, rng) -> dict:
    out: dict = {}
    for f in children.get(path, []):
        if f.kind == "repeat":
            out[f.name] = [_fill(model, children, f.path, rng) for _ in range(2)]
        elif f.kind in ("group", "meta") and f.path in children:
            inner = _fill(model, children, f.path, rng)
            if inner:
                out[f.name] = inner
        elif f.kind == "question":
            value = _answer(model, f, rng)
            if value is not None:
                out[f.name] = value
    return out


def _answer(model: FormModel, f: Field, rng) -> str | None:
    names = [c.name for c in model.choices.get(f.list_name or "", [])]
    if f.control in ("select1", "select") and names:
        if f.control == "select":
            return " ".join(rng.sample(names, min(2, len(names))))
        return rng.choice(names)
    if f.control in ("select1", "select", "trigger"):
        return None  # a list from a media file, or an acknowledgement: left empty
    maker = VALUES.get(f.type)
    if maker is not None:
        return maker(rng)
    return f"text {rng.randint(1, 99)}"

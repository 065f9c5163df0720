"""Bring a record's data into the instance's shape: ``normalize_data(model, data)``.

Devices send answers either nested like the instance (groups as objects,
repeats as lists of objects, string leaves) or flat (``g/x`` keys, bare names,
JSON numbers, lists for a select_multiple). Validation, scoring and storage all
read the nested shape, so ingest normalizes every record once.

Most records already arrive nested with string leaves, and the general merge
(resolving every key, rebuilding every container) is then wasted work. So a
first pass walks the data against per-container tables of the names the form
declares there and, when every key is a declared child in its expected shape,
returns a copy of the containers (leaves shared, as the merge shares them);
anything else (a flat or bare key, an unknown key, a number, a list for a
select, a lone object for a repeat) falls back to the merge. Both give the same
result: fresh dicts and lists in the order of the data's keys.
"""

from __future__ import annotations

from forms.expressions import FormExpressions, form_expressions
from forms.model import FormModel
from forms.xpath.values import format_number

__all__ = ["normalize_data"]


def normalize_data(model: FormModel, data: dict) -> dict:
    """Nest a flat (``g/x``) or bare-name keyed dict into the instance's shape.

    Keys that fit nowhere stay as they are (validation reports them); numbers
    become strings and a list of values for a select_multiple becomes one
    space-separated string.
    """
    fx = form_expressions(model)
    if type(data) is dict:
        tables = fx.derived.get("nest")
        if tables is None:
            tables = fx.derived["nest"] = _nest_tables(fx)
        copied = _nested_copy(tables, "", data)
        if copied is not None:
            return copied
    out: dict = {}
    _merge(fx, "", data, out)
    return out


def _nest_tables(fx: FormExpressions) -> dict[str, dict[str, tuple]]:
    """{container path: {child name: (takes a string, dict prefix, repeat prefix)}}.

    A leaf (anything but a group or repeat, meta included) keeps a string as is;
    a group or meta merges an object under its path; a repeat merges each object
    of a list under its path. These are exactly the cases ``_shape`` passes
    through unchanged apart from copying containers.
    """
    tables: dict[str, dict[str, tuple]] = {}
    for f in fx.model.fields.values():
        parent = f.parent or ""
        if f.path != (f"{parent}/{f.name}" if parent else f.name):
            continue  # not where resolve_key would put the name: leave it to the merge
        tables.setdefault(parent, {})[f.name] = (
            not f.is_container,
            f.path if f.kind in ("group", "meta") else None,
            f.path if f.kind == "repeat" else None,
        )
    return tables


def _nested_copy(tables: dict, prefix: str, src: dict) -> dict | None:
    """A copy of already nested data, or None when it needs the general merge."""
    kids = tables.get(prefix)
    if kids is None:
        return {} if not src else None
    out = {}
    for key, value in src.items():
        entry = kids.get(key)
        if entry is None:
            return None
        kind = type(value)
        if kind is str:
            if not entry[0]:
                return None
            out[key] = value
        elif kind is dict:
            if entry[1] is None:
                return None
            inner = _nested_copy(tables, entry[1], value)
            if inner is None:
                return None
            out[key] = inner
        elif kind is list:
            if entry[2] is None:
                return None
            items = []
            for item in value:
                if type(item) is not dict:
                    return None
                inner = _nested_copy(tables, entry[2], item)
                if inner is None:
                    return None
                items.append(inner)
            out[key] = items
        else:
            return None
    return out


def _merge(fx: FormExpressions, prefix: str, src: dict, out: dict) -> None:
    fields = fx.model.fields
    for key, value in src.items():
        path = fx.resolve_key(prefix, key) if isinstance(key, str) else None
        if path is None:
            out.setdefault(key, value)
            continue
        target = out
        rel = path[len(prefix) + 1:] if prefix else path
        parts = rel.split("/")
        for part in parts[:-1]:
            nxt = target.setdefault(part, {})
            if not isinstance(nxt, dict):
                break
            target = nxt
        else:
            f = fields[path]
            target[parts[-1]] = _shape(fx, f, value, target.get(parts[-1]))
            continue
        out.setdefault(key, value)


def _shape(fx: FormExpressions, f, value, existing):
    if type(value) is str and not f.is_container:
        return value
    if f.kind == "repeat":
        items = [value] if isinstance(value, dict) else value
        if not isinstance(items, list):
            return value
        shaped = []
        for item in items:
            if isinstance(item, dict):
                inner: dict = {}
                _merge(fx, f.path, item, inner)
                shaped.append(inner)
            else:
                shaped.append(item)
        return shaped
    if f.kind in ("group", "meta") and isinstance(value, dict):
        inner = existing if isinstance(existing, dict) else {}
        _merge(fx, f.path, value, inner)
        return inner
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)  # exact, whatever its size (a float would round or overflow)
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, list) and f.control == "select" and all(isinstance(v, str) for v in value):
        return " ".join(value)
    return value

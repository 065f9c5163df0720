"""A form version's data files as secondary instances: ``FormMedia(files)``.

The XForm names each file it reads, ``<instance id="villages"
src="jr://file-csv/villages.csv"/>``, and ``pulldata('villages', ...)`` or
``instance('villages')/root/item[...]`` read it. ``FormMedia`` turns the
uploaded bytes into documents shaped as a tablet sees them:

- CSV (UTF-8, a header row of column names): ``root/item`` per row, one child
  per column;
- XML: the file's own elements (repeated names side by side);
- GeoJSON: ``root/item`` per feature, its properties as children, ``id`` and
  ``geometry`` as ODK writes them ("lat lon 0 0", points joined by ';').

A file is parsed once, on first use, and kept with its lookup indexes as long
as this object; a file that cannot be read counts as missing (expressions
reading it stay unchecked). ``pulldata('x', ...)`` of an instance the form does
not declare reads ``x.csv``, as ODK Collect did before forms declared it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

from forms.errors import FormsError
from forms.xmlsafe import parse_xml
from forms.xpath import Schema, document
from forms.xpath.secondary import SecondaryInstance

__all__ = ["FormMedia", "media_file_name"]

_RANK = 1000  # document order after the record and the choice lists
MAX_ITEMS = 500_000


def media_file_name(src: str | None, instance_id: str) -> str:
    """The file an instance reads: ``jr://file-csv/a.csv`` -> ``a.csv``."""
    if src:
        return PurePosixPath(src.split("://", 1)[-1]).name
    return f"{instance_id}.csv"


class FormMedia:
    """The media files of one form version, by file name."""

    def __init__(self, files: Mapping[str, bytes]):
        self.files = dict(files)
        self._parsed: dict[str, SecondaryInstance | None] = {}

    def instance(self, instance_id: str, src: str | None) -> SecondaryInstance | None:
        name = media_file_name(src, instance_id)
        if name not in self._parsed:
            raw = self.files.get(name)
            self._parsed[name] = None if raw is None else _read(instance_id, name, raw,
                                                                 len(self._parsed))
        return self._parsed[name]

    def available(self, instances: Iterable[str], external: Mapping[str, str]) -> frozenset:
        """Which of ``instances`` these files provide (``external``: id -> src)."""
        return frozenset(i for i in instances if self.instance(i, external.get(i)) is not None)


def _read(instance_id: str, name: str, raw: bytes, rank: int) -> SecondaryInstance | None:
    suffix = PurePosixPath(name).suffix.lower()
    try:
        if suffix == ".csv":
            root, data = "root", {"item": _csv_items(raw)}
        elif suffix in (".geojson", ".json"):
            root, data = "root", {"item": _geojson_items(raw)}
        elif suffix == ".xml":
            root, data = _xml_tree(raw)
        else:
            return None
    except (ValueError, UnicodeDecodeError, csv.Error, FormsError):
        return None
    return SecondaryInstance(instance_id, document(root, data, Schema({}, _RANK + rank)))


def _csv_items(raw: bytes) -> list[dict]:
    rows = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    header = [h.strip() for h in next(rows, [])]
    items = []
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        items.append({col: (row[i] if i < len(row) else "") for i, col in enumerate(header)
                      if col})
        if len(items) > MAX_ITEMS:
            raise ValueError("too many rows")
    return items


def _xml_tree(raw: bytes) -> tuple[str, dict]:
    root = parse_xml(raw)
    return _local(root.tag), _element(root)


def _element(el):
    kids = [k for k in el if isinstance(k.tag, str)]
    if not kids:
        return (el.text or "").strip()
    out: dict = {}
    for kid in kids:
        name = _local(kid.tag)
        value = _element(kid)
        if name in out:
            held = out[name]
            out[name] = (held if type(held) is list else [held]) + [value]
        else:
            out[name] = value
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _geojson_items(raw: bytes) -> list[dict]:
    parsed = json.loads(raw.decode("utf-8-sig"))
    items = []
    for feature in parsed.get("features", []) if isinstance(parsed, dict) else []:
        if not isinstance(feature, dict):
            continue
        item = {k: _text(v) for k, v in (feature.get("properties") or {}).items()}
        if feature.get("id") is not None:
            item.setdefault("id", _text(feature["id"]))
        item["geometry"] = _geometry(feature.get("geometry") or {})
        items.append(item)
    return items


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _geometry(geometry: dict) -> str:
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Point":
        points = [coords]
    elif kind == "LineString":
        points = coords
    elif kind == "Polygon":
        points = coords[0] if coords else []
    else:
        return ""
    return ";".join(f"{p[1]} {p[0]} {p[2] if len(p) > 2 else 0} 0" for p in points or [])

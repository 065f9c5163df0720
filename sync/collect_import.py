"""Reading an ODK Collect ``instances`` folder copied off a tablet.

Collect keeps one subfolder per record: ``<form>_<date>/<form>_<date>.xml`` and
the media files the record refers to. ``read_collect_folder`` walks such a
folder (or a single record's folder) and yields, per record folder, either a
``CollectItem`` (the record built by ``forms.instance`` and the media paths) or
a ``CollectProblem`` saying what is wrong with that folder, so one bad folder
never stops the import of the others. Nothing here writes anywhere.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from forms.errors import FormsError
from forms.instance import instance_to_record, parse_instance
from sync.errors import SyncError
from sync.protocol import INSTANCE_ID_RE

__all__ = ["CollectItem", "CollectProblem", "read_collect_folder", "read_record_folder",
           "record_folders"]

MAX_XML_BYTES = 16 * 1024 * 1024


@dataclass
class CollectItem:
    folder: Path
    record: dict
    media: list[Path] = field(default_factory=list)


@dataclass
class CollectProblem:
    path: Path
    message: str


ModelLookup = Callable[[str, str], "FormModel | None"]


def record_folders(folder: Path) -> list[Path]:
    """The record folders under ``folder`` (itself, if it holds an instance XML)."""
    folder = Path(folder)
    if not folder.exists():
        raise SyncError("collect_folder_invalid", f"'{folder}' does not exist: give the "
                        "path of the Collect 'instances' folder copied off the tablet.")
    if not folder.is_dir():
        raise SyncError("collect_folder_invalid", f"'{folder}' is a file, not a folder: give "
                        "the Collect 'instances' folder (one subfolder per record).")
    if _xml_files(folder):
        return [folder]
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subfolders:
        raise SyncError("collect_folder_invalid", f"'{folder}' holds no record folders and no "
                        "instance XML: give the Collect 'instances' folder.")
    return subfolders


def read_collect_folder(folder: Path, model_for: ModelLookup | None = None
                        ) -> Iterator[CollectItem | CollectProblem]:
    """Yield one item or problem per record folder under ``folder``."""
    for sub in record_folders(folder):
        try:
            yield read_record_folder(sub, model_for)
        except SyncError as exc:
            yield CollectProblem(sub, exc.message)


def read_record_folder(folder: Path, model_for: ModelLookup | None = None) -> CollectItem:
    """One record folder -> CollectItem, or raise SyncError saying what is wrong."""
    xml_path = _instance_xml(folder)
    raw = xml_path.read_bytes()
    if len(raw) > MAX_XML_BYTES:
        raise _bad(xml_path, f"larger than {MAX_XML_BYTES} bytes")
    try:
        root = parse_instance(raw)
    except FormsError as exc:
        raise _bad(xml_path, exc.message.rstrip(".")) from None
    form_id, version = root.get("id"), root.get("version")
    if not form_id:
        raise _bad(xml_path, "the root element has no 'id' attribute naming the form")
    model = model_for(form_id, version or "") if model_for else None
    converted = instance_to_record(root, model)
    instance_id = converted["instance_id"] or _derived_id(raw)
    for key, value in (("instanceID", instance_id), ("deprecatedID",
                                                     converted["deprecated_id"])):
        if value is not None and not INSTANCE_ID_RE.match(value):
            raise _bad(xml_path, f"meta/{key} '{value[:80]}' is not 'uuid:...'")
    media = sorted(p for p in folder.iterdir()
                   if p.is_file() and p != xml_path and not p.name.startswith("."))
    record = {
        "instance_id": instance_id,
        "form_id": form_id,
        "form_version": version or "",
        "deprecated_id": converted["deprecated_id"],
        "data": converted["data"],
        "attachments": [],
    }
    if converted.get("instance_name"):
        record["instance_name"] = converted["instance_name"]
    if converted.get("entity"):
        record["entity"] = converted["entity"]
    return CollectItem(folder=folder, record=record, media=media)


def _xml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() == ".xml" and not p.name.startswith("."))


def _instance_xml(folder: Path) -> Path:
    xmls = _xml_files(folder)
    if not xmls:
        raise SyncError("collect_folder_invalid", "no instance XML in this record folder")
    named = [p for p in xmls if p.stem == folder.name]
    if named:
        return named[0]
    if len(xmls) > 1:
        raise SyncError("collect_folder_invalid",
                        f"{len(xmls)} XML files and none named after the folder; "
                        "keep only the instance XML")
    return xmls[0]


def _bad(path: Path, what: str) -> SyncError:
    return SyncError("collect_folder_invalid", f"{path.name}: {what}")


def _derived_id(xml: bytes) -> str:
    """A stable id for an instance without meta/instanceID (as the OpenRosa door does)."""
    return f"uuid:{uuid.UUID(bytes=hashlib.sha256(xml).digest()[:16])}"

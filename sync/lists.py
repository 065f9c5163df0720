"""Entity lists on the device: pulled with the forms, read while filling.

``pull_lists`` reads the OpenRosa manifest of each form's newest version and
downloads every entity list (``type="entityList"``) whose hash differs from the
one cached: the server sends the part of the list assigned to the device's user.

``ListForm`` prepares a cached form that reads lists for ``fill``: the list's
entities become the choices of the question that picks one (and the rows
``instance('returnees')`` reads), the form's ``setvalue`` actions prefill
answers when the pick changes, and the finalized record gets the entity block
the form computes (create or update, the entity's id, the version the device
saw as ``baseVersion``, the label), as ODK Collect sends it.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from forms.entities import computed_block, evaluate_text, read_declaration, setvalues
from forms.errors import FormsError
from forms.model import Choice, FormModel
from forms.xmlsafe import parse_xml
from sync.client import Client, RetryPolicy
from sync.device_store import DeviceStore

__all__ = ["ListForm", "entity_lists_in", "pull_lists"]

MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"
SYSTEM_COLUMNS = ("name", "label")


def entity_lists_in(manifest_xml: str | bytes) -> list[dict]:
    """The entity lists a manifest names: ``[{"name", "hash", "url"}]``."""
    root = parse_xml(manifest_xml)
    out = []
    for media in root.iter(f"{{{MANIFEST_NS}}}mediaFile"):
        if media.get("type") != "entityList":
            continue
        filename = media.findtext(f"{{{MANIFEST_NS}}}filename") or ""
        out.append({"name": filename.rsplit(".", 1)[0],
                    "hash": media.findtext(f"{{{MANIFEST_NS}}}hash") or "",
                    "url": media.findtext(f"{{{MANIFEST_NS}}}downloadUrl") or ""})
    return out


def pull_lists(session, base_url: str, token: str, store: DeviceStore,
               versions: list[dict], *, sleep: Callable = time.sleep) -> dict:
    """Refresh the cached entity lists the listed forms read; returns
    ``{"lists": names downloaded, "problems": [...]}``."""
    client = Client(session, base_url, token, policy=RetryPolicy(attempts=5, sleep=sleep))
    newest = {v["form_id"]: v["version"] for v in versions}
    seen, fetched, problems = set(), [], []
    for form_id, version in newest.items():
        try:
            listed = entity_lists_in(client.get_text(
                f"/forms/{form_id}/versions/{version}/manifest"))
        except FormsError as exc:
            problems.append({"form": f"{form_id}@{version}",
                             "error": f"the manifest could not be read: {exc.message}"})
            continue
        for item in listed:
            if item["name"] in seen:
                continue
            seen.add(item["name"])
            if store.list_hash(item["name"]) == item["hash"]:
                continue
            path = urlsplit(item["url"]).path or f"/forms/{form_id}/versions/{version}/media/" \
                f"{item['name']}.csv"
            store.cache_list(item["name"], item["hash"], client.get_text(path))
            fetched.append(item["name"])
    return {"lists": fetched, "problems": problems}


class ListForm:
    """A form version on the device, with the entity lists it reads put in place."""

    def __init__(self, model: FormModel, xform: str, store: DeviceStore):
        self.model = model
        self.declaration = read_declaration(xform)
        self.actions = setvalues(xform)
        self.external: set[str] = set()
        for name in _external_lists(xform):
            self.external.add(name)
            text = store.list_csv(name)
            model.choices[name] = _choices(text) if text else []

    def is_empty_pick(self, list_name: str | None) -> bool:
        """A question picking from a list that holds nothing for this device."""
        return list_name in self.external and not self.model.choices.get(list_name)

    def first_load(self, data: dict, now: datetime) -> None:
        """The values a form sets when a new record opens (a new entity's id)."""
        for action in self.actions:
            if action.event == "odk-instance-first-load" and action.target in self.model.fields:
                _put(data, action.target, evaluate_text(self.model, data, action.value, now))

    def changed(self, path: str, data: dict, now: datetime) -> list[str]:
        """Apply the actions an answer to ``path`` fires; returns the paths set."""
        done = []
        for action in self.actions:
            if action.trigger == path and action.target in self.model.fields:
                _put(data, action.target, evaluate_text(self.model, data, action.value, now))
                done.append(action.target)
        return done

    def entity_block(self, data: dict, now: datetime) -> dict | None:
        """The entity block to send with the record, or None (no create, no update)."""
        if self.declaration is None:
            return None
        block = computed_block(self.declaration, self.model, data, now)
        if block.get("create", "").lower() not in ("1", "true") and \
                block.get("update", "").lower() not in ("1", "true"):
            return None
        return block


def _external_lists(xform: str) -> list[str]:
    """Names of the secondary instances the form reads from CSV files."""
    doc = parse_xml(xform)
    out = []
    for inst in doc.iter("{http://www.w3.org/2002/xforms}instance"):
        src = inst.get("src") or ""
        if inst.get("id") and src.startswith("jr://file-csv/"):
            out.append(inst.get("id"))
    return out


def _choices(text: str) -> list[Choice]:
    rows = csv.DictReader(io.StringIO(text))
    return [Choice(name=row.get("name") or "", labels={"default": row.get("label") or ""},
                   extra={k: v or "" for k, v in row.items()
                          if k not in SYSTEM_COLUMNS and k is not None})
            for row in rows]


def _put(data: dict, path: str, value: str) -> None:
    parts = path.split("/")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return
    if value == "":
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value

"""The OpenRosa documents fieldsync serves: form list, manifest, response envelope.

Pure functions from plain dicts to UTF-8 bytes; lxml does the escaping.
"""

from __future__ import annotations

import re

from lxml import etree

XFORMS_LIST = "http://openrosa.org/xforms/xformsList"
MANIFEST = "http://openrosa.org/xforms/xformsManifest"
RESPONSE = "http://openrosa.org/http/response"


def form_list(entries: list[dict], verbose: bool = False) -> bytes:
    """entries: {form_id, name, version, hash, download_url, manifest_url?, description?}."""
    root = etree.Element(f"{{{XFORMS_LIST}}}xforms", nsmap={None: XFORMS_LIST})
    for entry in entries:
        xform = _sub(root, XFORMS_LIST, "xform")
        _sub(xform, XFORMS_LIST, "formID", entry["form_id"])
        _sub(xform, XFORMS_LIST, "name", entry["name"])
        _sub(xform, XFORMS_LIST, "version", entry["version"])
        _sub(xform, XFORMS_LIST, "hash", entry["hash"])
        if verbose and entry.get("description"):
            _sub(xform, XFORMS_LIST, "descriptionText", entry["description"])
        _sub(xform, XFORMS_LIST, "downloadUrl", entry["download_url"])
        if entry.get("manifest_url"):
            _sub(xform, XFORMS_LIST, "manifestUrl", entry["manifest_url"])
    return _bytes(root)


def manifest(files: list[dict]) -> bytes:
    """files: {name, md5, download_url, entity_list?}. An entity list's entry says
    so (``type="entityList"``), as ODK Central's do, so Collect keeps it as one."""
    root = etree.Element(f"{{{MANIFEST}}}manifest", nsmap={None: MANIFEST})
    for item in files:
        media = _sub(root, MANIFEST, "mediaFile")
        if item.get("entity_list"):
            media.set("type", "entityList")
        _sub(media, MANIFEST, "filename", item["name"])
        _sub(media, MANIFEST, "hash", f"md5:{item['md5']}")
        _sub(media, MANIFEST, "downloadUrl", item["download_url"])
    return _bytes(root)


def response(message: str, nature: str = "submit_success", extra: dict | None = None) -> bytes:
    """An OpenRosaResponse envelope; Collect shows ``message`` to the enumerator."""
    root = etree.Element(f"{{{RESPONSE}}}OpenRosaResponse", nsmap={None: RESPONSE})
    el = _sub(root, RESPONSE, "message", message)
    el.set("nature", nature)
    for key, value in (extra or {}).items():
        _sub(root, RESPONSE, key, str(value))
    return _bytes(root)


def _sub(parent, ns: str, tag: str, text: str | None = None):
    el = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        el.text = xml_text(text)
    return el


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold (a NUL a client put in a
    URL, echoed in an error message) shown as ``\\xNN`` escapes instead."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                        else f"\\u{ord(m.group()):04x}", text)


def _bytes(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

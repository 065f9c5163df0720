"""XForm instance XML <-> submission record, through the form model.

One conversion for every reader of instances: the OpenRosa door, Collect
instance folders and ``forms check``. An instance

    <data id="rss" version="2026112901" xmlns:orx="http://openrosa.org/xforms">
      <case_id>GIN-1</case_id>
      <household><members><age>34</age></members><members><age>9</age></members></household>
      <orx:meta><orx:instanceID>uuid:1f0c...</orx:instanceID></orx:meta>
    </data>

becomes a record as docs/API.md ("Sync") shows it

    {"instance_id": "uuid:1f0c...", "form_id": "rss", "form_version": "2026112901",
     "deprecated_id": None, "instance_name": None,
     "data": {"case_id": "GIN-1", "household": {"members": [{"age": "34"}, {"age": "9"}]}}}

Groups become dicts, repeats lists of dicts in document order (a repeat with one
instance is still a list when the model says it repeats; without a model,
repeated sibling elements become a list), values stay the instance's text. The
meta block's instanceID, deprecatedID and instanceName move to the envelope,
whatever namespace prefix (orx or none) they carry; other meta children stay
in ``data["meta"]``, except the ``entity`` element of a form that creates or
updates entities: it becomes the envelope's ``entity`` block
(``forms.entities.entity_block``). ``record_to_instance`` goes back, in the
form's order.
Nothing here touches HTTP or a database.
"""

from __future__ import annotations

from lxml import etree

from forms.entities import block_to_element, entity_block
from forms.errors import FormsError
from forms.model import FormModel
from forms.xmlsafe import parse_xml

ORX = "http://openrosa.org/xforms"
JR = "http://openrosa.org/javarosa"
META_ENVELOPE = {
    "instanceID": "instance_id",
    "deprecatedID": "deprecated_id",
    "instanceName": "instance_name",
}

__all__ = ["instance_identity", "instance_to_record", "parse_instance", "record_to_instance"]


def parse_instance(xml: bytes | str) -> etree._Element:
    """The root element of an instance document, parsed without entities or DTDs."""
    return parse_xml(xml)


def instance_identity(root: etree._Element) -> tuple[str | None, str | None]:
    """(form_id, form_version) from the root element's ``id`` and ``version``."""
    return root.get("id"), root.get("version")


def instance_to_record(xml: bytes | str | etree._Element,
                       model: FormModel | None = None) -> dict:
    """Convert an instance (bytes, text or parsed root) into a record dict."""
    root = xml if isinstance(xml, etree._Element) else parse_instance(xml)
    if not isinstance(root.tag, str):
        raise FormsError("xml_invalid", "The instance has no root element.")
    form_id, version = instance_identity(root)
    envelope = {"instance_id": None, "deprecated_id": None, "instance_name": None,
                "entity": None}
    data: dict = {}
    for child in _elements(root):
        if _local(child.tag) == "meta":
            extra = _read_meta(child, envelope, model)
            if extra:
                data["meta"] = extra
            continue
        _add(data, child, "", model)
    return {
        "instance_id": envelope["instance_id"],
        "form_id": form_id,
        "form_version": version,
        "deprecated_id": envelope["deprecated_id"],
        "instance_name": envelope["instance_name"],
        "data": data,
        **({"entity": envelope["entity"]} if envelope["entity"] is not None else {}),
    }


def record_to_instance(record: dict, model: FormModel | None = None) -> bytes:
    """The instance XML of a record (UTF-8, with declaration), in the form's order."""
    root_name = model.root if model is not None else "data"
    root = etree.Element(root_name, nsmap={"jr": JR, "orx": ORX})
    root.set("id", str(record.get("form_id") or (model.form_id if model else root_name)))
    version = record.get("form_version") or (model.version if model else None)
    if version:
        root.set("version", str(version))
    data = _nest(dict(record.get("data") or {}), model)
    meta_extra = data.pop("meta", None)
    _write(root, data, "", model)
    meta = etree.SubElement(root, "meta")
    for tag, key in META_ENVELOPE.items():
        if record.get(key):
            etree.SubElement(meta, tag).text = str(record[key])
    if isinstance(meta_extra, dict):
        _write(meta, {k: v for k, v in meta_extra.items() if k not in META_ENVELOPE},
               "meta/", model)
    if isinstance(record.get("entity"), dict):
        block_to_element(meta, record["entity"])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# -- XML -> record ---------------------------------------------------------------

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _elements(el):
    return (c for c in el if isinstance(c.tag, str))


def _read_meta(meta, envelope: dict, model: FormModel | None) -> dict:
    extra: dict = {}
    for child in _elements(meta):
        name = _local(child.tag)
        if name in META_ENVELOPE:
            envelope[META_ENVELOPE[name]] = (child.text or "").strip() or None
        elif name == "entity":
            envelope["entity"] = entity_block(child)
        else:
            _add(extra, child, "meta/", model)
    return extra


def _add(target: dict, el, prefix: str, model: FormModel | None) -> None:
    name = _local(el.tag)
    path = f"{prefix}{name}"
    field = model.fields.get(path) if model is not None else None
    has_children = any(True for _ in _elements(el))
    if (field is not None and field.is_container) or has_children:
        value: dict | str = {}
        for child in _elements(el):
            _add(value, child, f"{path}/", model)
    else:
        value = el.text or ""
    if field is not None and field.kind == "repeat":
        existing = target.setdefault(name, [])
        if not isinstance(existing, list):  # an earlier element broke the model's shape
            existing = target[name] = [existing]
        existing.append(value)
    elif name in target:  # repeated siblings the model does not know as a repeat
        if not isinstance(target[name], list):
            target[name] = [target[name]]
        target[name].append(value)
    else:
        target[name] = value


# -- record -> XML ---------------------------------------------------------------

def _order(model: FormModel | None, prefix: str) -> dict[str, int]:
    if model is None:
        return {}
    parent = prefix.rstrip("/") or None
    names = [f.name for f in model.fields.values() if f.parent == parent]
    return {n: i for i, n in enumerate(names)}


def _write(parent_el, data: dict, prefix: str, model: FormModel | None) -> None:
    order = _order(model, prefix)
    keys = sorted(data, key=lambda k: (order.get(k, len(order)), 0))
    for key in keys:
        value = data[key]
        items = value if isinstance(value, list) and any(
            isinstance(v, dict) for v in value) else [value]
        for item in items:
            el = etree.SubElement(parent_el, key)
            if isinstance(item, dict):
                _write(el, item, f"{prefix}{key}/", model)
            elif isinstance(item, list):  # select_multiple given as a list
                el.text = " ".join(str(v) for v in item)
            elif item is not None:
                el.text = str(item).lower() if isinstance(item, bool) else str(item)


def _nest(data: dict, model: FormModel | None) -> dict:
    """Put keys given as paths ('g/f') or unique bare names under their groups."""
    out: dict = {}
    for key, value in data.items():
        path = key
        if "/" not in key and model is not None and key not in _order(model, ""):
            field = model.resolve(key)
            if field is not None and field.repeat is None:
                path = field.path
        parts = path.split("/")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        if isinstance(node, dict):
            node[parts[-1]] = value
        else:  # a path through a value that is not a group: keep the key as given
            out[key] = value
    return out

"""Entity declarations read from an XForm (the ODK XForms entities spec).

A form that creates or updates entities carries, in its primary instance,

    <meta><entity dataset="returnees" id="" create="1" update="1" baseVersion=""
                  trunkVersion="" branchId=""><label/></entity>...</meta>

with binds that compute the attributes and the label, and ``entities:saveto``
on the binds of the fields whose answers become the entity's properties. This
module reads that declaration (``read_declaration``), the ``entity`` block a
submitted instance carries (``entity_block``), and the ``setvalue`` actions a
form uses to prefill answers from a list (``setvalues``). It never touches a
database; the server applies what a submission says (server/entities).

The entity block of a record travels in the record's envelope, beside its
instanceID, as ``{"dataset", "id", "create", "update", "baseVersion",
"trunkVersion", "branchId", "label"}`` (all texts), never in ``data``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from datetime import datetime

from forms.errors import FormsError
from forms.expressions import form_expressions
from forms.model import FormModel
from forms.validate import as_text
from forms.xmlsafe import parse_xml
from forms.xpath import compile_xpath

XF = "http://www.w3.org/2002/xforms"
H = "http://www.w3.org/1999/xhtml"
ENTITIES = "http://www.opendatakit.org/xforms/entities"
# The newest entities spec version whose declarations this module reads. Forms
# declaring a newer one are refused at publish, as the spec asks of consumers.
SUPPORTED_VERSION = (2024, 1)
ATTRIBUTES = ("dataset", "id", "create", "update", "baseVersion", "trunkVersion", "branchId")
BLOCK_KEYS = (*ATTRIBUTES, "label")
TRUE_VALUES = frozenset({"1", "true"})
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")  # XML names without '.' or ':'
RESERVED_PROPERTIES = frozenset({"name", "label"})

__all__ = ["EntityDeclaration", "SetValue", "block_to_element", "computed_block",
           "entity_block", "evaluate_text", "is_true", "read_declaration", "setvalues"]


@dataclass(frozen=True)
class EntityDeclaration:
    """What a form version says about the one entity each submission may touch.

    ``properties`` maps each property name to the field path it is saved from;
    ``calculates`` maps an attribute (or ``label``) to the expression the form
    computes it with; ``values`` holds the attributes' fixed texts.
    """

    dataset: str
    spec_version: str
    properties: dict[str, str] = field(default_factory=dict)
    calculates: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)

    @property
    def may_create(self) -> bool:
        return "create" in self.calculates or is_true(self.values.get("create"))

    @property
    def may_update(self) -> bool:
        return "update" in self.calculates or is_true(self.values.get("update"))


@dataclass(frozen=True)
class SetValue:
    """A ``setvalue`` action: on ``event``, ``target`` (a field path) takes ``value``.

    ``trigger`` is the path of the question whose change fires an
    ``xforms-value-changed`` action (None for ``odk-instance-first-load``)."""

    event: str
    target: str
    value: str
    trigger: str | None = None


def is_true(text: str | None) -> bool:
    """The spec's reading of ``create``/``update``: "1" or "true", nothing else."""
    return (text or "").strip().lower() in TRUE_VALUES


def read_declaration(xform: str | bytes) -> EntityDeclaration | None:
    """The form's entity declaration, or None when it declares none.

    Raises ``FormsError("xlsform_invalid")`` for a declaration this server cannot
    honour: a newer spec version, or an ``entity`` element outside ``meta``.
    """
    doc = parse_xml(xform)
    model = doc.find(f"{{{H}}}head/{{{XF}}}model")
    if model is None:
        return None
    version = model.get(f"{{{ENTITIES}}}entities-version")
    root = _primary_root(model)
    if root is None:
        return None
    entity = root.find(f"{{{XF}}}meta/{{{XF}}}entity")
    if entity is None:
        if any(_local(el.tag) == "entity" for el in root.iter() if isinstance(el.tag, str)):
            raise FormsError("xlsform_invalid", "The form declares an entity inside a group "
                             "or repeat; fieldsync reads entity declarations in the meta "
                             "block only (entities spec 2024.1).")
        return None
    _check_version(version)
    dataset = entity.get("dataset") or ""
    if not NAME_RE.match(dataset) or dataset.startswith("__"):
        raise FormsError("xlsform_invalid", f"The entity list name '{dataset}' must be a "
                         "name of letters, digits, '_' and '-', not starting with '__'.")
    prefix = f"/{_local(root.tag)}/"
    calculates, properties = {}, {}
    for bind in model.findall(f"{{{XF}}}bind"):
        nodeset = (bind.get("nodeset") or "").strip()
        path = nodeset[len(prefix):] if nodeset.startswith(prefix) else nodeset.lstrip("/")
        prop = bind.get(f"{{{ENTITIES}}}saveto")
        if prop:
            properties[prop.strip()] = path
        if path.startswith("meta/entity/") and bind.get("calculate"):
            name = path[len("meta/entity/"):].lstrip("@")
            calculates[name] = bind.get("calculate")
    for action in setvalues(xform):
        if action.event == "odk-instance-first-load" and action.target == "meta/entity/@id":
            calculates.setdefault("id", action.value)
    bad = sorted(p for p in properties if p in RESERVED_PROPERTIES or p.startswith("__")
                 or not NAME_RE.match(p))
    if bad:
        raise FormsError("xlsform_invalid", f"Entity property names {', '.join(bad)} are "
                         "reserved or invalid: 'name', 'label' and names starting with '__' "
                         "belong to the list itself.")
    values = {a: entity.get(a) for a in ATTRIBUTES if entity.get(a)}
    return EntityDeclaration(dataset=dataset, spec_version=version or "", properties=properties,
                             calculates=calculates, values=values)


def setvalues(xform: str | bytes) -> list[SetValue]:
    """Every ``setvalue`` action of the form, in document order: those in the model
    (``odk-instance-first-load``) and those inside body controls (fired when that
    control's value changes)."""
    doc = parse_xml(xform)
    model = doc.find(f"{{{H}}}head/{{{XF}}}model")
    root = _primary_root(model) if model is not None else None
    if root is None:
        return []
    prefix = f"/{_local(root.tag)}/"

    def rel(ref: str | None) -> str:
        ref = (ref or "").strip()
        return ref[len(prefix):] if ref.startswith(prefix) else ref.lstrip("/")

    out = []
    for el in doc.iter(f"{{{XF}}}setvalue", "setvalue"):
        parent = el.getparent()
        in_model = parent is not None and _local(parent.tag) == "model"
        out.append(SetValue(event=el.get("event") or "", target=rel(el.get("ref")),
                            value=el.get("value") or "",
                            trigger=None if in_model else rel(parent.get("ref"))))
    return out


def entity_block(element) -> dict:
    """A submitted instance's ``meta/entity`` element as the record's entity block."""
    block = {a: (element.get(a) or "").strip() for a in ATTRIBUTES}
    label = next((c for c in element if isinstance(c.tag, str) and _local(c.tag) == "label"),
                 None)
    block["label"] = (label.text or "").strip() if label is not None else ""
    return block


def block_to_element(parent, block: dict):
    """Write an entity block back as ``<entity ...><label/></entity>`` under ``parent``."""
    from lxml import etree

    el = etree.SubElement(parent, "entity")
    for attr in ATTRIBUTES:
        if block.get(attr) is not None:
            el.set(attr, str(block[attr]))
    etree.SubElement(el, "label").text = str(block.get("label") or "")
    return el


def evaluate_text(model: FormModel, data: dict, text: str,
                  now: datetime | None = None) -> str:
    """An expression's value over a record, as the instance would hold it; ''
    when it cannot be evaluated. Lists the form reads through ``instance()``
    are the model's choice lists (a client puts its cached lists there)."""
    root, env = form_expressions(model).new_env(data, now)
    try:
        return as_text(compile_xpath(text).evaluate(root, env), "string")
    except FormsError:
        return ""


def computed_block(decl: EntityDeclaration, model: FormModel, data: dict,
                   now: datetime | None = None) -> dict:
    """The entity block a client sends with a finalized record: the declaration's
    fixed attributes and its calculated ones (id, create, update, baseVersion,
    label, ...) evaluated over the record."""
    block = {a: decl.values.get(a, "") for a in ATTRIBUTES}
    block["dataset"] = decl.dataset
    block["label"] = ""
    for name, text in decl.calculates.items():
        block[name] = evaluate_text(model, data, text, now)
    return block


def _primary_root(model):
    for inst in model.findall(f"{{{XF}}}instance"):
        if inst.get("id") is None:
            return next((c for c in inst if isinstance(c.tag, str)), None)
    return None


def _check_version(version: str | None) -> None:
    parts = re.findall(r"\d+", version or "")
    if len(parts) >= 2 and (int(parts[0]), int(parts[1])) > SUPPORTED_VERSION:
        raise FormsError("xlsform_invalid", f"The form uses entities spec {version}; "
                         "fieldsync reads versions up to "
                         f"{SUPPORTED_VERSION[0]}.{SUPPORTED_VERSION[1]}. Convert it with "
                         "the pyxform version fieldsync ships.")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]

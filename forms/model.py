"""The compiled form model: what a published XForm asks, read from the XForm itself.

Everything downstream (validation, scoring, the flat answers table, exports,
OpenRosa conversion) reads a form through this model, never through pyxform's
internals, so a form behaves the same whether it came from an XLSForm today or
from an XForm file later. The model is plain data and round-trips through JSON,
so the store keeps it beside the XForm and never recompiles a published version.

Paths are relative to the instance root and use "/" (``econ/econ_satisfaction``,
``household/members/age``); the root element name is kept in ``root``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field

from forms.xmlsafe import parse_xml

XF = "http://www.w3.org/2002/xforms"
H = "http://www.w3.org/1999/xhtml"
JR = "http://openrosa.org/javarosa"
ODK = "http://www.opendatakit.org/xforms"

BODY_CONTROLS = {"input", "select1", "select", "upload", "trigger", "range", "rank", "secret"}
BIND_ATTRS = ("required", "relevant", "constraint", "calculate", "readonly")


@dataclass(frozen=True)
class Choice:
    """One answer option: its value, labels per language and extra choice columns."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Field:
    """One node of the instance: a question, a calculate, a group, a repeat or meta.

    ``kind`` is one of question, calculate, group, repeat, meta. ``type`` is the
    bind type (string, int, decimal, date, dateTime, time, geopoint, binary, ...)
    and ``control`` the body element (input, select1, select, upload, ...), so a
    select_one is ``control == "select1"`` whatever its bind type says.
    ``repeat`` is the path of the innermost enclosing repeat, if any.
    ``repeat_count`` is a repeat's ``jr:count`` expression and ``choice_filter``
    the predicate of a select's itemset (a cascading select), if any.
    """

    path: str
    name: str
    kind: str
    type: str = "string"
    control: str | None = None
    list_name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    required: str | None = None
    relevant: str | None = None
    constraint: str | None = None
    constraint_message: str | None = None
    calculate: str | None = None
    readonly: str | None = None
    preload: str | None = None
    parent: str | None = None
    repeat: str | None = None
    repeat_count: str | None = None
    choice_filter: str | None = None

    @property
    def is_select_one(self) -> bool:
        return self.control == "select1"

    @property
    def is_select_multiple(self) -> bool:
        return self.control == "select"

    @property
    def is_container(self) -> bool:
        return self.kind in ("group", "repeat")


@dataclass
class FormModel:
    """A form version: identity, languages, fields in document order, choice lists.

    ``external`` maps the secondary instances read from media files to their
    ``src`` (``{"villages": "jr://file-csv/villages.csv"}``); ``texts`` holds the
    translated texts (``{language: {id: text}}``) when an expression reads them
    with ``jr:itext()``; ``actions`` the values the tablet sets on events
    (dynamic defaults and triggers): ``[{"path", "event", "value"}]``.
    """

    form_id: str
    version: str
    title: str
    root: str
    languages: list[str]
    fields: dict[str, Field]
    choices: dict[str, list[Choice]]
    instance_name: str | None = None
    external: dict[str, str] = field(default_factory=dict)
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    actions: list[dict] = field(default_factory=list)

    def field(self, path: str) -> Field | None:
        return self.fields.get(path)

    def questions(self) -> list[Field]:
        """Leaf nodes that carry a value: questions, calculates and meta."""
        return [f for f in self.fields.values() if not f.is_container]

    def repeats(self) -> list[Field]:
        return [f for f in self.fields.values() if f.kind == "repeat"]

    def resolve(self, key: str) -> Field | None:
        """Find a field by its path or, where the name is unique, by its bare name."""
        if key in self.fields:
            return self.fields[key]
        matches = [f for f in self.fields.values() if f.name == key]
        return matches[0] if len(matches) == 1 else None

    def choice_names(self, list_name: str) -> set[str]:
        return {c.name for c in self.choices.get(list_name, [])}

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)  # keeps document order

    @classmethod
    def from_json(cls, text: str) -> FormModel:
        raw = json.loads(text)
        raw["fields"] = {p: Field(**f) for p, f in raw["fields"].items()}
        raw["choices"] = {
            name: [Choice(**c) for c in items] for name, items in raw["choices"].items()
        }
        return cls(**raw)


class PerModel:
    """What a module works out from a form model, kept by that module, never on
    the model: ``PerModel(make)(model, *args)`` is ``make(model, *args)``,
    computed once per model object and arguments. A published version never
    changes and its model is itself cached (one object per version), so the
    entry is found again; each entry holds its model, so a model's id is never
    taken for another's. At most ``size`` entries, the oldest dropped first."""

    def __init__(self, make, size: int = 256):
        self.make = make
        self.size = size
        self.held: dict[tuple, tuple] = {}
        self.lock = threading.Lock()

    def __call__(self, model: FormModel, *args):
        key = (id(model), *args)
        held = self.held.get(key)
        if held is not None and held[0] is model:
            return held[1]
        value = self.make(model, *args)
        with self.lock:
            if len(self.held) >= self.size:
                self.held.pop(next(iter(self.held)), None)
            self.held[key] = (model, value)
        return value


def compile_xform(xform: str | bytes) -> FormModel:
    """Read the form model out of an XForm document."""
    doc = parse_xml(xform)
    model_el = doc.find(f"{{{H}}}head/{{{XF}}}model")
    title_el = doc.find(f"{{{H}}}head/{{{H}}}title")
    instances = model_el.findall(f"{{{XF}}}instance")
    primary = next(i for i in instances if i.get("id") is None)
    root_el = next(iter(primary))
    root = _local(root_el.tag)
    itext = _read_itext(model_el)
    binds = {
        _rel(b.get("nodeset"), root): b for b in model_el.findall(f"{{{XF}}}bind")
    }
    controls = _read_body(doc.find(f"{{{H}}}body"), root, itext)
    repeat_paths = {p for p, c in controls.items() if c["control"] == "repeat"}
    fields: dict[str, Field] = {}
    _walk_instance(root_el, "", None, None, binds, controls, repeat_paths, fields)
    choices = {
        inst.get("id"): _read_choices(inst, itext)
        for inst in instances
        if inst.get("id") is not None and inst.get("src") is None
    }
    for ctl in controls.values():
        for list_name, items in ctl.get("inline_choices", {}).items():
            choices.setdefault(list_name, items)
    external = {inst.get("id"): inst.get("src") for inst in instances
                if inst.get("id") is not None and inst.get("src") is not None}
    reads_itext = any("itext(" in (b.get(a) or "") for b in binds.values() for a in BIND_ATTRS)
    return FormModel(
        form_id=root_el.get("id") or root,
        version=root_el.get("version") or "",
        title=title_el.text if title_el is not None and title_el.text else root,
        root=root,
        languages=list(itext.keys()),
        fields=fields,
        choices=choices,
        instance_name=_instance_name(binds),
        external=external,
        texts=itext if reads_itext else {},
        actions=[{"path": _rel(a.get("ref"), root), "event": a.get("event") or "",
                  "value": a.get("value")} for a in doc.iter(f"{{{XF}}}setvalue")
                 if a.get("value")],
    )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _rel(nodeset: str | None, root: str) -> str:
    """'/data/econ/age' -> 'econ/age'."""
    prefix = f"/{root}/"
    nodeset = (nodeset or "").strip()
    return nodeset[len(prefix):] if nodeset.startswith(prefix) else nodeset.lstrip("/")


def _instance_name(binds) -> str | None:
    bind = binds.get("meta/instanceName")
    return bind.get("calculate") if bind is not None else None


def _read_itext(model_el) -> dict[str, dict[str, str]]:
    """{language: {text_id: plain label}} from the itext block."""
    out: dict[str, dict[str, str]] = {}
    for tr in model_el.findall(f"{{{XF}}}itext/{{{XF}}}translation"):
        texts = out.setdefault(tr.get("lang") or "default", {})
        for text in tr.findall(f"{{{XF}}}text"):
            values = text.findall(f"{{{XF}}}value")
            plain = [v for v in values if v.get("form") is None] or values
            if plain:
                texts[text.get("id")] = "".join(plain[0].itertext()).strip()
    return out


def _labels(label_el, itext) -> dict[str, str]:
    if label_el is None:
        return {}
    ref = label_el.get("ref") or ""
    if ref.startswith("jr:itext("):
        text_id = ref[len("jr:itext("):-1].strip("'\"")
        return {lang: texts[text_id] for lang, texts in itext.items() if text_id in texts}
    text = "".join(label_el.itertext()).strip()
    return {"default": text} if text else {}


def _read_body(body, root, itext) -> dict[str, dict]:
    """{path: {control, labels, list_name}} for every body element with a ref."""
    out: dict[str, dict] = {}
    if body is None:
        return out
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        tag = _local(el.tag)
        ref = el.get("ref") or el.get("nodeset")
        if ref is None or tag not in BODY_CONTROLS | {"group", "repeat"}:
            continue
        path = _rel(ref, root)
        entry = out.setdefault(path, {"control": tag, "labels": {}, "list_name": None})
        if tag == "repeat":
            entry["control"] = "repeat"
            entry["repeat_count"] = el.get(f"{{{JR}}}count")
        label = el.find(f"{{{XF}}}label")
        if label is not None and not entry["labels"]:
            entry["labels"] = _labels(label, itext)
        itemset = el.find(f"{{{XF}}}itemset")
        if itemset is not None:
            nodeset = _unrandomized(itemset.get("nodeset") or "")
            if nodeset.startswith("instance("):
                entry["list_name"] = nodeset[len("instance("):].split(")", 1)[0].strip("'\"")
                if "[" in nodeset:
                    entry["choice_filter"] = nodeset[nodeset.index("[") + 1:nodeset.rindex("]")]
        items = el.findall(f"{{{XF}}}item")
        if items:
            list_name = f"_inline_{path.replace('/', '_')}"
            entry["list_name"] = list_name
            entry["inline_choices"] = {
                list_name: [
                    Choice(
                        name=(i.findtext(f"{{{XF}}}value") or "").strip(),
                        labels=_labels(i.find(f"{{{XF}}}label"), itext),
                    )
                    for i in items
                ]
            }
    return out


def _unrandomized(nodeset: str) -> str:
    """An itemset's nodeset without the randomize() that shuffles it for display:
    ``randomize(instance('x')/root/item[f], 7)`` -> ``instance('x')/root/item[f]``."""
    nodeset = nodeset.strip()
    if not nodeset.startswith("randomize(") or not nodeset.endswith(")"):
        return nodeset
    inner, depth, quote = nodeset[len("randomize("):-1], 0, None
    for i, ch in enumerate(inner):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            return inner[:i].strip()
    return inner.strip()


def _read_choices(inst, itext) -> list[Choice]:
    root = next(iter(inst), None)
    if root is None:
        return []
    out = []
    for item in root:
        if not isinstance(item.tag, str):
            continue
        cols = {_local(c.tag): (c.text or "") for c in item if isinstance(c.tag, str)}
        text_id = cols.pop("itextId", None)
        labels = (
            {lang: texts[text_id] for lang, texts in itext.items() if text_id in texts}
            if text_id
            else ({"default": cols.pop("label")} if "label" in cols else {})
        )
        name = cols.pop("name", "")
        out.append(Choice(name=name, labels=labels, extra=cols))
    return out


def _walk_instance(el, prefix, parent, repeat, binds, controls, repeat_paths, fields):
    seen: set[str] = set()
    for child in el:
        if not isinstance(child.tag, str):
            continue
        name = _local(child.tag)
        path = f"{prefix}{name}"
        if path in seen:  # the second copy of a repeat after its jr:template
            continue
        seen.add(path)
        bind = binds.get(path)
        ctl = controls.get(path, {})
        has_children = any(isinstance(c.tag, str) for c in child)
        if path in repeat_paths or child.get(f"{{{JR}}}template") is not None:
            kind = "repeat"
        elif has_children:
            kind = "meta" if name == "meta" and parent is None else "group"
        elif path.startswith("meta/"):
            kind = "meta"
        elif ctl.get("control") in BODY_CONTROLS:
            kind = "question"
        else:
            kind = "calculate"
        attrs = {a: bind.get(a) for a in BIND_ATTRS} if bind is not None else {}
        fields[path] = Field(
            path=path,
            name=name,
            kind=kind,
            type=(bind.get("type") if bind is not None else None) or "string",
            control=ctl.get("control") if kind == "question" else None,
            list_name=ctl.get("list_name"),
            labels=ctl.get("labels", {}),
            constraint_message=(
                bind.get(f"{{{JR}}}constraintMsg") if bind is not None else None
            ),
            preload=(bind.get(f"{{{JR}}}preload") if bind is not None else None),
            parent=prefix.rstrip("/") or None,
            repeat=repeat,
            repeat_count=ctl.get("repeat_count") if kind == "repeat" else None,
            choice_filter=ctl.get("choice_filter") if kind == "question" else None,
            **attrs,
        )
        if has_children:
            inner_repeat = path if kind == "repeat" else repeat
            _walk_instance(
                child, f"{path}/", path, inner_repeat, binds, controls, repeat_paths, fields
            )

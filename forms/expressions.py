"""A form version's expressions, compiled once, and the checks run at publish time.

``form_expressions(model)`` returns the per-model ``FormExpressions`` (compiled
binds, the form's tree, choice-list instances), built on first use and kept as
long as the model lives. ``check_form(model)`` lists every expression problem as
``{"path", "attribute", "message"}``; the server refuses to publish (422) when it
is not empty. ``record_clock`` decides what ``today()``/``now()`` mean for a record.
"""

from __future__ import annotations

import re
import weakref
from datetime import datetime, timezone

from forms.errors import FormsError
from forms.model import FormModel
from forms.record import answer_at
from forms.xpath import Env, Schema, compile_xpath, document, parse_date
from forms.xpath.parser import parse

ATTRIBUTES = ("relevant", "required", "constraint", "calculate", "readonly",
              "repeat_count", "choice_filter")
_CACHE: dict[int, FormExpressions] = {}
_PREDICATE = re.compile(r"\[[^\]]*\]")
# Functions whose value depends on their arguments only (today() on the record's
# clock, fixed for one record); the _CONTEXTUAL ones read the context node when
# called without an argument.
_PURE_CALLS = frozenset({
    "if", "coalesce", "selected", "is-selected", "selected-at", "count-selected", "concat",
    "join", "substr", "substring", "substring-before", "substring-after", "string-length",
    "contains", "starts-with", "ends-with", "regex", "normalize-space", "translate",
    "string", "number", "int", "round", "floor", "ceiling", "abs", "pow", "sqrt",
    "boolean", "not", "true", "false", "boolean-from-string", "count", "count-non-empty",
    "sum", "min", "max", "today",
})
_CONTEXTUAL = frozenset({"string", "number", "string-length", "normalize-space"})


class FormExpressions:
    """Everything about one form version that evaluation needs, built once."""

    def __init__(self, model: FormModel):
        self.model = model
        self.schema = Schema(model.fields)
        self.children: dict[str, list] = {}
        for f in model.fields.values():
            self.children.setdefault(f.parent or "", []).append(f)
        self.child_names = {k: {f.name for f in v} for k, v in self.children.items()}
        self.binds: dict[str, dict] = {}
        self.errors: list[dict] = []
        for f in model.fields.values():
            for attr in ATTRIBUTES:
                text = getattr(f, attr)
                if not text or not text.strip():
                    continue
                if attr == "choice_filter":
                    text = f"instance('{f.list_name}')/root/item[{text}]"
                try:
                    self.binds.setdefault(f.path, {})[attr] = compile_xpath(text)
                except FormsError as exc:
                    self.errors.append({"path": f.path, "attribute": attr,
                                        "message": exc.message})
        self.choice_sets = {name: {c.name for c in items} for name, items in model.choices.items()}
        self._instances: dict[str, object] = {}
        self._names = _unique_names(model)
        stamps = [f for f in model.fields.values() if f.preload == "timestamp" and not f.repeat]
        stamps.sort(key=lambda f: {"end": 0, "start": 1}.get(f.name, 2))
        self.stamps = tuple(stamps)  # record_clock's candidates, best first
        # Tables other modules derive from this form (normalize, validate), built
        # on first use by their owner and kept as long as this object.
        self.derived: dict[str, object] = {}

    def expr(self, path: str, attr: str):
        return self.binds.get(path, {}).get(attr)

    def new_env(self, data: dict, now: datetime | None):
        doc = document(self.model.root, data, self.schema)
        return doc.children(self.model.root)[0], Env(doc, now, self)

    def instance_doc(self, name: str):
        doc = self._instances.get(name)
        if doc is None and name in self.model.choices:
            items = [
                {"name": c.name, "label": self.label(c.labels), **c.extra}
                for c in self.model.choices[name]
            ]
            rank = list(self.model.choices).index(name) + 1
            doc = document("root", {"item": items}, Schema({}, doc_rank=rank))
            self._instances[name] = doc
        return doc

    def label(self, labels: dict[str, str]) -> str:
        if "default" in labels:
            return labels["default"]
        for lang in self.model.languages:
            if lang in labels:
                return labels[lang]
        return next(iter(labels.values()), "")

    def choice_label(self, value: str, ref: str, current) -> str:
        """``jr:choice-name(value, ref)``: the label of ``value`` in ref's choice list."""
        path = self.resolve_ref(ref, current.path if current is not None else "")
        f = self.model.fields.get(path or "")
        wanted = value.strip()
        for c in self.model.choices.get(f.list_name if f else "", []):
            if c.name == wanted:
                return self.label(c.labels)
        return ""

    def resolve_ref(self, ref: str, context_path: str) -> str | None:
        """'/data/g/x', '../x' or 'x' (relative to ``context_path``) -> 'g/x'."""
        ref = _PREDICATE.sub("", ref.strip())
        if ref.startswith("/"):
            parts = ref.strip("/").split("/")
            return "/".join(parts[1:]) if parts and parts[0] == self.model.root else None
        parts = context_path.split("/") if context_path else []
        for step in ref.split("/"):
            if step == "..":
                if not parts:
                    return None
                parts.pop()
            elif step not in (".", ""):
                parts.append(step)
        return "/".join(parts)

    def resolve_key(self, prefix: str, key: str) -> str | None:
        """Where a data key belongs: a path under ``prefix`` (``x`` or ``g/x``) or a
        bare name unique in the form; never across a repeat, which needs a list."""
        fields = self.model.fields
        full = f"{prefix}/{key}" if prefix else key
        if "/" not in key and full in fields:
            return full
        if full not in fields:
            if "/" in key:
                return None
            full = self._names.get(key)
            if full is None or (prefix and not full.startswith(prefix + "/")):
                return None
        if any(fields[p].kind == "repeat" for p in _prefixes(full, prefix) if p in fields):
            return None
        return full


def record_paths(text: str) -> set[str] | None:
    """The form paths (``g/x``) an expression reads, if its value depends on the
    record alone: literals, absolute child paths and functions of their arguments.
    None when it may depend on the node it is evaluated for (``.``, ``..``,
    ``current()``, predicates, ``position()``, ...) or is not deterministic
    (``random()``, ``uuid()``, ``now()``). Such an expression gives one value for
    every node outside repeats of one record, which lets validation evaluate it
    once per record (absolute paths are contextualised only inside repeats).
    """
    try:
        tree = parse(text)
    except FormsError:
        return None
    paths: set[str] = set()
    return paths if _record_only(tree, paths) else None


def value_inputs(text: str) -> set[str] | None:
    """What an expression's value depends on, when that is only the record's
    values at absolute paths (form paths, as ``record_paths`` gives them) and
    the text of the node it is evaluated for (``"."``; also a contextual
    function without its argument, ``string-length()``): literals and pure
    functions of those. None otherwise, and for ``today()``, whose value also
    depends on the record's clock. Two evaluations with the same texts at those
    inputs give the same value, whatever record they are for (validation keeps
    the values of the common ones: ``server`` ingest meets the same few answers
    of a select over and over)."""
    try:
        tree = parse(text)
    except FormsError:
        return None
    inputs: set[str] = set()
    return inputs if _record_only(tree, inputs, context=True) else None


def _record_only(tree, paths: set[str], context: bool = False) -> bool:
    """Whether ``tree`` reads nothing but absolute child paths (added to
    ``paths``) and, with ``context``, the context node's own text (``"."``)."""
    kind = tree[0]
    if kind in ("num", "str"):
        return True
    if kind in ("or", "and", "union"):
        return _record_only(tree[1], paths, context) and _record_only(tree[2], paths, context)
    if kind in ("cmp", "arith"):
        return _record_only(tree[2], paths, context) and _record_only(tree[3], paths, context)
    if kind == "neg":
        return _record_only(tree[1], paths, context)
    if kind == "call":
        name, args = tree[1], tree[2]
        if name not in _PURE_CALLS or (context and name == "today"):
            return False
        if name in _CONTEXTUAL and not args:
            if not context:
                return False
            paths.add(".")
        return all(_record_only(a, paths, context) for a in args)
    if kind == "path" and tree[1] == "root":
        steps = tree[2]
        if not all(axis == "child" and not preds and test not in ("*", "node()")
                   for axis, test, preds in steps):
            return False
        paths.add("/".join(test for _, test, _ in steps[1:]) if steps else "")
        return True
    if context and kind == "path" and tree[1] == "context" and tree[2] == [("self", "node()", [])]:
        paths.add(".")
        return True
    return False


def _prefixes(full: str, prefix: str):
    parts = full.split("/")
    start = len(prefix.split("/")) if prefix else 0
    for i in range(start + 1, len(parts)):
        yield "/".join(parts[:i])


def _unique_names(model: FormModel) -> dict[str, str]:
    seen: dict[str, str | None] = {}
    for f in model.fields.values():
        seen[f.name] = None if f.name in seen else f.path
    return {name: path for name, path in seen.items() if path is not None}


def form_expressions(model: FormModel) -> FormExpressions:
    key = id(model)
    found = _CACHE.get(key)
    if found is None or found.model is not model:
        found = _CACHE[key] = FormExpressions(model)
        weakref.finalize(model, _CACHE.pop, key, None)
    return found


def check_form(model: FormModel) -> list[dict]:
    """Every expression of the form that fieldsync cannot evaluate, and why."""
    fx = form_expressions(model)
    problems = list(fx.errors)
    for path, attrs in fx.binds.items():
        for attr, expr in attrs.items():
            for names in expr.paths:
                message = _path_problem(model, names)
                if message:
                    problems.append({"path": path, "attribute": attr,
                                     "message": f"In the expression '{expr.text}': {message}."})
    return problems


def require_evaluable(model: FormModel) -> None:
    """Raise ``xlsform_expression_unsupported`` naming every field and attribute
    whose expression fieldsync cannot evaluate (``check_form``); used at publish
    and by `fieldsync forms check`."""
    problems = check_form(model)
    if not problems:
        return
    first = problems[0]
    raise FormsError(
        "xlsform_expression_unsupported",
        f"The form has {len(problems)} expression(s) fieldsync cannot evaluate; the "
        f"first, in the {first['attribute']} of '{first['path']}': {first['message']}",
        {"errors": [{"sheet": "survey", "row": None, "path": p["path"], "name": p["path"],
                     "attribute": p["attribute"], "message": p["message"]}
                    for p in problems]},
    )


def _path_problem(model: FormModel, names: tuple[str, ...]) -> str | None:
    shown = "/" + "/".join(names)
    if not names or names[0] != model.root:
        return f"the path '{shown}' does not start with the form's root '/{model.root}'"
    if len(names) > 1 and "/".join(names[1:]) not in model.fields:
        return f"the path '{shown}' is not a field of the form"
    return None


def record_clock(model: FormModel, data: dict, now: datetime | None) -> tuple[datetime, bool]:
    """The moment ``today()``/``now()`` stand for, and whether the record itself said so.

    The record's ``end`` (else ``start``) timestamp wins; otherwise ``now`` (the
    received time), else the wall clock. A naive time is taken as UTC.
    """
    for f in form_expressions(model).stamps:
        value = answer_at(data, f.path)
        parsed = parse_date(value) if isinstance(value, str) else None
        if isinstance(parsed, datetime):
            return parsed, True
    if now is None:
        return datetime.now(timezone.utc), False
    return (now if now.tzinfo else now.replace(tzinfo=timezone.utc)), False


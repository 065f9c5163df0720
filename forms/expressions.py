"""A form version's expressions, compiled once, and the checks run at publish time.

``form_expressions(model)`` returns the per-model ``FormExpressions`` (compiled
binds, the form's tree, choice-list instances), built on first use and kept as
long as the model lives. ``check_form(model)`` lists every expression a tablet
would refuse as ``{"path", "attribute", "message"}``; the server refuses to
publish (422) when it is not empty. Everything else publishes: an expression
the server cannot evaluate is kept in the form and left out of server-side
validation, and ``expression_report`` says, per expression, which are checked
on the server and which are not (and why). ``record_clock`` decides what
``today()``/``now()`` mean for a record.
"""

from __future__ import annotations

import re
import weakref
from datetime import datetime, timezone, tzinfo

from forms.errors import FormsError
from forms.media import media_file_name
from forms.model import FormModel
from forms.record import answer_at
from forms.xpath import Env, Schema, compile_xpath, document, parse_date
from forms.xpath.parser import parse
from forms.xpath.secondary import SecondaryInstance, Unavailable

ATTRIBUTES = ("relevant", "required", "constraint", "calculate", "readonly",
              "repeat_count", "choice_filter")
# what server-side validation evaluates (readonly only matters on the tablet)
VALIDATED = ("relevant", "required", "constraint", "calculate", "repeat_count",
             "choice_filter")
LAST_SAVED = "jr://instance/last-saved"
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
        self.not_checked: list[dict] = []  # {path, attribute, expression, function, reason}
        # expression -> the secondary instances it reads from media files
        self.needs: dict[object, frozenset[str]] = {}
        for f in model.fields.values():
            for attr in ATTRIBUTES:
                text = getattr(f, attr)
                if not text or not text.strip():
                    continue
                if attr == "choice_filter":
                    text = f"instance('{f.list_name}')/root/item[{text}]"
                try:
                    expr = compile_xpath(text)
                except FormsError as exc:
                    self.errors.append({"path": f.path, "attribute": attr,
                                        "message": exc.message})
                    continue
                left_out = list(expr.unchecked) + self._unknown_instances(expr)
                if left_out and attr in VALIDATED:
                    for construct, reason in left_out:
                        self.not_checked.append({
                            "path": f.path, "attribute": attr, "expression": expr.text,
                            "function": construct, "reason": reason})
                    continue
                self.binds.setdefault(f.path, {})[attr] = expr
                media = frozenset(n for n in expr.instances if n not in model.choices)
                if media:
                    self.needs[expr] = media
        for action in model.actions:  # set on the tablet only, but it must load them
            try:
                compile_xpath(action["value"])
            except FormsError as exc:
                attr = "default" if action["event"] == "odk-instance-first-load" else "trigger"
                self.errors.append({"path": action["path"], "attribute": attr,
                                    "message": exc.message})
        self.choice_sets = {name: {c.name for c in items} for name, items in model.choices.items()}
        self._instances: dict[str, SecondaryInstance] = {}
        self._names = _unique_names(model)
        stamps = [f for f in model.fields.values() if f.preload == "timestamp" and not f.repeat]
        stamps.sort(key=lambda f: {"end": 0, "start": 1}.get(f.name, 2))
        self.stamps = tuple(stamps)  # record_clock's candidates, best first
        # Tables other modules derive from this form (normalize, validate), built
        # on first use by their owner and kept as long as this object.
        self.derived: dict[str, object] = {}

    def _unknown_instances(self, expr) -> list[tuple[str, str]]:
        """The instances ``expr`` names that no file can provide: the form does not
        declare them, or they hold the tablet's last saved record."""
        out = []
        for name in sorted(expr.instances):
            src = self.model.external.get(name)
            if name in self.model.choices or (src is not None and src != LAST_SAVED):
                continue
            if src == LAST_SAVED:
                out.append((f"instance('{name}')", "it reads the last record saved on the "
                            "tablet"))
            elif "pulldata" not in expr.functions:
                out.append((f"instance('{name}')", f"the form declares no instance '{name}'"))
        return out

    def expr(self, path: str, attr: str):
        return self.binds.get(path, {}).get(attr)

    def media_instances(self) -> set[str]:
        """The secondary instances some expression reads from a media file."""
        return {name for names in self.needs.values() for name in names}

    def binds_with(self, available: frozenset) -> dict[str, dict]:
        """``binds`` without the expressions that read media not in ``available``."""
        key = ("binds", available)
        found = self.derived.get(key)
        if found is None:
            found = {}
            for path, attrs in self.binds.items():
                kept = {a: e for a, e in attrs.items() if self.needs.get(e, available) <= available}
                if kept:
                    found[path] = kept
            self.derived[key] = found
        return found

    def new_env(self, data: dict, now: datetime | None, media=None):
        doc = document(self.model.root, data, self.schema)
        return doc.children(self.model.root)[0], Env(doc, now, self, media)

    def instance(self, name: str, media=None) -> SecondaryInstance:
        """A secondary instance by id: a choice list, or a media file of the version
        (``media``, a ``forms.media.FormMedia``); ``Unavailable`` when neither has it."""
        found = self._instances.get(name)
        if found is not None:
            return found
        if name in self.model.choices:
            items = [
                {"name": c.name, "label": self.label(c.labels), **c.extra}
                for c in self.model.choices[name]
            ]
            rank = list(self.model.choices).index(name) + 1
            doc = document("root", {"item": items}, Schema({}, doc_rank=rank))
            found = self._instances[name] = SecondaryInstance(name, doc)
            return found
        found = media.instance(name, self.model.external.get(name)) if media else None
        if found is None:
            raise Unavailable(name)
        return found

    def itext(self, text_id: str) -> str:
        """A translated text by id, in the default (else first) language."""
        return self.label({lang: texts[text_id] for lang, texts in self.model.texts.items()
                           if text_id in texts})

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
    """Every expression of the form a tablet would refuse to load (a syntax error,
    a function ODK forms do not have, a wrong number of arguments), and why."""
    return list(form_expressions(model).errors)


def expression_report(model: FormModel, available: frozenset | None = None) -> list[dict]:
    """Each expression validation would use, in form order, and whether the server
    checks it: ``{"path", "attribute", "expression", "checked"}``, with
    ``"functions"`` and ``"reason"`` when it is not checked and ``"media"`` (the
    files it reads) when it reads media. ``available`` names the instances whose
    files are at hand; None when that is not known yet (at publish, before the
    files are uploaded), and then an expression reading media counts as checked."""
    fx = form_expressions(model)
    left_out: dict[tuple[str, str], list[dict]] = {}
    for item in fx.not_checked:
        left_out.setdefault((item["path"], item["attribute"]), []).append(item)
    unsure = {path for path, attr in left_out if attr == "relevant"}
    out = []
    for f in model.fields.values():
        for attr in VALIDATED:
            expr = fx.expr(f.path, attr)
            entry = None
            governing = _under(f.path, unsure) if attr in ("required", "repeat_count") else None
            if expr is not None and governing is not None:
                constructs = [i["function"] for i in left_out[(governing, "relevant")]]
                entry = {"path": f.path, "attribute": attr, "expression": expr.text,
                         "checked": False, "functions": list(dict.fromkeys(constructs)),
                         "reason": f"it applies only where '{governing}' is relevant, and that "
                                   "relevance is not checked on the server"}
            elif expr is not None:
                entry = {"path": f.path, "attribute": attr, "expression": expr.text,
                         "checked": True}
                needs = fx.needs.get(expr)
                if needs:
                    entry["media"] = sorted(_file_of(model, n) for n in needs)
                    missing = sorted(needs - available) if available is not None else []
                    if missing:
                        entry.update(checked=False, functions=[
                            f"instance('{n}')" for n in missing], reason=(
                            "its media file(s) " + ", ".join(_file_of(model, n) for n in missing)
                            + " are not at hand"))
            elif (f.path, attr) in left_out:
                items = left_out[(f.path, attr)]
                entry = {"path": f.path, "attribute": attr, "expression": items[0]["expression"],
                         "checked": False,
                         "functions": list(dict.fromkeys(i["function"] for i in items)),
                         "reason": "; ".join(dict.fromkeys(i["reason"] for i in items))}
            if entry is not None:
                out.append(entry)
    return out


def not_checked_finding(model: FormModel, available: frozenset | None = None) -> dict | None:
    """The one ``expression_not_checked`` finding of a form version, naming each
    field, attribute and function the server leaves to the tablet; None when the
    server checks every expression."""
    items = [e for e in expression_report(model, available) if not e["checked"]]
    if not items:
        return None
    listed = "; ".join(f"the {e['attribute']} of '{e['path']}' ({', '.join(e['functions'])})"
                       for e in items[:5])
    more = f" and {len(items) - 5} more" if len(items) > 5 else ""
    return {
        "path": "", "code": "expression_not_checked", "severity": "warning",
        "message": (f"{len(items)} expression(s) are kept in the form for the tablet but not "
                    f"checked on the server, so records are never flagged by them: "
                    f"{listed}{more}."),
        "expressions": [{"field": e["path"], "attribute": e["attribute"],
                         "function": ", ".join(e["functions"]), "reason": e["reason"]}
                        for e in items],
    }


def _under(path: str, containers: set[str]) -> str | None:
    """The innermost of ``containers`` that is ``path`` or holds it, if any."""
    while path:
        if path in containers:
            return path
        path = path.rpartition("/")[0]
    return None


def expression_summary(report: list[dict]) -> dict:
    """An ``expression_report`` in short: ``{"checked", "not_checked", "media",
    "items"}``, items naming each expression left to the tablet (field,
    attribute, function, reason)."""
    left = [e for e in report if not e["checked"]]
    return {
        "checked": len(report) - len(left),
        "not_checked": len(left),
        "media": sorted({m for e in report for m in e.get("media", ())}),
        "items": [{"field": e["path"], "attribute": e["attribute"],
                   "function": ", ".join(e["functions"]), "reason": e["reason"]} for e in left],
    }


def _file_of(model: FormModel, instance: str) -> str:
    return media_file_name(model.external.get(instance), instance)


def require_evaluable(model: FormModel) -> None:
    """Raise ``xlsform_expression_unsupported`` naming every field and attribute
    whose expression a tablet would refuse (``check_form``); used at publish and
    by `fieldsync forms check`."""
    problems = check_form(model)
    if not problems:
        return
    first = problems[0]
    raise FormsError(
        "xlsform_expression_unsupported",
        f"The form has {len(problems)} expression(s) ODK Collect cannot load; the "
        f"first, in the {first['attribute']} of '{first['path']}': {first['message']}",
        {"errors": [{"sheet": "survey", "row": None, "path": p["path"], "name": p["path"],
                     "attribute": p["attribute"], "message": p["message"]}
                    for p in problems]},
    )


def record_clock(model: FormModel, data: dict, now: datetime | None,
                 tz: tzinfo | None = None) -> tuple[datetime, bool]:
    """The moment ``today()``/``now()`` stand for, and whether the record itself said so.

    The record's ``end`` (else ``start``) timestamp wins, in its own offset (the
    tablet's); otherwise ``now`` (the received time), else the wall clock, seen
    in ``tz`` (the server's time zone, UTC when None). A naive ``now`` is UTC; a
    timestamp without an offset is local time in ``tz``.
    """
    tz = tz or timezone.utc
    for f in form_expressions(model).stamps:
        value = answer_at(data, f.path)
        parsed = parse_date(value) if isinstance(value, str) else None
        if isinstance(parsed, datetime):
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)), True
    if now is None:
        return datetime.now(tz), False
    return (now if now.tzinfo else now.replace(tzinfo=timezone.utc)).astimezone(tz), False


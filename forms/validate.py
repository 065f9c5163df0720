"""Validate a record's data against the form version it names; report, never refuse.

``validate_record(model, data)`` returns findings; a record with findings is
still stored. Codes (stable, never reused):

=======================  ========  ==============================================
code                     severity  meaning
=======================  ========  ==============================================
unknown_field            warning   a key the form does not have
type_invalid             error     not a valid int/decimal/date/... or wrong shape
choice_unknown           error     a select value not in its choice list
choice_filtered_out      warning   a cascading select value its filter excludes
required_missing         error     a relevant required question left empty
constraint_failed        error     a non-empty answer that fails its constraint
answered_not_relevant    warning   an answer in a question or group not relevant
repeat_count_mismatch    error     repeat instances differ from its jr:count
calculate_mismatch       warning   the device's calculate differs from ours
expression_error         warning   an expression could not be evaluated
=======================  ========  ==============================================

Paths inside repeats carry 1-based indexes: ``members[2]/age``.

Ingest validates every record, so the walk does per form version what it can
(``_Plan``, kept on the form's ``FormExpressions``): each field's binds, type
check, choice set and messages are looked up once, answers that cannot give a
finding (an optional empty one, a value in its list) are passed over without a
node, an expression that reads the record alone (``/data/consent = 'yes'`` as
the relevance of three groups) is evaluated once per record, and calculates are
computed in one pass when none reads another.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime

from forms.errors import FormsError
from forms.expressions import (FormExpressions, form_expressions, record_clock, record_paths,
                               value_inputs)
from forms.model import FormModel
from forms.normalize import normalize_data
from forms.xpath import Node, parse_date, to_bool, to_num
from forms.xpath.values import parse_time, str_to_num, to_date, to_str

__all__ = ["Finding", "evaluate_calculates", "normalize_data", "validate_record"]

_INT = re.compile(r"\s*[+-]?\d+\s*$")
INT_MIN, INT_MAX = -2**31, 2**31 - 1  # XForms int is xsd:int, as ODK Collect holds it
_DECIMAL = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")
_UNSTABLE = {"now", "random", "uuid"}


@dataclass(frozen=True)
class Finding:
    path: str
    code: str
    message: str
    severity: str = "error"

    def to_dict(self) -> dict:
        # what dataclasses.asdict gives, without its recursive copy (ingest calls
        # this for every finding of every record)
        return {"path": self.path, "code": self.code, "message": self.message,
                "severity": self.severity}


def validate_record(model: FormModel, data: dict, *, now: datetime | None = None,
                    normalized: bool = False) -> list[Finding]:
    """Check ``data`` against the form; ``now`` is the received time (see record_clock).

    Pass ``normalized=True`` when ``data`` already went through ``normalize_data``
    (as ingest does) to skip doing it twice.
    """
    fx = form_expressions(model)
    data = _require_dict(data)
    if not normalized:
        data = normalize_data(model, data)
    clock, from_record = record_clock(model, data, now)
    root, env = fx.new_env(data, clock)
    run = _Run(fx, env, data)
    run.container(root, "", "", True, False)
    if not run.calcs:
        return run.findings
    plan = run.plan
    computed = _compute(fx, env, run.calcs, plan.calcs_independent)
    for f, node, shown, rel, device in run.calcs:
        if not rel or device is None or not isinstance(device, str):
            continue
        expr = fx.expr(f.path, "calculate")
        if expr.functions & _UNSTABLE or ("today" in expr.functions and not from_record):
            continue
        server = computed.get(shown, "")
        if not _same(device, server):
            run.add(shown, "calculate_mismatch",
                    f"The device computed '{device}' but the form gives '{server}' "
                    f"for {_show(expr.text)}.", "warning")
    return run.findings


def evaluate_calculates(model: FormModel, data: dict, now: datetime | None = None) -> dict[str, str]:
    """The server's value of every relevant calculate, keyed by indexed path."""
    fx = form_expressions(model)
    data = normalize_data(model, _require_dict(data))
    clock, _ = record_clock(model, data, now)
    root, env = fx.new_env(data, clock)
    run = _Run(fx, env, data)
    run.quiet = True
    run.container(root, "", "", True, True)
    return _compute(fx, env, run.calcs, run.plan.calcs_independent)


def _compute(fx, env, calcs, independent=False) -> dict[str, str]:
    """Evaluate calculates in form order, each seeing the ones before it, until stable.

    When no calculate reads another (``_Plan.calcs_independent``) a second pass
    would give the same values, so the first is the last.
    """
    results: dict[str, str] = {}
    for _ in range(4):
        changed = False
        for f, node, shown, rel, _device in calcs:
            if not rel:
                results[shown] = ""
                continue
            try:
                value = as_text(fx.expr(f.path, "calculate").evaluate(node, env), f.type)
            except FormsError:
                value = ""
            if node.value != value:
                node.value = value
                changed = True
            results[shown] = value
        if not changed or independent:
            break
    return results


def as_text(value, bind_type: str) -> str:
    """A calculate's result as the instance would hold it, for its bind type."""
    if type(value) is list:
        value = value[0].text() if value else ""
    if bind_type in ("date", "dateTime") and type(value) is not str:
        moment = to_date(value)
        if moment is None:
            return ""
        if bind_type == "date":
            return (moment.date() if isinstance(moment, datetime) else moment).isoformat()
        return to_str(moment)
    if type(value) is float:
        if value != value or math.isinf(value):
            return ""
        if bind_type == "int":
            return str(math.trunc(value))
    return to_str(value)


def _same(device: str, server: str) -> bool:
    a, b = device.strip(), server.strip()
    if a == b or {a, b} <= {"", "NaN"}:
        return True
    x, y = str_to_num(a), str_to_num(b)
    return x == x and y == y and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)


_LEAF, _GROUP, _REPEAT = 0, 1, 2


class _Entry:
    """What the walk needs of one field, looked up once per form instead of per record."""

    __slots__ = ("f", "name", "path", "kind", "binds", "relevant", "calc", "question", "meta",
                 "required", "typed", "choices", "multi", "filter", "constraint",
                 "constraint_tail", "rel_note", "shared", "quiet_empty", "easy")

    def __init__(self, fx: FormExpressions, f, shared: set):
        binds = fx.binds.get(f.path) or None
        self.f, self.name, self.binds = f, f.name, binds
        parent = f.parent or ""
        # ``path`` is the field's shown path outside repeats; None sends the walk to
        # building it from the container's shown path.
        self.path = f.path if f.path == (f"{parent}/{f.name}" if parent else f.name) else None
        self.kind = _REPEAT if f.kind == "repeat" else _GROUP if f.is_container else _LEAF
        self.relevant = fx.expr(f.path, "relevant")
        self.calc = bool(binds) and "calculate" in binds
        self.question, self.meta = f.kind == "question", f.kind == "meta"
        required = 0  # 0 never, 1 always (true()), 2 when its expression holds
        if self.question and f.required:
            if f.required.strip() == "true()":
                required = 1
            elif fx.expr(f.path, "required") is not None:
                required = 2
        self.required = required
        self.typed = f.type in _CHECKED_TYPES
        selects = f.control in ("select1", "select") and f.list_name in fx.choice_sets
        self.choices = fx.choice_sets[f.list_name] if selects else None
        self.multi = f.control == "select"
        self.filter = fx.expr(f.path, "choice_filter")
        self.constraint = fx.expr(f.path, "constraint") if f.constraint else None
        if self.constraint is not None:
            message = f.constraint_message or ""
            hint = "" if not message or message.startswith("jr:itext") else f" ({message})"
            self.constraint_tail = f" fails the constraint {_show(f.constraint)}{hint}."
        self.rel_note = _show(f.relevant or "its group")
        # Shortcuts for the walk: no relevance of its own and no calculate, so
        # leaf() would neither make a node nor record anything for...
        plain = self.relevant is None and not self.calc
        self.quiet_empty = plain and not required  # ...an empty answer,
        self.easy = (plain and not self.typed and self.constraint is None  # ...or a
                     and self.filter is None and not self.multi)  # relevant single value.
        # Outside repeats an expression of the record alone has one value per record.
        self.shared = shared if f.repeat is None and f.kind != "repeat" else _NONE


_NONE: frozenset = frozenset()


class _Plan:
    """Per form version: each container's fields as ``_Entry``s and its known names,
    the expressions whose value depends on the record alone, and whether any
    calculate reads another calculate."""

    def __init__(self, fx: FormExpressions):
        reads: dict = {}
        for attrs in fx.binds.values():
            for expr in attrs.values():
                if expr not in reads:
                    reads[expr] = record_paths(expr.text)
        shared = {expr for expr, paths in reads.items() if paths is not None}
        self.children = {
            path: [_Entry(fx, f, shared) for f in fields] for path, fields in fx.children.items()
        }
        self.known = {path: frozenset(names) for path, names in fx.child_names.items()}
        calcs = [f.path for f in fx.model.fields.values()
                 if "calculate" in fx.binds.get(f.path, ())]
        self.calcs_independent = all(
            reads[fx.binds[c]["calculate"]] is not None
            and not any(_overlap(p, q) for p in reads[fx.binds[c]["calculate"]] for q in calcs)
            for c in calcs
        )
        # Relevances, requireds and constraints whose value follows from the texts
        # of a few answers (``value_inputs``: leaves outside repeats, and the
        # node's own): their values as met, keyed by those texts (``_Run.known``).
        self.inputs: dict = {}
        self.values: dict = {}
        self.hits: dict = {}
        for attrs in fx.binds.values():
            for attr in ("relevant", "required", "constraint"):
                expr = attrs.get(attr)
                if expr is None or expr in self.inputs:
                    continue
                inputs = value_inputs(expr.text)
                if inputs is not None and all(p == "." or _plain_leaf(fx, p) for p in inputs):
                    self.inputs[expr] = tuple(None if p == "." else tuple(p.split("/"))
                                              for p in sorted(inputs))
                    self.values[expr] = {}
                    self.hits[expr] = 0


# Values kept per expression (``_Plan.values``); when the table is full and fewer
# than half its lookups found a value, the expression's answers rarely repeat
# (a case number's length) and its values are no longer kept.
KEPT_VALUES = 512


def _plain_leaf(fx: FormExpressions, path: str) -> bool:
    """Whether ``path`` is a field holding one text per record (no group, no
    repeat, not inside one)."""
    f = fx.model.fields.get(path)
    return f is not None and f.repeat is None and not f.is_container and f.kind != "repeat"


def _overlap(a: str, b: str) -> bool:
    """Whether reading path ``a`` may see the value of path ``b`` or the other way round."""
    return a == b or not a or not b or b.startswith(a + "/") or a.startswith(b + "/")


def _plan(fx: FormExpressions) -> _Plan:
    plan = fx.derived.get("validate")
    if plan is None:
        plan = fx.derived["validate"] = _Plan(fx)
    return plan


class _Run:
    """One walk over a record: findings, and the calculates met on the way."""

    def __init__(self, fx: FormExpressions, env, data: dict):
        self.fx = fx
        self.env = env
        self.data = data
        self.plan = _plan(fx)
        self.findings: list[Finding] = []
        self.calcs: list = []
        self.quiet = False
        self.memo: dict = {}  # record-only expression -> (value, error), see _Entry.shared

    def add(self, path, code, message, severity="error"):
        if not self.quiet:
            self.findings.append(Finding(path, code, message, severity))

    def holds(self, e, attr, expr, node, default):
        """``expr`` (the ``attr`` of entry ``e``) as a boolean at ``node``; ``default``
        when there is none or it fails (reported as an expression_error)."""
        if expr is None:
            return default
        inputs = self.plan.inputs.get(expr)
        if inputs is not None:
            key = self.key(inputs, node)
            if key is not None:
                return self.known(e, attr, expr, node, default, key)
        if expr in e.shared:
            hit = self.memo.get(expr)
            if hit is None:
                try:
                    hit = (expr.evaluate(node, self.env), None)
                except FormsError as exc:
                    hit = (None, exc)
                self.memo[expr] = hit
            value, error = hit
        else:
            try:
                value, error = expr.evaluate(node, self.env), None
            except FormsError as exc:
                error = exc
        if error is None:
            try:
                return to_bool(value)
            except FormsError as exc:
                error = exc
        self.add(node_path(node), "expression_error",
                 f"The {attr} of {e.f.path} could not be evaluated: {error.message}", "warning")
        return default

    def key(self, inputs, node) -> tuple | None:
        """The texts of an expression's inputs for this record and node (see
        ``_Plan.inputs``), or None when one is not a text (a malformed answer:
        evaluated as it is)."""
        data = self.data
        key = []
        for parts in inputs:
            if parts is None:
                value = node.value
            else:
                value = data
                for part in parts:
                    if type(value) is dict:
                        value = value.get(part)
                    elif value is not None:
                        return None  # a group sent as a list or a text: read as sent
            if value is None:
                value = ""
            elif type(value) is not str:
                return None
            key.append(value)
        return tuple(key)

    def known(self, e, attr, expr, node, default, key):
        """``holds`` for an expression of a few answers' texts: its value for
        these texts as evaluated for an earlier record when there is one."""
        plan = self.plan
        table = plan.values[expr]
        hit = table.get(key)
        if hit is None:
            try:
                hit = (to_bool(expr.evaluate(node, self.env)), None)
            except FormsError as exc:
                hit = (None, exc)
            if len(table) >= KEPT_VALUES:
                if plan.hits[expr] * 2 < len(table):
                    plan.inputs.pop(expr, None)  # rarely repeated: evaluate each time
                table.clear()
                plan.hits[expr] = 0
            table[key] = hit
        else:
            plan.hits[expr] += 1
        value, error = hit
        if error is None:
            return value
        self.add(node_path(node), "expression_error",
                 f"The {attr} of {e.f.path} could not be evaluated: {error.message}", "warning")
        return default

    def container(self, node, path, shown, relevant, silent):
        value = node.value
        plan = self.plan
        unknown = type(value) is dict and not value.keys() <= plan.known.get(path, _NONE)
        if unknown and path != "meta":
            known = self.fx.child_names.get(path, set())
            for key in value:
                if key not in known:
                    self.add(_join(shown, key), "unknown_field",
                             f"'{_join(shown, key)}' is not a field of this form version.",
                             "warning")
        plain = shown == path  # outside repeats: a field's shown path is its path
        for e in plan.children.get(path, ()):
            raw = value.get(e.name)
            kind = e.kind
            if kind == _LEAF:
                # The common answers that leaf() would pass without a finding or a
                # node: empty and optional, or a plain value (in its list, if any).
                if type(raw) is str:
                    if raw:
                        if relevant and e.easy and (e.choices is None or raw in e.choices):
                            continue
                    elif e.quiet_empty:
                        continue
                elif raw is None and e.quiet_empty:
                    continue
            here = e.path if plain and e.path is not None else (
                f"{shown}/{e.name}" if shown else e.name)
            if kind == _LEAF:
                if type(raw) is str or raw is None:
                    self.leaf(e, node, raw or "", here, relevant, silent)
                else:
                    self.add(here, "type_invalid",
                             f"'{here}' takes one value, not a {type(raw).__name__}.")
            elif kind == _REPEAT:
                self.repeat(e, node, node.children(e.name), here, raw, relevant, silent)
            elif raw is not None and not isinstance(raw, dict):
                self.add(here, "type_invalid", f"'{here}' is a group: expected an object.")
            else:
                self.section(e, node.children(e.name)[0], here, relevant, silent)

    def repeat(self, e, parent, kids, here, raw, relevant, silent):
        if raw is not None and not isinstance(raw, list):
            self.add(here, "type_invalid", f"'{here}' is a repeat: expected a list of objects.")
            return
        if relevant and e.f.repeat_count:
            self.repeat_count(e, parent, kids, here)
        for i, kid in enumerate(kids, 1):
            shown = f"{here}[{i}]"
            if not isinstance(kid.value, dict):
                self.add(shown, "type_invalid", f"'{shown}' is a repeat instance: expected an object.")
                continue
            self.section(e, kid, shown, relevant, silent)

    def repeat_count(self, e, parent, kids, here):
        f = e.f
        probe = Node(parent, f.name, {}, f.path, len(kids) + 1, parent.schema)
        if not self.holds(e, "relevant", e.relevant, probe, True):
            return
        expr = self.fx.expr(f.path, "repeat_count")
        try:
            wanted = to_num(expr.evaluate(probe, self.env))
        except FormsError:
            return
        wanted = int(wanted) if wanted == wanted and not math.isinf(wanted) else 0
        if wanted != len(kids):
            self.add(here, "repeat_count_mismatch",
                     f"'{here}' has {len(kids)} instance(s) but its count "
                     f"({_show(expr.text)}) is {wanted}.")

    def section(self, e, node, shown, relevant, silent):
        own = self.holds(e, "relevant", e.relevant, node, True) if relevant else False
        if relevant and not own and not silent and _has_answer(node.value):
            self.add(shown, "answered_not_relevant",
                     f"'{shown}' has answers but is not relevant ({_show(e.f.relevant)}).",
                     "warning")
            silent = True
        self.container(node, e.f.path, shown, own, silent)

    def leaf(self, e, parent, text, shown, relevant, silent):
        """One value; ``parent`` is its container node, the leaf's node is made on need."""
        node = None
        rel = relevant
        if e.binds:
            node = parent.children(e.name)[0]
            if rel and e.relevant is not None:
                rel = self.holds(e, "relevant", e.relevant, node, True)
            if e.calc:
                device = text if e.name in parent.value else None
                self.calcs.append((e.f, node, shown, rel, device))
        if not rel:
            if text != "" and e.question and not silent:
                self.add(shown, "answered_not_relevant",
                         f"'{shown}' is answered but not relevant ({e.rel_note}).", "warning")
            return
        if text == "":
            if e.required and (e.required == 1 or self.holds(
                e, "required", self.fx.expr(e.f.path, "required"), node, False)
            ):
                self.add(shown, "required_missing", f"'{shown}' is required but empty.")
            return
        if e.meta:
            return
        if e.typed:
            problem = type_problem(e.f.type, text)
            if problem:
                self.add(shown, "type_invalid", f"'{shown}' = '{text}' {problem}.")
                return
        if e.choices is not None and not self.chosen(e, node, text, shown):
            return
        if e.constraint is not None and not self.holds(e, "constraint", e.constraint, node, True):
            self.add(shown, "constraint_failed", f"'{shown}' = '{text}'{e.constraint_tail}")

    def chosen(self, e, node, text, shown) -> bool:
        names = e.choices
        if e.multi:
            values = text.split()
            unknown = [v for v in values if v not in names]
        else:
            values = [text]
            unknown = None if text in names else values
        if unknown:
            self.add(shown, "choice_unknown",
                     f"'{shown}' has {', '.join(repr(v) for v in unknown)}, not in the "
                     f"choice list '{e.f.list_name}'.")
            return False
        filt = e.filter
        if filt is not None:
            try:
                offered = {n.children("name")[0].text() for n in filt.evaluate(node, self.env)}
            except (FormsError, IndexError):
                return True
            excluded = [v for v in values if v not in offered]
            if excluded:
                self.add(shown, "choice_filtered_out",
                         f"'{shown}' has {', '.join(repr(v) for v in excluded)}, which its "
                         f"choice filter ({_show(e.f.choice_filter)}) does not offer.", "warning")
        return True


_CHECKED_TYPES = frozenset({"int", "decimal", "date", "dateTime", "time", "geopoint",
                            "geotrace", "geoshape", "boolean"})


def type_problem(bind_type: str, text: str) -> str | None:
    """Why ``text`` is not a valid value of ``bind_type``, or None."""
    if bind_type == "int":
        if not _INT.match(text):
            return "is not a whole number"
        digits = text.strip().lstrip("+-").lstrip("0")
        if len(digits) > 10 or not INT_MIN <= int(text) <= INT_MAX:
            return f"is a whole number out of range ({INT_MIN} to {INT_MAX})"
        return None
    if bind_type == "decimal":
        return None if _DECIMAL.match(text) else "is not a decimal number"
    if bind_type == "date":
        ok = type(parse_date(text)) is date
        return None if ok else "is not a date (YYYY-MM-DD)"
    if bind_type == "dateTime":
        ok = type(parse_date(text)) is datetime
        return None if ok else "is not a date-time (YYYY-MM-DDTHH:MM:SS with offset)"
    if bind_type == "time":
        return None if parse_time(text) else "is not a time (HH:MM:SS)"
    if bind_type == "geopoint":
        return None if _geopoint(text) else "is not a geopoint ('lat lon [alt [accuracy]]')"
    if bind_type in ("geotrace", "geoshape"):
        points = [p for p in text.split(";") if p.strip()]
        ok = len(points) >= 2 and all(_geopoint(p) for p in points)
        return None if ok else f"is not a {bind_type} (geopoints separated by ';')"
    if bind_type == "boolean":
        return None if text.strip() in ("true", "false", "1", "0") else "is not true or false"
    return None


def _geopoint(text: str) -> bool:
    parts = text.split()
    if not 2 <= len(parts) <= 4 or not all(_DECIMAL.match(p) for p in parts):
        return False
    lat, lon = float(parts[0]), float(parts[1])
    return -90 <= lat <= 90 and -180 <= lon <= 180


def _has_answer(value) -> bool:
    if isinstance(value, dict):
        return any(_has_answer(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_answer(v) for v in value)
    return value is not None and value != ""


def _require_dict(data) -> dict:
    if not isinstance(data, dict):
        raise FormsError("submission_invalid",
                         "A record's data must be an object of answers keyed by field.")
    return data


def _show(expression: str) -> str:
    return " ".join(expression.split())


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def node_path(node) -> str:
    """The indexed path of a node (``members[2]/age``)."""
    parts = []
    while node is not None and node.parent is not None and node.parent.parent is not None:
        repeats = node.schema.repeat_paths
        parts.append(f"{node.name}[{node.index}]" if node.path in repeats else node.name)
        node = node.parent
    return "/".join(reversed(parts))

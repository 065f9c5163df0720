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
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime

from forms.errors import FormsError
from forms.expressions import FormExpressions, form_expressions, record_clock
from forms.model import FormModel
from forms.xpath import Node, parse_date, to_bool, to_num
from forms.xpath.values import format_number, parse_time, str_to_num, to_date, to_str

__all__ = ["Finding", "evaluate_calculates", "normalize_data", "validate_record"]

_INT = re.compile(r"\s*[+-]?\d+\s*$")
_DECIMAL = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")
_UNSTABLE = {"now", "random", "uuid"}


@dataclass(frozen=True)
class Finding:
    path: str
    code: str
    message: str
    severity: str = "error"

    def to_dict(self) -> dict:
        return asdict(self)


def normalize_data(model: FormModel, data: dict) -> dict:
    """Nest a flat (``g/x``) or bare-name keyed dict into the instance's shape.

    Keys that fit nowhere stay as they are (validation reports them); numbers
    become strings and a list of values for a select_multiple becomes one
    space-separated string.
    """
    fx = form_expressions(model)
    out: dict = {}
    _merge(fx, "", data, out)
    return out


def _merge(fx: FormExpressions, prefix: str, src: dict, out: dict) -> None:
    fields = fx.model.fields
    for key, value in src.items():
        path = fx.resolve_key(prefix, key) if isinstance(key, str) else None
        if path is None:
            out.setdefault(key, value)
            continue
        target = out
        rel = path[len(prefix) + 1:] if prefix else path
        parts = rel.split("/")
        for part in parts[:-1]:
            nxt = target.setdefault(part, {})
            if not isinstance(nxt, dict):
                break
            target = nxt
        else:
            f = fields[path]
            target[parts[-1]] = _shape(fx, f, value, target.get(parts[-1]))
            continue
        out.setdefault(key, value)


def _shape(fx: FormExpressions, f, value, existing):
    if type(value) is str and not f.is_container:
        return value
    if f.kind == "repeat":
        items = [value] if isinstance(value, dict) else value
        if not isinstance(items, list):
            return value
        shaped = []
        for item in items:
            if isinstance(item, dict):
                inner: dict = {}
                _merge(fx, f.path, item, inner)
                shaped.append(inner)
            else:
                shaped.append(item)
        return shaped
    if f.kind in ("group", "meta") and isinstance(value, dict):
        inner = existing if isinstance(existing, dict) else {}
        _merge(fx, f.path, value, inner)
        return inner
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(float(value))
    if isinstance(value, list) and f.control == "select" and all(isinstance(v, str) for v in value):
        return " ".join(value)
    return value


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
    run = _Run(fx, env)
    run.container(root, "", "", True, False)
    computed = _compute(fx, env, run.calcs)
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
    run = _Run(fx, env)
    run.quiet = True
    run.container(root, "", "", True, True)
    return _compute(fx, env, run.calcs)


def _compute(fx, env, calcs) -> dict[str, str]:
    """Evaluate calculates in form order, each seeing the ones before it, until stable."""
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
        if not changed:
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


class _Run:
    """One walk over a record: findings, and the calculates met on the way."""

    def __init__(self, fx: FormExpressions, env):
        self.fx = fx
        self.env = env
        self.findings: list[Finding] = []
        self.calcs: list = []
        self.quiet = False

    def add(self, path, code, message, severity="error"):
        if not self.quiet:
            self.findings.append(Finding(path, code, message, severity))

    def holds(self, f, attr, node, default):
        expr = self.fx.expr(f.path, attr)
        if expr is None:
            return default
        try:
            return to_bool(expr.evaluate(node, self.env))
        except FormsError as exc:
            self.add(node_path(node), "expression_error",
                     f"The {attr} of {f.path} could not be evaluated: {exc.message}", "warning")
            return default

    def container(self, node, path, shown, relevant, silent):
        value = node.value
        known = self.fx.child_names.get(path, set())
        if path != "meta":
            for key in value:
                if key not in known:
                    self.add(_join(shown, key), "unknown_field",
                             f"'{_join(shown, key)}' is not a field of this form version.",
                             "warning")
        for f in self.fx.children.get(path, ()):
            here = f"{shown}/{f.name}" if shown else f.name
            raw = value.get(f.name)
            if f.kind == "repeat":
                self.repeat(f, node, node.children(f.name), here, raw, relevant, silent)
            elif f.is_container:
                if raw is not None and not isinstance(raw, dict):
                    self.add(here, "type_invalid", f"'{here}' is a group: expected an object.")
                    continue
                self.section(f, node.children(f.name)[0], here, relevant, silent)
            elif type(raw) is str or raw is None:
                self.leaf(f, node, raw or "", here, relevant, silent)
            else:
                self.add(here, "type_invalid",
                         f"'{here}' takes one value, not a {type(raw).__name__}.")

    def repeat(self, f, parent, kids, here, raw, relevant, silent):
        if raw is not None and not isinstance(raw, list):
            self.add(here, "type_invalid", f"'{here}' is a repeat: expected a list of objects.")
            return
        if relevant and f.repeat_count:
            self.repeat_count(f, parent, kids, here)
        for i, kid in enumerate(kids, 1):
            shown = f"{here}[{i}]"
            if not isinstance(kid.value, dict):
                self.add(shown, "type_invalid", f"'{shown}' is a repeat instance: expected an object.")
                continue
            self.section(f, kid, shown, relevant, silent)

    def repeat_count(self, f, parent, kids, here):
        probe = Node(parent, f.name, {}, f.path, len(kids) + 1, parent.schema)
        if not self.holds(f, "relevant", probe, True):
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

    def section(self, f, node, shown, relevant, silent):
        own = self.holds(f, "relevant", node, True) if relevant else False
        if relevant and not own and not silent and _has_answer(node.value):
            self.add(shown, "answered_not_relevant",
                     f"'{shown}' has answers but is not relevant ({_show(f.relevant)}).",
                     "warning")
            silent = True
        self.container(node, f.path, shown, own, silent)

    def leaf(self, f, parent, text, shown, relevant, silent):
        """One value; ``parent`` is its container node, the leaf's node is made on need."""
        binds = self.fx.binds.get(f.path)
        node = None
        rel = relevant
        if binds:
            node = parent.children(f.name)[0]
            if rel and "relevant" in binds:
                rel = self.holds(f, "relevant", node, True)
            if "calculate" in binds:
                device = text if f.name in parent.value else None
                self.calcs.append((f, node, shown, rel, device))
        if not rel:
            if text != "" and f.kind == "question" and not silent:
                self.add(shown, "answered_not_relevant",
                         f"'{shown}' is answered but not relevant "
                         f"({_show(f.relevant or 'its group')}).", "warning")
            return
        if text == "":
            if f.kind == "question" and f.required and (
                f.required.strip() == "true()" or self.holds(f, "required", node, False)
            ):
                self.add(shown, "required_missing", f"'{shown}' is required but empty.")
            return
        if f.kind == "meta":
            return
        if not self.typed(f, text, shown) or not self.chosen(f, node, text, shown):
            return
        if f.constraint and not self.holds(f, "constraint", node, True):
            message = f.constraint_message or ""
            hint = "" if not message or message.startswith("jr:itext") else f" ({message})"
            self.add(shown, "constraint_failed",
                     f"'{shown}' = '{text}' fails the constraint {_show(f.constraint)}{hint}.")

    def typed(self, f, text, shown) -> bool:
        problem = type_problem(f.type, text)
        if problem:
            self.add(shown, "type_invalid", f"'{shown}' = '{text}' {problem}.")
        return problem is None

    def chosen(self, f, node, text, shown) -> bool:
        if f.control not in ("select1", "select") or f.list_name not in self.fx.choice_sets:
            return True
        names = self.fx.choice_sets[f.list_name]
        values = text.split() if f.control == "select" else [text]
        unknown = [v for v in values if v not in names]
        if unknown:
            self.add(shown, "choice_unknown",
                     f"'{shown}' has {', '.join(repr(v) for v in unknown)}, not in the "
                     f"choice list '{f.list_name}'.")
            return False
        filt = self.fx.expr(f.path, "choice_filter")
        if filt is not None:
            try:
                offered = {n.children("name")[0].text() for n in filt.evaluate(node, self.env)}
            except (FormsError, IndexError):
                return True
            excluded = [v for v in values if v not in offered]
            if excluded:
                self.add(shown, "choice_filtered_out",
                         f"'{shown}' has {', '.join(repr(v) for v in excluded)}, which its "
                         f"choice filter ({_show(f.choice_filter)}) does not offer.", "warning")
        return True


def type_problem(bind_type: str, text: str) -> str | None:
    """Why ``text`` is not a valid value of ``bind_type``, or None."""
    if bind_type == "int":
        return None if _INT.match(text) else "is not a whole number"
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

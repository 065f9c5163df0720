"""Score records with a spec: item values, constructs, named scores.

Pure functions over plain data: no database, no HTTP. A spec is compiled once per
form model into a plan (field accessors, label maps) that is cached on the spec, so
scoring many records costs a few dictionary lookups per item. Scoring runs once per
record at ingest: the plan also remembers what each answer text it has seen is
worth (value, rounded value, warnings), so an answer seen before is not decoded again.

A record's ``data`` may be nested like the XForm instance (groups are objects),
or key fields by path (``econ/has_debt``) or by bare name (``has_debt``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

from forms.model import FormModel
from forms.record import answer_at

from scoring.spec import ITEM_METHODS, Condition, Indicator, Spec, check_spec

_DIGITS = 6
_MAX_PLANS = 256  # (spec, form model) pairs whose compiled plan is kept
_MAX_MEMO = 256  # answer texts remembered per accessor and per item (free text is unbounded)
_EMPTY: dict = {}


class _Accessor:
    """Reads one field's answer out of a record, whichever way it is keyed."""

    __slots__ = ("segs", "path", "name", "choices", "labels", "multi", "memo")

    def __init__(self, model: FormModel, key: str):
        fld = model.resolve(key)
        self.path = fld.path if fld else key
        self.segs = tuple(self.path.split("/"))
        self.name = fld.name if fld else key
        self.multi = bool(fld and fld.is_select_multiple)
        items = model.choices.get(fld.list_name or "", []) if fld else []
        self.choices = frozenset(c.name for c in items)
        self.labels = {
            _norm(text): c.name for c in items for text in c.labels.values() if text
        }
        self.memo: dict[str, str | tuple[str, ...] | None] = {}  # text as stored -> answer

    def find(self, data: dict):
        """The value as stored: at its path in nested data, else keyed by path or name."""
        return answer_at(data, self.path, self.name)

    def answer(self, data: dict):
        """The answer as choice name(s): str for select_one, tuple for select_multiple."""
        return self.decode(self.find(data))

    def decode(self, node):
        """The answer a stored value means (see ``answer``); remembered for str values."""
        if type(node) is str:
            memo = self.memo
            if node in memo:
                return memo[node]
            answer = self._decode(node)
            if len(memo) < _MAX_MEMO:  # free-text answers must not pile up
                memo[node] = answer
            return answer
        return self._decode(node)

    def _decode(self, node):
        text = _text(node)
        if text is None:
            return None
        if self.multi:
            return self._multi(text)
        if text in self.choices:
            return text
        return self.labels.get(_norm(text), text)

    def _multi(self, text: str) -> tuple[str, ...]:
        parts = text.split()
        if all(p in self.choices for p in parts):
            return tuple(parts)
        whole = self.labels.get(_norm(text))
        if whole is not None:
            return (whole,)
        return _decode_labels(text, self.labels) or tuple(parts)


def _text(node) -> str | None:
    """A stored value as stripped text (lists joined by spaces); None if empty or a group."""
    if node is None or node == "":
        return None
    if type(node) is not str:
        if isinstance(node, (list, tuple)):
            node = " ".join(str(x) for x in node)
        elif isinstance(node, dict):
            return None
        else:
            node = str(node)
    node = node.strip()
    return node or None


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _decode_labels(text: str, labels: dict[str, str]) -> tuple[str, ...] | None:
    """Split a Kobo label export like 'Land Tools or equipment' into choice names."""
    rest, out = _norm(text), []
    ordered = sorted(labels, key=len, reverse=True)
    while rest:
        for label in ordered:
            if rest == label or rest.startswith(label + " "):
                out.append(labels[label])
                rest = rest[len(label):].strip()
                break
        else:
            return None
    return tuple(out)


class _Item:
    """A ``choice`` or ``any_of`` indicator compiled: its field and what answers are worth.

    ``memo`` maps a value as stored (a str, e.g. ``"land vehicle"``) to ``(value,
    warnings)``: scoring an answered item is then one dict lookup.
    Unanswered items are not remembered, their value depends on ``not_asked_when``.
    Entries are pure functions of the text, so threads scoring at once may share them.
    """

    __slots__ = ("ind", "acc", "cond", "plan", "memo", "missing", "not_asked")

    def __init__(self, plan: _Plan, ind: Indicator, acc: _Accessor, cond):
        self.ind, self.acc, self.cond, self.plan = ind, acc, cond, plan
        self.memo: dict[str, tuple[float, tuple[str, ...]]] = {}
        self.missing = (ind.missing, ())
        self.not_asked = (ind.not_asked, ())

    def outcomes(self) -> set[float]:
        """Every value this item can take."""
        ind = self.ind
        return {*ind.values.values(), ind.dont_know, ind.refused, ind.missing, ind.not_asked}

    def evaluate(self, node, data: dict) -> tuple[float, tuple[str, ...]]:
        """``(value, warnings)`` of a stored value not yet in ``memo``."""
        answer = self.acc.decode(node)
        any_of = self.ind.method == "any_of"
        if (not answer) if any_of else answer is None:
            if self.cond is not None:
                acc, when = self.cond
                if acc.answer(data) in when:
                    return self.not_asked
            return self.missing
        warnings: list[str] = []
        if any_of:
            value = self._any_of(answer, warnings)
        else:
            value = self._choice(answer, warnings)
        result = (value, tuple(warnings))
        if type(node) is str and len(self.memo) < _MAX_MEMO:
            self.memo[node] = result
        return result

    def _value(self, answer: str) -> float | None:
        value = self.ind.values.get(answer)
        if value is None:
            if answer in self.plan.dont_know:
                return self.ind.dont_know
            if answer in self.plan.refused:
                return self.ind.refused
        return value

    def _choice(self, answer: str, warnings: list[str]) -> float:
        value = self._value(answer)
        if value is None:
            warnings.append(f"{self.ind.name}: answer '{answer}' has no value; scored as missing")
            return self.ind.missing
        return value

    def _any_of(self, answers, warnings: list[str]) -> float:
        best = None
        for answer in answers:
            value = self._value(answer)
            if value is None:
                warnings.append(f"{self.ind.name}: answer '{answer}' has no value; ignored")
            elif best is None or value > best:
                best = value
        return self.ind.missing if best is None else best


class _Construct:
    """A ``mean`` or ``sum_capped`` indicator: computed from indicators above it."""

    __slots__ = ("of", "cap")

    def __init__(self, ind: Indicator):
        self.of = ind.of
        self.cap = None if ind.method == "mean" else ind.cap

    def value(self, values: dict[str, float]) -> float:
        total = sum(map(values.__getitem__, self.of))
        return total / len(self.of) if self.cap is None else min(total, self.cap)


class _Plan:
    """A spec compiled against one form model.

    ``steps`` holds one tuple per indicator, in spec order, laid out for the loop in
    ``score`` (the hot path of ingest): ``(name, item.memo, item, head, leaf)`` for an
    item, with the first and second segment of its path (``leaf`` None for a
    top-level field; both None for deeper paths, read with ``_Accessor.find``), and
    ``(name, None, construct, None, None)`` for a construct. ``terms`` lists, per
    score, ``(indicator, weight)`` in indicator order: the sums add up in the order
    they always have, so scores do not move in the last bit. ``items_rounded`` is
    True when no item value has more than 6 decimals (rss-v1's don't): only the
    constructs, listed in ``constructs``, then need rounding for the report.
    """

    def __init__(self, spec: Spec, model: FormModel):
        self.spec = spec
        self.model = model
        self.dont_know = spec.special_answers["dont_know"]
        self.refused = spec.special_answers["refused"]
        self.only_if = self._cond(spec.only_if)
        self.steps: list[tuple] = []
        heads: dict = {}
        self.constructs: list[str] = []
        self.items_rounded = True
        for ind in spec.indicators:
            if ind.method in ITEM_METHODS:
                acc = _Accessor(model, ind.field)
                item = _Item(self, ind, acc, self._cond(ind.not_asked_when))
                head, leaf = (acc.segs + (None,))[:2] if len(acc.segs) <= 2 else (None, None)
                head = heads.setdefault(head, head)  # one object per group: tested with 'is'
                self.steps.append((ind.name, item.memo, item, head, leaf))
                self.items_rounded &= all(
                    type(v) is float and round(v, _DIGITS) == v for v in item.outcomes()
                )
            else:
                self.constructs.append(ind.name)
                self.steps.append((ind.name, None, _Construct(ind), None, None))
        self.terms = [
            (score, [(ind.name, ind.weights[score]) for ind in spec.indicators
                     if ind.weights.get(score)])
            for score in dict.fromkeys(spec.scores)
        ]

    def _cond(self, cond: Condition | None):
        return (_Accessor(self.model, cond.field), cond.values) if cond else None

    def score(self, data: dict) -> dict:
        spec = self.spec
        if self.only_if is not None:
            acc, allowed = self.only_if
            ans = acc.answer(data)
            if ans is not None and ans not in allowed:
                return {
                    "scoring_version": spec.version,
                    "scores": dict.fromkeys(spec.scores),
                    "indicators": {},
                    "warnings": [f"not scored: '{acc.name}' is '{ans}'"],
                }
        values: dict[str, float] = {}
        warnings: list[str] = []
        top = data if type(data) is dict else _EMPTY  # a dict subclass is read by key only
        group_name, group = None, _EMPTY  # the group last read (items come group by group)
        for name, memo, rule, head, leaf in self.steps:
            if memo is None:  # a construct
                values[name] = rule.value(values)
                continue
            if leaf is not None:  # _Accessor.find, inlined for group/field
                if head is not group_name:
                    group_name, group = head, top.get(head)
                    if type(group) is not dict:
                        group = _EMPTY
                node = group.get(leaf)
                if node is None:  # perhaps keyed flat, by path or name
                    node = rule.acc.find(data)
            elif head is not None:
                node = top.get(head)
            else:
                node = rule.acc.find(data)
            hit = memo.get(node) if type(node) is str else None
            if hit is None:
                hit = rule.evaluate(node, data)
            values[name], found = hit
            if found:
                warnings.extend(found)
        if self.items_rounded:
            shown = values.copy()
            for name in self.constructs:
                shown[name] = round(values[name], _DIGITS)
        else:
            shown = {k: round(v, _DIGITS) for k, v in values.items()}
        scores: dict[str, float] = {}
        for score, terms in self.terms:
            total = 0.0
            for name, w in terms:
                total += w * values[name]
            scores[score] = round(total, _DIGITS)
        return {
            "scoring_version": spec.version,
            "scores": scores,
            "indicators": shown,
            "warnings": warnings,
        }


def plan_for(spec: Spec, model: FormModel, check: bool = True) -> _Plan:
    """The compiled plan of ``spec`` for ``model`` (checked once, then kept here,
    keyed by the two objects; a plan holds both, so an id is never taken for
    another's)."""
    key = (id(spec), id(model))
    cached = _PLANS.get(key)
    if cached is not None and cached.spec is spec and cached.model is model:
        return cached
    if check:
        check_spec(spec, model)
    plan = _Plan(spec, model)
    with _PLANS_LOCK:
        if len(_PLANS) >= _MAX_PLANS:  # models rebuilt per request must not pile up
            _PLANS.pop(next(iter(_PLANS)), None)
        _PLANS[key] = plan
    return plan


_PLANS: dict[tuple[int, int], _Plan] = {}
_PLANS_LOCK = threading.Lock()


def score_record(spec: Spec, model: FormModel, data: dict) -> dict:
    """Score one record's ``data``.

    Returns ``{"scoring_version", "scores": {name: value | None}, "indicators":
    {name: value}, "warnings": [...]}``; values are rounded to 6 decimals. Scores are
    ``None`` when the spec's ``only_if`` rules the record out (e.g. consent = no).
    """
    return plan_for(spec, model).score(data)


def instance_id_of(record: dict) -> str | None:
    """The instanceID of an envelope or of a bare data dict, if it carries one."""
    for key in ("instance_id", "instanceID"):
        if record.get(key):
            return str(record[key])
    meta = record.get("meta")
    if isinstance(meta, dict) and meta.get("instanceID"):
        return str(meta["instanceID"])
    for key in ("meta/instanceID", "_uuid"):
        if record.get(key):
            value = str(record[key])
            return value if key != "_uuid" or value.startswith("uuid:") else f"uuid:{value}"
    return None


def score_many(spec: Spec, model: FormModel, records: Iterable[dict]) -> Iterator[dict]:
    """Score records (envelopes with ``data``, or bare data dicts), lazily, in order.

    Yields ``{"instance_id", "scoring_version", "scores", "indicators", "warnings"}``.
    """
    plan = plan_for(spec, model)
    for record in records:
        data = record.get("data") if isinstance(record.get("data"), dict) else record
        iid = instance_id_of(record) or (instance_id_of(data) if data is not record else None)
        yield {"instance_id": iid, **plan.score(data)}

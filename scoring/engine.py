"""Score records with a spec: item values, constructs, named scores.

Pure functions over plain data: no database, no HTTP. A spec is compiled once per
form model into a plan (field accessors, label maps) that is cached on the spec, so
scoring many records costs a few dictionary lookups per item.

A record's ``data`` may be nested like the XForm instance (groups are objects),
or key fields by path (``econ/has_debt``) or by bare name (``has_debt``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from forms.model import FormModel

from scoring.spec import Condition, Indicator, Spec, check_spec

_DIGITS = 6
_MAX_PLANS = 32


class _Accessor:
    """Reads one field's answer out of a record, whichever way it is keyed."""

    __slots__ = ("segs", "path", "name", "choices", "labels", "multi")

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

    def raw(self, data: dict):
        node = data
        for seg in self.segs:
            if type(node) is not dict:
                node = None
                break
            node = node.get(seg)
            if node is None:
                break
        if node is None and len(self.segs) > 1:
            node = data.get(self.path)
            if node is None:
                node = data.get(self.name)
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

    def answer(self, data: dict):
        """The answer as choice name(s): str for select_one, tuple for select_multiple."""
        text = self.raw(data)
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


class _Plan:
    """A spec compiled against one form model."""

    def __init__(self, spec: Spec, model: FormModel):
        self.spec = spec
        self.model = model
        self.dont_know = spec.special_answers["dont_know"]
        self.refused = spec.special_answers["refused"]
        self.only_if = self._cond(spec.only_if)
        self.steps = []
        for ind in spec.indicators:
            acc = _Accessor(model, ind.field) if ind.field else None
            self.steps.append((ind, acc, self._cond(ind.not_asked_when)))
        self.weights = [
            (ind.name, score, w) for ind in spec.indicators for score, w in ind.weights.items() if w
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
        for ind, acc, cond in self.steps:
            method = ind.method
            if method == "choice":
                values[ind.name] = self._choice(ind, acc, cond, data, warnings)
            elif method == "any_of":
                values[ind.name] = self._any_of(ind, acc, cond, data, warnings)
            elif method == "mean":
                values[ind.name] = sum(values[n] for n in ind.of) / len(ind.of)
            else:
                values[ind.name] = min(sum(values[n] for n in ind.of), ind.cap)
        scores = dict.fromkeys(spec.scores, 0.0)
        for name, score, w in self.weights:
            scores[score] += w * values[name]
        return {
            "scoring_version": spec.version,
            "scores": {k: round(v, _DIGITS) for k, v in scores.items()},
            "indicators": {k: round(v, _DIGITS) for k, v in values.items()},
            "warnings": warnings,
        }

    def _unanswered(self, ind: Indicator, cond, data) -> float:
        if cond is not None:
            acc, when = cond
            if acc.answer(data) in when:
                return ind.not_asked
        return ind.missing

    def _special(self, ind: Indicator, answer: str) -> float | None:
        if answer in self.dont_know:
            return ind.dont_know
        if answer in self.refused:
            return ind.refused
        return None

    def _choice(self, ind, acc, cond, data, warnings) -> float:
        answer = acc.answer(data)
        if answer is None:
            return self._unanswered(ind, cond, data)
        value = ind.values.get(answer)
        if value is None:
            value = self._special(ind, answer)
        if value is None:
            warnings.append(f"{ind.name}: answer '{answer}' has no value; scored as missing")
            return ind.missing
        return value

    def _any_of(self, ind, acc, cond, data, warnings) -> float:
        answers = acc.answer(data)
        if not answers:
            return self._unanswered(ind, cond, data)
        best = None
        for answer in answers:
            value = ind.values.get(answer)
            if value is None:
                value = self._special(ind, answer)
            if value is None:
                warnings.append(f"{ind.name}: answer '{answer}' has no value; ignored")
            elif best is None or value > best:
                best = value
        return ind.missing if best is None else best


def plan_for(spec: Spec, model: FormModel, check: bool = True) -> _Plan:
    """The compiled plan of ``spec`` for ``model`` (checked once, then cached)."""
    key = id(model)
    cached = spec._plans.get(key)
    if cached is not None and cached.model is model:
        return cached
    if check:
        check_spec(spec, model)
    plan = _Plan(spec, model)
    if len(spec._plans) >= _MAX_PLANS:  # models rebuilt per request must not pile up
        spec._plans.pop(next(iter(spec._plans)))
    spec._plans[key] = plan
    return plan


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

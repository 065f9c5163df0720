"""Declarative scoring specs: load one, check it, check it against a form.

A spec is a JSON document (data, never code) with its own version, independent of
the form version, so a deployment can replace the codings or weights and rescore
without republishing the form. Its sections read like the sheets of a workbook,
and every finding names the section (``sheet``) and the 1-based ``row``:

- ``spec``: ``format``, ``version``, ``form_id``, ``title``, ``provenance``,
  ``defaults`` (values for missing, dont_know, refused and not_asked answers),
  ``special_answers`` (which choice names mean "don't know" and "refused") and
  ``only_if`` (score a record only when a field's answer is in a set, e.g. consent).
- ``scores``: the named scores (``economic``, ``social``, ``psychosocial``, ``composite``).
- ``value_sets``: named maps from choice name to value in [0, 1] (``rating5`` ...).
- ``indicators``: one row per item or construct, in evaluation order, with a
  ``weights`` map from score name to weight. docs/scoring.md describes every column.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from dataclasses import field as _field
from pathlib import Path

from forms.model import FormModel

from scoring.errors import ScoringError

FORMAT = "fieldsync-scoring-spec/1"
SPECS_DIR = Path(__file__).resolve().parent / "specs"
SPECS_ENV = "FIELDSYNC_SCORING_SPECS"
METHODS = ("choice", "any_of", "mean", "sum_capped")
ITEM_METHODS = ("choice", "any_of")
DEFAULT_KINDS = ("missing", "dont_know", "refused", "not_asked")
WEIGHT_TOLERANCE = 1e-6
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass(frozen=True)
class Condition:
    """True when ``field``'s answer is one of ``values``."""

    field: str
    values: frozenset[str]


@dataclass(frozen=True)
class Indicator:
    """One row of the ``indicators`` section, with value sets and defaults resolved."""

    name: str
    method: str
    row: int
    field: str | None = None
    values: dict[str, float] = _field(default_factory=dict)
    value_set: str | None = None
    of: tuple[str, ...] = ()
    cap: float | None = None
    missing: float = 0.5
    dont_know: float = 0.5
    refused: float = 0.5
    not_asked: float = 0.5
    not_asked_when: Condition | None = None
    weights: dict[str, float] = _field(default_factory=dict)
    ref: str | None = None
    label: str | None = None


@dataclass
class Spec:
    """A loaded, self-consistent scoring spec (not yet checked against a form)."""

    version: str
    form_id: str | None
    title: str
    provenance: str
    scores: list[str]
    indicators: list[Indicator]
    special_answers: dict[str, frozenset[str]]
    only_if: Condition | None
    document: dict
    sha256: str

    def indicator(self, name: str) -> Indicator | None:
        return next((i for i in self.indicators if i.name == name), None)

    def weight_sums(self) -> dict[str, float]:
        sums = {s: 0.0 for s in self.scores}
        for ind in self.indicators:
            for score, w in ind.weights.items():
                sums[score] = sums.get(score, 0.0) + w
        return sums


class _Findings:
    def __init__(self):
        self.errors: list[dict] = []

    def add(self, sheet: str, row: int | None, name: str | None, message: str) -> None:
        self.errors.append({"sheet": sheet, "row": row, "name": name, "message": message})

    def raise_if_any(self, code: str, what: str) -> None:
        if not self.errors:
            return
        first = self.errors[0]
        where = f"'{first['sheet']}' row {first['row']}" if first["row"] else f"'{first['sheet']}'"
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        raise ScoringError(
            code, f"{what}: {where}: {first['message']}{more}", {"errors": self.errors}
        )


# -- loading -----------------------------------------------------------------------


def spec_dirs(extra: list[str | os.PathLike] | None = None) -> list[Path]:
    """Where installed specs live: ``extra``, then ``$FIELDSYNC_SCORING_SPECS``, then ours."""
    dirs = [Path(d) for d in (extra or [])]
    env = os.environ.get(SPECS_ENV, "")
    dirs += [Path(d) for d in env.split(os.pathsep) if d]
    return dirs + [SPECS_DIR]


def available_specs(dirs: list[str | os.PathLike] | None = None) -> dict[str, Path]:
    """``{version: path}`` of every ``<version>.json`` spec; earlier dirs win."""
    found: dict[str, Path] = {}
    for d in spec_dirs(dirs):
        if d.is_dir():
            for path in sorted(d.glob("*.json")):
                found.setdefault(path.stem, path)
    return found


_CACHE: dict[tuple[str, int], Spec] = {}


def load_spec(source, dirs: list[str | os.PathLike] | None = None) -> Spec:
    """Load a spec from a version name (``"rss-v1"``), a path, JSON text/bytes or a dict."""
    if isinstance(source, Spec):
        return source
    if isinstance(source, dict):
        return parse_spec(source)
    if isinstance(source, bytes):
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError:
            raise ScoringError("scoring_spec_invalid", "The spec is not UTF-8 text; save "
                               "the JSON file as UTF-8.") from None
        return parse_spec(_json(text, "the spec"))
    text = str(source)
    if isinstance(source, str) and text.lstrip().startswith("{"):
        return parse_spec(_json(text, "the spec"))
    path = Path(text)
    if not (path.suffix == ".json" or path.exists()):
        specs = available_specs(dirs)
        if text not in specs:
            raise ScoringError(
                "scoring_spec_unknown",
                f"No scoring spec '{text}' is installed; known specs: "
                f"{', '.join(sorted(specs)) or 'none'}.",
                {"version": text, "known": sorted(specs)},
            )
        path = specs[text]
    try:
        key = (str(path.resolve()), path.stat().st_mtime_ns)
        if key not in _CACHE:
            _CACHE[key] = parse_spec(_json(path.read_text(encoding="utf-8"), path.name))
        return _CACHE[key]
    except OSError as exc:
        raise ScoringError(
            "scoring_spec_unknown", f"The scoring spec file '{path}' cannot be read: {exc}."
        ) from None


def _json(text: str, what: str) -> dict:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScoringError(
            "scoring_spec_invalid",
            f"{what} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}.",
            {"errors": [{"sheet": "spec", "row": exc.lineno, "name": None,
                         "message": exc.msg}]},
        ) from None
    except RecursionError:
        raise ScoringError("scoring_spec_invalid", f"{what} nests too deeply.") from None
    if not isinstance(doc, dict):
        raise ScoringError("scoring_spec_invalid", f"{what} must be a JSON object.")
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ScoringError("scoring_spec_invalid", f"{what} holds a lone UTF-16 surrogate "
                           "(an unpaired \\ud800-\\udfff escape); write the text as UTF-8."
                           ) from None
    except RecursionError:
        raise ScoringError("scoring_spec_invalid", f"{what} nests too deeply.") from None
    return doc


def parse_spec(doc: dict) -> Spec:
    """Build a :class:`Spec` from its JSON document; raise with every finding."""
    f = _Findings()
    if doc.get("format") != FORMAT:
        f.add("spec", None, "format", f"'format' must be '{FORMAT}'.")
    version = doc.get("version")
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        f.add("spec", None, "version", "'version' must be a label like 'rss-v1' "
              "(letters, digits, '_', '-', '.').")
    provenance = doc.get("provenance")
    if not isinstance(provenance, str) or not provenance.strip():
        f.add("spec", None, "provenance", "'provenance' must say where the codings come from.")
    defaults = _defaults(doc.get("defaults", {}), f)
    special = {
        kind: frozenset(doc.get("special_answers", {}).get(kind, [kind]))
        for kind in ("dont_know", "refused")
    }
    only_if = _condition(doc.get("only_if"), "spec", None, "only_if", f)
    scores = _scores(doc.get("scores"), f)
    value_sets = _value_sets(doc.get("value_sets", []), f)
    indicators = _indicators(doc.get("indicators"), scores, value_sets, defaults, f)
    spec = Spec(
        version=version if isinstance(version, str) else "",
        form_id=doc.get("form_id"),
        title=str(doc.get("title") or version or ""),
        provenance=provenance if isinstance(provenance, str) else "",
        scores=scores,
        indicators=indicators,
        special_answers=special,
        only_if=only_if,
        document=doc,
        sha256=hashlib.sha256(
            json.dumps(doc, sort_keys=True, ensure_ascii=False).encode("utf-8")
        ).hexdigest(),
    )
    _check_weights(spec, f)
    f.raise_if_any("scoring_spec_invalid", "The scoring spec is invalid")
    return spec


def _is_unit(value) -> bool:
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool)
        and math.isfinite(value) and 0 <= value <= 1
    )


def _defaults(raw, f: _Findings) -> dict[str, float]:
    out = {kind: 0.5 for kind in DEFAULT_KINDS}
    if not isinstance(raw, dict):
        f.add("spec", None, "defaults", "'defaults' must be an object.")
        return out
    for kind, value in raw.items():
        if kind not in DEFAULT_KINDS:
            f.add("spec", None, "defaults", f"unknown default '{kind}'; use one of "
                  f"{', '.join(DEFAULT_KINDS)}.")
        elif not _is_unit(value):
            f.add("spec", None, "defaults", f"default '{kind}' must be a number in [0, 1].")
        else:
            out[kind] = float(value)
    return out


def _condition(raw, sheet, row, name, f: _Findings) -> Condition | None:
    if raw is None:
        return None
    if (
        not isinstance(raw, dict) or not isinstance(raw.get("field"), str)
        or not isinstance(raw.get("in"), list) or not raw["in"]
        or not all(isinstance(v, str) for v in raw["in"])
    ):
        f.add(sheet, row, name, "a condition must be {\"field\": NAME, \"in\": [CHOICE, ...]}.")
        return None
    return Condition(raw["field"], frozenset(raw["in"]))


def _rows(raw, sheet, f: _Findings) -> list[tuple[int, dict]]:
    if not isinstance(raw, list):
        f.add(sheet, None, None, f"'{sheet}' must be a list of rows.")
        return []
    out = []
    for i, row in enumerate(raw, start=1):
        if not isinstance(row, dict):
            f.add(sheet, i, None, "each row must be an object.")
        elif not isinstance(row.get("name"), str) or not _NAME_RE.match(row["name"]):
            f.add(sheet, i, None, "'name' must be an identifier (letters, digits, '_').")
        else:
            out.append((i, row))
    return out


def _scores(raw, f: _Findings) -> list[str]:
    names: list[str] = []
    for i, row in _rows(raw, "scores", f):
        if row["name"] in names:
            f.add("scores", i, row["name"], f"score '{row['name']}' is declared twice.")
        else:
            names.append(row["name"])
    if isinstance(raw, list) and not names:
        f.add("scores", None, None, "declare at least one score.")
    return names


def _value_sets(raw, f: _Findings) -> dict[str, dict[str, float]]:
    sets: dict[str, dict[str, float]] = {}
    for i, row in _rows(raw, "value_sets", f):
        values = _values(row.get("values"), "value_sets", i, row["name"], f)
        if row["name"] in sets:
            f.add("value_sets", i, row["name"], f"value set '{row['name']}' is declared twice.")
        sets[row["name"]] = values
    return sets


def _values(raw, sheet, row, name, f: _Findings) -> dict[str, float]:
    if not isinstance(raw, dict) or not raw:
        f.add(sheet, row, name, "'values' must map choice names to numbers in [0, 1].")
        return {}
    out = {}
    for choice, value in raw.items():
        if not _is_unit(value):
            f.add(sheet, row, name, f"the value of '{choice}' must be a number in [0, 1].")
        else:
            out[choice] = float(value)
    return out


def _indicators(raw, scores, value_sets, defaults, f: _Findings) -> list[Indicator]:
    out: list[Indicator] = []
    seen: set[str] = set()
    rows = _rows(raw, "indicators", f)
    all_names = {row["name"] for _, row in rows}
    for i, row in rows:
        name = row["name"]
        if name in seen:
            f.add("indicators", i, name, f"indicator '{name}' is declared twice.")
        seen.add(name)
        method = row.get("method", "choice")
        if method not in METHODS:
            f.add("indicators", i, name, f"unknown method '{method}'; use one of "
                  f"{', '.join(METHODS)}.")
            continue
        kw: dict = {"name": name, "method": method, "row": i, "ref": row.get("ref"),
                    "label": row.get("label")}
        for kind in ("missing", "dont_know", "refused"):
            value = row.get(kind, defaults[kind])
            if not _is_unit(value):
                f.add("indicators", i, name, f"'{kind}' must be a number in [0, 1].")
                value = defaults[kind]
            kw[kind] = float(value)
        if method in ITEM_METHODS:
            _item_columns(row, i, value_sets, defaults, kw, f)
        else:
            _construct_columns(row, i, all_names, out, kw, f)
        kw["weights"] = _weights(row.get("weights", {}), scores, i, name, f)
        out.append(Indicator(**kw))
    return out


def _item_columns(row, i, value_sets, defaults, kw, f: _Findings) -> None:
    name = row["name"]
    if not isinstance(row.get("field"), str) or not row["field"]:
        f.add("indicators", i, name, f"method '{kw['method']}' needs a 'field'.")
    kw["field"] = row.get("field")
    raw = row.get("values")
    if isinstance(raw, str):
        if raw not in value_sets:
            f.add("indicators", i, name, f"value set '{raw}' is not declared in 'value_sets'.")
        kw["value_set"], kw["values"] = raw, dict(value_sets.get(raw, {}))
    else:
        kw["values"] = _values(raw, "indicators", i, name, f)
    not_asked = row.get("not_asked")
    kw["not_asked"] = defaults["not_asked"]
    if not_asked is not None:
        if not isinstance(not_asked, dict):
            f.add("indicators", i, name, "'not_asked' must be {\"when\": CONDITION, \"value\": N}.")
            return
        kw["not_asked_when"] = _condition(not_asked.get("when"), "indicators", i, name, f)
        value = not_asked.get("value", defaults["not_asked"])
        if not _is_unit(value):
            f.add("indicators", i, name, "'not_asked' value must be a number in [0, 1].")
        else:
            kw["not_asked"] = float(value)


def _construct_columns(row, i, all_names, out, kw, f: _Findings) -> None:
    name = row["name"]
    of = row.get("of")
    if not isinstance(of, list) or not of or not all(isinstance(x, str) for x in of):
        f.add("indicators", i, name, f"method '{kw['method']}' needs 'of': a list of "
              "indicator names.")
        return
    defined = {ind.name for ind in out}
    for part in of:
        if part not in defined:
            where = "is declared later" if part in all_names else "is not declared"
            f.add("indicators", i, name, f"'of' names '{part}', which {where}; "
                  "a construct may only use indicators declared above it.")
    kw["of"] = tuple(of)
    if kw["method"] == "sum_capped":
        cap = row.get("cap", 1)
        if not isinstance(cap, (int, float)) or isinstance(cap, bool):
            f.add("indicators", i, name, "'cap' must be a number.")
            cap = 1
        kw["cap"] = float(cap)


def _weights(raw, scores, i, name, f: _Findings) -> dict[str, float]:
    if not isinstance(raw, dict):
        f.add("indicators", i, name, "'weights' must map score names to numbers.")
        return {}
    out = {}
    for score, w in raw.items():
        if score not in scores:
            f.add("indicators", i, name, f"weight for '{score}', which is not a declared score.")
        elif not _is_unit(w):
            f.add("indicators", i, name, f"the weight for '{score}' must be a number in [0, 1].")
        else:
            out[score] = float(w)
    return out


def _check_weights(spec: Spec, f: _Findings) -> None:
    for i, score in enumerate(spec.scores, start=1):
        total = spec.weight_sums().get(score, 0.0)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            f.add("scores", i, score, f"the weights of score '{score}' sum to {total:.6g}, "
                  "not 1; fix the 'weights' of its indicators.")


# -- checking against a form --------------------------------------------------------


def check_spec(spec: Spec, model: FormModel) -> None:
    """Check that every field and choice the spec names exists in the form.

    Run it when a form is published (and when a spec is installed for a form).
    Raises ``ScoringError("scoring_spec_form_mismatch")`` listing every finding.
    """
    f = _Findings()
    if spec.only_if is not None:
        _check_condition(spec.only_if, model, "spec", None, "only_if", f)
    for ind in spec.indicators:
        if ind.method not in ITEM_METHODS:
            continue
        fld = model.resolve(ind.field or "")
        if fld is None:
            f.add("indicators", ind.row, ind.name, f"field '{ind.field}' is not in form "
                  f"'{model.form_id}' version '{model.version}' (or its name is not unique).")
            continue
        want = "select_multiple" if ind.method == "any_of" else "select_one"
        ok = fld.is_select_multiple if ind.method == "any_of" else fld.is_select_one
        if not ok:
            f.add("indicators", ind.row, ind.name, f"method '{ind.method}' needs a {want} "
                  f"question, but '{fld.path}' is not one.")
            continue
        if fld.repeat:
            f.add("indicators", ind.row, ind.name, f"'{fld.path}' is inside repeat "
                  f"'{fld.repeat}'; scoring reads one answer per record.")
        choices = model.choice_names(fld.list_name or "")
        for choice in ind.values:
            if choice not in choices:
                f.add("indicators", ind.row, ind.name, f"choice '{choice}' is not in list "
                      f"'{fld.list_name}' of field '{fld.path}'.")
        specials = spec.special_answers["dont_know"] | spec.special_answers["refused"]
        for choice in sorted(choices - set(ind.values) - specials):
            f.add("indicators", ind.row, ind.name, f"choice '{choice}' of list "
                  f"'{fld.list_name}' has no value; add it to the indicator's values.")
        if ind.not_asked_when is not None:
            _check_condition(ind.not_asked_when, model, "indicators", ind.row, ind.name, f)
    f.raise_if_any(
        "scoring_spec_form_mismatch",
        f"Scoring spec '{spec.version}' does not fit form '{model.form_id}' "
        f"version '{model.version}'",
    )


def _check_condition(cond: Condition, model, sheet, row, name, f: _Findings) -> None:
    fld = model.resolve(cond.field)
    if fld is None:
        f.add(sheet, row, name, f"condition field '{cond.field}' is not in the form.")
        return
    choices = model.choice_names(fld.list_name or "")
    for value in sorted(cond.values - choices):
        f.add(sheet, row, name, f"condition value '{value}' is not a choice of "
              f"'{fld.path}' (list '{fld.list_name}').")


# -- which spec does a form use -----------------------------------------------------


def declared_spec_version(model: FormModel) -> str | None:
    """The version a form names in its ``scoring_spec`` calculate (``'rss-v1'``), if any."""
    fld = model.resolve("scoring_spec")
    expr = (fld.calculate or "").strip() if fld is not None else ""
    match = re.fullmatch(r"(['\"])([^'\"]+)\1", expr)
    return match.group(2) if match else None


def spec_for_form(
    model: FormModel,
    version: str | None = None,
    dirs: list[str | os.PathLike] | None = None,
) -> Spec | None:
    """The checked spec a form is scored with, or ``None`` if it is not scored.

    Chooses ``version`` if given, else the version the form declares in its
    ``scoring_spec`` calculate, else the newest installed spec whose ``form_id`` is
    the form's. Raises ``ScoringError`` if that spec is unknown, invalid or does not
    fit the form.
    """
    version = version or declared_spec_version(model)
    if version is None:
        matching = []
        for name, path in available_specs(dirs).items():
            try:
                spec = load_spec(path)
            except ScoringError:
                continue
            if spec.form_id == model.form_id:
                matching.append((name, spec))
        if not matching:
            return None
        spec = max(matching, key=lambda item: _natural(item[0]))[1]
    else:
        spec = load_spec(version, dirs)
    check_spec(spec, model)
    return spec


def _natural(text: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]

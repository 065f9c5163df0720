"""A record's answers laid out as its form is: groups in order, repeats as
tables, labels (and choice labels) in the form's language that matches the
console's, and each validation finding beside the answer it concerns."""

from __future__ import annotations

from forms.model import Field, FormModel


def form_language(model: FormModel, lang: str) -> str | None:
    """The form language for console language ``lang`` (``French (fr)`` for fr)."""
    for name in model.languages:
        if name == lang or name.endswith(f"({lang})"):
            return name
    return model.languages[0] if model.languages else None


def text_in(labels: dict[str, str], language: str | None) -> str | None:
    if not labels:
        return None
    return labels.get(language) or labels.get("default") or next(iter(labels.values()))


def sections(model: FormModel | None, data: dict, findings: list[dict],
             lang: str) -> list[dict]:
    """``[{"path", "label", "answers": [...], "repeats": [...]}]``, the top level
    first. Without the form's model (quarantined), one section of raw paths."""
    by_path: dict[str, list[dict]] = {}
    for f in findings or []:
        by_path.setdefault(f.get("path") or "", []).append(f)
    if model is None:
        from server.review.record import flatten

        return [{"path": "", "label": None, "repeats": [], "answers": [
            {"path": p, "label": p, "value": v, "shown": v, "findings": by_path.get(p, [])}
            for p, v in flatten(data).items()]}]
    language = form_language(model, lang)
    out: dict[str, dict] = {"": {"path": "", "label": None, "answers": [], "repeats": []}}
    for f in model.fields.values():
        if f.kind in ("meta", "calculate") or f.calculate or f.path.startswith("meta/"):
            continue
        if f.repeat and f.path != f.repeat:
            continue  # inside a repeat: shown in the repeat's table
        if f.kind == "repeat" or (f.is_container and f.path == f.repeat):
            owner = out.setdefault(f.parent or "", _section(model, f.parent, language))
            owner["repeats"].append(_repeat(model, f, data, language, by_path))
        elif f.is_container:
            out.setdefault(f.path, _section(model, f.path, language))
        else:
            value = _value(data, f.path)
            if (value is None or value == "") and f.path not in by_path:
                continue  # notes, unanswered and not-relevant questions
            section = out.setdefault(f.parent or "", _section(model, f.parent, language))
            section["answers"].append({
                "path": f.path, "label": text_in(f.labels, language) or f.name,
                "value": value, "shown": _shown(model, f, value, language),
                "findings": by_path.get(f.path, [])})
    return [s for s in out.values() if s["answers"] or s["repeats"]]


def _section(model: FormModel, path: str | None, language: str | None) -> dict:
    f = model.fields.get(path) if path else None
    return {"path": path or "", "label": text_in(f.labels, language) if f else None,
            "answers": [], "repeats": []}


def _repeat(model, rep: Field, data: dict, language, by_path) -> dict:
    columns = [f for f in model.questions()
               if f.repeat == rep.path and not f.calculate and f.kind != "meta"]
    rows = []
    for item in _value(data, rep.path, keep_lists=True) or []:
        if not isinstance(item, dict):
            continue
        row = []
        for f in columns:
            value = _value(item, f.path[len(rep.path) + 1:])
            row.append(_shown(model, f, value, language))
        rows.append(row)
    return {"path": rep.path, "label": text_in(rep.labels, language) or rep.name,
            "columns": [text_in(f.labels, language) or f.name for f in columns],
            "rows": rows, "findings": [x for p, fs in by_path.items()
                                       if p.startswith(rep.path + "/") for x in fs]}


def _value(data, path: str, keep_lists: bool = False):
    node = data
    for part in path.split("/"):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    if isinstance(node, list) and not keep_lists:
        return None
    return node


def _shown(model: FormModel, f: Field, value, language) -> str:
    """The answer as a person reads it: choice labels for selects."""
    if value is None or value == "":
        return ""
    if f.list_name and isinstance(value, str):
        choices = {c.name: c for c in model.choices.get(f.list_name, [])}
        names = value.split() if f.is_select_multiple else [value]
        return ", ".join(text_in(choices[n].labels, language) or n if n in choices else n
                         for n in names)
    return str(value)

"""Filling a form in the terminal: the questions in order, as the form says.

``fill`` walks the cached model's fields in document order and asks each
question through the ``ask`` function it is given (the CLI passes a prompt;
tests pass answers). Relevance, constraints, types and required answers are
judged by ``forms.validate.validate_record`` on the record as it grows, so the
device applies exactly the rules the server will; select lists are shown as
numbered choices. Every answer is kept as a draft, so an interrupted entry is
not lost; the finished record is finalized into the outbox with a new
``uuid:`` instanceID.

A form that reads an entity list (``sync.lists``) picks from the list the
device pulled; the pick fills in the answers the form copies from it (shown as
the default; Enter keeps it), and the record carries the entity block the form
computes, as Collect's does. A pick from a list that holds nothing for this
device is not asked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from forms.entities import evaluate_text
from forms.model import Field, FormModel, compile_xform
from forms.record import put_answer
from forms.validate import evaluate_calculates, validate_record
from sync.device_store import DeviceStore, new_instance_id
from sync.errors import SyncError
from sync.lists import ListForm

__all__ = ["fill"]

REJECTING = {"type_invalid", "choice_unknown", "constraint_failed", "required_missing"}
YES = {"y", "yes", "o", "oui"}
Ask = Callable[..., str]


def fill(db_path: str | Path, form_id: str, *, ask: Ask, say: Callable[[str], None],
         version: str | None = None, language: str | None = None,
         now: Callable[[], datetime] | None = None) -> dict:
    """Enter one record of ``form_id``; returns ``{instance_id, form_id, form_version}``."""
    clock = now or (lambda: datetime.now(timezone.utc))
    with DeviceStore.open(db_path) as store:
        ident = store.identity()
        cached = store.form_model(form_id, version)
        # The XForm is the source of document order (the model JSON sorts its keys).
        xform = store.form_xform(cached.form_id, cached.version)
        model = compile_xform(xform)
        lists = ListForm(model, xform, store)
        session = _Session(model, store, ask, say, _language(model, language), lists, clock)
        started = clock()
        lists.first_load(session.data, started)
        draft_id = store.save_draft(model.form_id, model.version, session.data)
        session.draft_id = draft_id
        say(f"{model.title} ({model.form_id} {model.version})")
        session.walk(None, session.data, "")
        data = session.data
        _fill_preloads(model, data, started, clock(), ident["device_id"])
        _fill_calculates(model, data, clock())
        record = {"instance_id": new_instance_id(), "form_id": model.form_id,
                  "form_version": model.version, "deprecated_id": None, "data": data,
                  "attachments": session.attachments}
        block = lists.entity_block(data, clock())
        if block is not None:
            record["entity"] = block
        store.finalize_draft(draft_id, record)
        say(f"finalized {record['instance_id']}: queued for push")
        return {"instance_id": record["instance_id"], "form_id": model.form_id,
                "form_version": model.version}


class _Session:
    def __init__(self, model: FormModel, store: DeviceStore, ask: Ask, say, language,
                 lists: ListForm, clock: Callable[[], datetime]):
        self.model = model
        self.lists = lists
        self.clock = clock
        self.store = store
        self.ask = ask
        self.say = say
        self.language = language
        self.data: dict = {}
        self.attachments: list[dict] = []
        self.draft_id: str | None = None
        self.children: dict[str | None, list[Field]] = {}
        for f in model.fields.values():
            self.children.setdefault(f.parent, []).append(f)

    def walk(self, parent: str | None, node: dict, shown: str) -> None:
        for f in self.children.get(parent, []):
            if f.kind == "group":
                inner = node.setdefault(f.name, {})
                self.walk(f.path, inner, f"{shown}{f.name}/")
                if not inner:
                    node.pop(f.name)
            elif f.kind == "repeat":
                self.repeat(f, node, shown)
            elif f.kind == "question":
                self.question(f, node, f"{shown}{f.name}")

    def repeat(self, f: Field, node: dict, shown: str) -> None:
        items = node.setdefault(f.name, [])
        label = self.label(f.labels) or f.name
        while self.ask(f"Add {'another' if items else 'a'} '{label}'? [y/N]",
                       default="n").strip().lower() in YES:
            item: dict = {}
            items.append(item)
            self.walk(f.path, item, f"{shown}{f.name}[{len(items)}]/")
        if not items:
            node.pop(f.name)

    def question(self, f: Field, node: dict, shown: str) -> None:
        if not self.relevant(node, f.name, shown) or self.lists.is_empty_pick(f.list_name):
            return
        label = self.label(f.labels) or f.name
        if (f.readonly or "").replace(" ", "") == "true()":
            self.say(label)  # a note
            return
        prefilled = node.get(f.name)
        if prefilled and f.readonly and evaluate_text(
                self.model, self.data, f"boolean({f.readonly})", self.clock()) == "true":
            self.say(f"{label}: {prefilled}")  # filled in from a list, not to be changed
            return
        choices = self.model.choices.get(f.list_name or "", []) if f.list_name else []
        while True:
            if choices:
                self.say(label + (" (several: numbers separated by spaces)"
                                  if f.is_select_multiple else ""))
                for i, c in enumerate(choices, 1):
                    self.say(f"  {i}. {self.label(c.labels) or c.name}")
            raw = self.ask(label if not choices else "choice", default=prefilled).strip()
            if raw == "" and prefilled:
                raw = prefilled
            value = self.to_value(f, raw, choices)
            if value is None:
                self.say("  not one of the numbered choices; try again")
                continue
            if value == "":
                node.pop(f.name, None)
            else:
                node[f.name] = value
            problems = [p for p in validate_record(self.model, self.data)
                        if p.path == shown and p.code in REJECTING]
            if not problems:
                if f.repeat is None:
                    self.lists.changed(f.path, self.data, self.clock())
                self.store.save_draft(self.model.form_id, self.model.version, self.data,
                                      self.draft_id)
                return
            node.pop(f.name, None)
            msg = f.constraint_message if problems[0].code == "constraint_failed" else None
            if msg and msg.startswith("jr:itext("):
                msg = None  # a translated message the model does not carry
            self.say(f"  {msg or problems[0].message}")

    def relevant(self, node: dict, name: str, shown: str) -> bool:
        """Put a placeholder answer (or keep a prefilled one) and see whether the
        form calls it not relevant."""
        held = node.get(name)
        node[name] = held or "x"
        try:
            return not any(p.code == "answered_not_relevant"
                           and (p.path == shown or shown.startswith(p.path + "/"))
                           for p in validate_record(self.model, self.data))
        finally:
            if held is None:
                node.pop(name, None)

    def to_value(self, f: Field, raw: str, choices) -> str | None:
        if f.type == "binary" and raw:
            entry = self.store.add_attachment(Path(raw).expanduser())
            self.attachments.append(entry)
            return entry["name"]
        if not choices or not raw:
            return raw
        picked = []
        for token in re.split(r"[\s,]+", raw) if f.is_select_multiple else [raw]:
            names = [c.name for c in choices]
            if token.isdigit() and 1 <= int(token) <= len(choices):
                picked.append(choices[int(token) - 1].name)
            elif token in names:
                picked.append(token)
            else:
                return None
        return " ".join(picked)

    def label(self, labels: dict[str, str]) -> str:
        if not labels:
            return ""
        return labels.get(self.language) or labels.get("default") or next(iter(labels.values()))


def _language(model: FormModel, wanted: str | None) -> str | None:
    if not wanted:
        return model.languages[0] if model.languages else None
    for lang in model.languages:
        if lang == wanted or f"({wanted})" in lang or lang.lower().startswith(wanted.lower()):
            return lang
    raise SyncError("fill_aborted", f"Form '{model.form_id}' has no language '{wanted}'; "
                    f"use one of: {', '.join(model.languages) or 'default'}.")


def _fill_preloads(model: FormModel, data: dict, started: datetime, ended: datetime,
                   device_id: str) -> None:
    for f in model.fields.values():
        if f.parent is not None or not f.preload:
            continue
        if f.preload == "timestamp":
            data[f.name] = (ended if f.name == "end" else started).isoformat(
                timespec="milliseconds")
        elif f.preload == "date":
            data[f.name] = ended.date().isoformat()
        elif f.preload == "property" and f.name == "deviceid":
            data[f.name] = f"fieldsync:{device_id}"


def _fill_calculates(model: FormModel, data: dict, now: datetime) -> None:
    """Store the form's calculates in the record, as Collect does."""
    for path, value in evaluate_calculates(model, data, now).items():
        if model.fields.get(re.sub(r"\[\d+\]", "", path)) is not None:
            put_answer(data, path, value)

"""Probable-duplicate detection for one batch: the face ingest calls.

One ``Detector`` per batch, four calls, in this order::

    detector = Detector(db)
    desc = detector.describe(model, form_id, data, ...)  # each record, before the write lock
    with write_transaction(db):
        detector.check(row, desc)    # before the row's insert: may add the flag to row
        ...insert the row...
        detector.record(row, desc)   # after it (the row has its id): keys and matches
    detector.close()                 # after the commit

``describe`` is the CPU work (key, answer summary) and reads the form's rules;
``check`` runs the rules (``server.dedup.rules``) against the candidates the
batch's lookups find (``server.dedup.lookups``); ``record`` stores the record's
key row, which the records after it find, and its matches; ``close`` hands
the batch's keys to the typo rule's map (``server.dedup.typo_map``). A batch
that rolls back is simply not closed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from sqlite_utils import Database

from forms.model import FormModel
from forms.record import answer_at
from server.dedup import keys, rules, similarity
from server.dedup.lookups import Lookups
from server.store import duplicates as dup_q

FLAG = "probable_duplicate"


@dataclass
class Description:
    """A record as the rules see it (made by ``Detector.describe``)."""

    form_id: str
    rules: rules.Rules
    parts: keys.KeyParts | None
    day: int | None
    device: str | None
    enumerator: str | None
    fields: similarity.ComparedFields
    data: dict                       # the answers, normalised only if compared
    layout: int
    summary: tuple[int, int] | None
    variants: tuple[str, ...]        # the person key's deletion variants (the typo rule)
    matches: list[dict] | None = None  # set by ``check``


def rules_for(db: Database, form_id: str) -> rules.Rules:
    """The form's duplicate rules (the defaults where it sets none)."""
    return _parsed(dup_q.get_rules_text(db, form_id))


@lru_cache(maxsize=64)
def _parsed(text: str | None) -> rules.Rules:
    return rules.Rules.from_dict(json.loads(text) if text else None)  # Rules is frozen


class Detector:
    """Probable-duplicate detection for one batch (see the module's doc)."""

    def __init__(self, db: Database):
        self.db = db
        self._rules: dict[str, rules.Rules] = {}
        self._described: list[Description] = []
        self._lookups: Lookups | None = None  # read at the first check

    def describe(self, model: FormModel | None, form_id: str, data: dict, *,
                 origin: dict | None = None, device_id: str | None = None,
                 user: str | None = None, received_at: str | None = None
                 ) -> Description | None:
        """The record as the rules see it; None when detection does not apply (a
        quarantined record, checked when released; a form with detection off)."""
        if model is None:
            return None
        form_rules = self._rules.get(form_id)
        if form_rules is None:
            form_rules = self._rules[form_id] = rules_for(self.db, form_id)
        if not form_rules.enabled:
            return None
        parts = keys.key_parts(model, data, form_rules.round_field)
        flds = similarity.compared_fields(model, form_rules.date_field)
        day = keys.day_number(answer_at(data, form_rules.date_field)) \
            if form_rules.date_field in model.fields else None
        origin = origin or {}
        desc = Description(
            form_id=form_id, rules=form_rules, parts=parts,
            day=day if day is not None else keys.day_number(received_at),
            device=origin.get("device_id") or device_id or _text(data.get("deviceid")),
            enumerator=origin.get("user") or user,
            fields=flds, data=data, layout=flds.layout,
            summary=similarity.summary_of(flds, data),
            variants=tuple(keys.deletion_variants(parts.person))
            if parts and form_rules.case_id_typo else (),
        )
        self._described.append(desc)
        return desc

    def check(self, row: dict, desc: Description | None) -> None:
        """Look for probable duplicates of ``row`` (not yet stored) as ``describe``
        saw it; add the flag to ``row["flags"]`` if any. Inside the write
        transaction."""
        if desc is None or row["state"] != "current":
            return  # conflicting and quarantined records have their own queues
        if self._lookups is None:
            self._lookups = Lookups(self.db, self._described)
        fresh = row["logical_id"] == row.get("instance_id")  # not an edit: no versions
        desc.matches = rules.matches(self._lookups, desc, row["logical_id"], fresh)
        if desc.matches and FLAG not in row["flags"]:
            row["flags"].append(FLAG)

    def record(self, row: dict, desc: Description | None) -> None:
        """Store the checked record's key row and its matches (``row`` has its id)."""
        if desc is None or desc.matches is None:
            return
        parts = desc.parts
        dup_q.insert_key(
            self.db, row["id"], desc.form_id, row["logical_id"],
            key_norm=parts.key if parts else None, person_norm=parts.person if parts else None,
            round_norm=parts.round if parts else None, day=desc.day, device_id=desc.device,
            enumerator=desc.enumerator, layout=desc.layout, summary=desc.summary)
        self._lookups.wrote(desc, row)
        for m in desc.matches:
            dup_q.insert_match(self.db, row["id"], m["other_id"], desc.form_id, m["reasons"],
                               m["similarity"])

    def close(self) -> None:
        """After the batch's commit (see ``Lookups.close``)."""
        if self._lookups is not None:
            self._lookups.close()


def check_released(db: Database, model: FormModel, row: dict, data: dict,
                   flags: list[str]) -> list[str]:
    """Detection for a stored record released from quarantine (it was not
    checked at ingest), inside the release's transaction; returns its flags,
    with ``probable_duplicate`` if it matches."""
    detector = Detector(db)
    desc = detector.describe(model, row["form_id"], data, origin=row.get("origin"),
                             device_id=row.get("device_id"), user=row.get("submitted_by"),
                             received_at=row.get("received_at"))
    current = {**row, "state": "current", "flags": list(flags)}
    detector.check(current, desc)
    detector.record(current, desc)
    return current["flags"]


def _text(value) -> str | None:
    return str(value).strip() or None if value not in (None, "") else None

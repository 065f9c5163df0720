"""Where one batch's records find their candidates, inside its write transaction.

Each rule asks one question per record, each an indexed read bounded by
``max_candidates`` or by its days (``server.store.duplicates``), so its cost
grows neither with the store nor with how many records share a key:

- the same person key (``same_person``);
- the same device or enumerator, interviewed within days (``near_in_time``);
- a person key one edit away, in the same round, within days
  (``typo_neighbours``, through ``server.dedup.typo_map``).

A record's key row is written as soon as the record is (``server.dedup.detector``),
so the records after it in the batch find it like any other; the typo map is
told too. The answers of the few candidates the rules keep are read last, by
primary key (``answers``).
"""

from __future__ import annotations

from sqlite_utils import Database

from server.dedup import typo_map
from server.store import duplicates as dup_q


class Lookups:
    """One batch's candidate lookups; ``wide``: its typo windows span too many
    weeks for the map (``typo_map.is_wide``), so they are read from the store."""

    def __init__(self, db: Database, wide: bool = False):
        self.db = db
        self.wide = wide
        self._typo: typo_map.StoreReads | None = None  # opened at its first lookup
        self._columns: dict[str, set[str]] = {}  # form id -> its answer columns

    def same_person(self, desc, logical_id: str) -> list[dict]:
        """Key rows of the record's person key, newest first, not versions of
        ``logical_id`` (``dup_q.CANDIDATE_COLUMNS``)."""
        return dup_q.by_person(self.db, desc.form_id, desc.parts.person, logical_id,
                               desc.rules.max_candidates)

    def near_in_time(self, desc, lo: int, hi: int, logical_id: str) -> list[tuple]:
        """``dup_q.NEAR_COLUMNS`` rows of the record's device or enumerator with a
        day in [lo, hi], not versions of ``logical_id``."""
        return dup_q.near_in_time(self.db, desc.form_id, desc.device, desc.enumerator,
                                  lo, hi, logical_id, desc.rules.max_candidates)

    def typo_neighbours(self, desc) -> dict[int, str]:
        """Submission id -> person key of the keys the typo rule asks about for
        this record (``typo_map.Probe``)."""
        probe = typo_map.probe_for(desc)
        if probe is None:
            return {}
        if self._typo is None:
            self._typo = typo_map.session(self.db, self.wide)
        return self._typo.neighbours(desc.form_id, desc.parts.round, probe)

    def answers(self, desc, submission_ids: list[int]) -> dict[int, tuple | None]:
        """Of these records, the live ones with their answers to the compared
        fields (``dup_q.confirm_rows``). The form's answer columns are read once
        a batch, again only when a field is not among them (a version published
        since added it)."""
        paths = [f.path for f in desc.fields]
        have = self._columns.get(desc.form_id)
        if have is None or not have.issuperset(paths):
            have = self._columns[desc.form_id] = dup_q.answer_columns(self.db, desc.form_id)
        return dup_q.confirm_rows(self.db, desc.form_id, paths, submission_ids, have)

    def wrote(self, desc, row: dict) -> None:
        """The record's key row is stored: the typo lookups of the records after
        it see it too."""
        if self._typo is not None and desc.parts and desc.day is not None:
            answered, sketch = desc.summary if desc.summary else (None, None)
            self._typo.written(desc.form_id, desc.parts.round, (
                row["id"], desc.parts.person, desc.day, desc.layout, answered, sketch),
                desc.variants, row.get("seq", -1))

    def close(self) -> None:
        """After the batch's commit: the typo map takes its keys."""
        if self._typo is not None:
            self._typo.committed()

"""Where one batch's records find their candidates, inside its write transaction.

The rules ask three questions of each record (``server.dedup.rules``):

- the same person key (``same_person``): the key rows of every person key of
  the batch are read in one statement when the batch's first record is
  checked, before anything is written; each record takes the newest
  ``max_candidates`` of its own, but for its own versions;
- the same device or enumerator, interviewed within days (``near_in_time``):
  the rows of each device and enumerator of the batch over the days its
  records' windows span, read in one statement the same way (a push is one
  tablet's weeks of interviews: each row would otherwise be read again by
  every record near it in time); a device or enumerator with more rows in that
  span than twice ``max_candidates`` per record (an account shared by a whole
  office) is asked one record's window at a time instead;
- a person key one edit away, in the same round, within days
  (``typo_neighbours``, through ``server.dedup.typo_map``).

As the batch writes a record's key row (``server.dedup.detector``), ``wrote``
adds it to what was read, so the records after it find it as they would in
the store. The answers of the few candidates the rules keep are read last, by
primary key (``answers``). Every read is an index lookup (``server.store.duplicates``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from sqlite_utils import Database

from server.dedup import typo_map
from server.store import duplicates as dup_q


class Lookups:
    """One batch's candidate lookups, for the records ``descs`` (the batch's
    ``Description``s, ``None`` for those not checked)."""

    def __init__(self, db: Database, descs: list):
        self.db = db
        descs = [d for d in descs if d is not None]
        self.persons = self._read_persons(descs)
        self.near_groups = self._read_near(descs)
        probes = [(d.form_id, d.parts.round, p) for d in descs
                  if (p := typo_map.probe_for(d)) is not None]
        self.wide = typo_map.is_wide(probes)
        self._typo: typo_map.StoreReads | None = None  # opened at its first lookup
        self._columns: dict[str, set[str]] = {}  # form id -> its answer columns

    # The same person key ------------------------------------------------------------

    def _read_persons(self, descs) -> dict[tuple, list[dict]]:
        """(form_id, person) -> its key rows, newest first."""
        wanted: dict[str, set[str]] = {}
        for d in descs:
            if d.parts:
                wanted.setdefault(d.form_id, set()).add(d.parts.person)
        out: dict[tuple, list[dict]] = {}
        for form_id, persons in wanted.items():
            for person in persons:
                out[(form_id, person)] = []
            for row in dup_q.by_persons(self.db, form_id, sorted(persons)):
                out[(form_id, row["person_norm"])].append(row)
        return out

    def same_person(self, desc, logical_id: str) -> list[dict]:
        """Key rows of the record's person key, newest first, not versions of
        ``logical_id`` (``dup_q.CANDIDATE_COLUMNS``)."""
        rows = self.persons[(desc.form_id, desc.parts.person)]
        return [r for r in rows if r["logical_id"] != logical_id][:desc.rules.max_candidates]

    # The same device or enumerator, near in time ------------------------------------------

    def _read_near(self, descs) -> dict[tuple, tuple | None]:
        """(form_id, device, enumerator) -> (days, rows) sorted by day then id, or
        None when the group is read one record at a time."""
        spans: dict[tuple, list] = {}
        for d in descs:
            if d.day is None or not (d.device or d.enumerator):
                continue
            w = d.rules.similar_window_days
            span = spans.setdefault((d.form_id, d.device, d.enumerator),
                                    [d.day - w, d.day + w, 0, d.rules.max_candidates])
            span[0], span[1] = min(span[0], d.day - w), max(span[1], d.day + w)
            span[2] += 1
        out: dict[tuple, tuple | None] = {}
        for (form_id, device, enumerator), (lo, hi, records, most) in spans.items():
            bound = 2 * most * records
            rows = dup_q.near_in_range(self.db, form_id, device, enumerator, lo, hi, bound)
            if len(rows) >= bound:
                out[(form_id, device, enumerator)] = None
                continue
            rows.sort(key=lambda r: (r[1], r[0]))
            out[(form_id, device, enumerator)] = ([r[1] for r in rows], rows)
        return out

    def near_in_time(self, desc, lo: int, hi: int, logical_id: str,
                     fresh: bool) -> list[tuple]:
        """``dup_q.NEAR_COLUMNS`` rows of the record's device or enumerator with a
        day in [lo, hi], not versions of ``logical_id`` (a ``fresh`` record, not
        an edit, has none), at most ``max_candidates``."""
        group = self.near_groups.get((desc.form_id, desc.device, desc.enumerator))
        if group is None:
            return dup_q.near_in_time(self.db, desc.form_id, desc.device, desc.enumerator,
                                      lo, hi, logical_id, desc.rules.max_candidates)
        days, rows = group
        found = rows[bisect_left(days, lo):bisect_right(days, hi)]
        if found and not fresh:
            versions = dup_q.versions_of(self.db, logical_id)
            found = [r for r in found if r[0] not in versions]
        return found[:desc.rules.max_candidates]

    # A key one edit away ---------------------------------------------------------------

    def typo_neighbours(self, desc) -> dict[int, str]:
        """Submission id -> person key of the keys the typo rule asks about for
        this record (``typo_map.Probe``); read from the store rather than the map
        when the batch's windows span too many weeks (``typo_map.is_wide``)."""
        probe = typo_map.probe_for(desc)
        if probe is None:
            return {}
        if self._typo is None:
            self._typo = typo_map.session(self.db, self.wide)
        return self._typo.neighbours(desc.form_id, desc.parts.round, probe)

    # The candidates' answers -------------------------------------------------------------

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

    # What the batch writes ------------------------------------------------------------------

    def wrote(self, desc, row: dict) -> None:
        """The record's key row is stored: the records after it find it, as they
        would in the store."""
        submission_id, parts = row["id"], desc.parts
        if parts:
            rows = self.persons.get((desc.form_id, parts.person))
            if rows is not None:
                rows.insert(0, {
                    "submission_id": submission_id, "logical_id": row["logical_id"],
                    "key_norm": parts.key, "person_norm": parts.person,
                    "round_norm": parts.round, "day": desc.day})
        if desc.day is None:
            return
        answered, sketch = desc.summary if desc.summary else (None, None)
        for (form_id, device, enumerator), group in self.near_groups.items():
            same_device = bool(device) and device == desc.device
            same_enumerator = bool(enumerator) and enumerator == desc.enumerator
            if group is not None and form_id == desc.form_id and (same_device
                                                                  or same_enumerator):
                days, rows = group
                at = bisect_right(days, desc.day)  # the newest id of its day goes last
                days.insert(at, desc.day)
                rows.insert(at, (submission_id, desc.day, desc.layout, answered, sketch,
                                 int(same_device), int(same_enumerator)))
        if self._typo is not None and parts:
            self._typo.written(desc.form_id, parts.round, (
                submission_id, parts.person, desc.day, desc.layout, answered, sketch),
                desc.variants, row.get("seq", -1))

    def close(self) -> None:
        """After the batch's commit: the typo map takes its keys."""
        if self._typo is not None:
            self._typo.committed()

"""Where duplicate detection reads its candidates: one record's statements, or
a whole batch's read once.

``dedup._find`` asks three questions per record (same person key; same device
or enumerator within days; a key one edit away within days). ``PerRecord``
asks them as one indexed statement each. ``BatchLookups`` asks the first two
once for a whole batch, inside its write transaction (the batch's person
keys; the days its device and enumerator cover), answers each record from
memory, and adds the rows the batch itself writes as it writes them. The
candidates are the same as ``PerRecord``'s (which of them the
``max_candidates`` bound keeps, when there are more, may differ). Where a
batch statement reaches its own bound (a tablet with thousands of rows in
the span), that rule falls back to ``PerRecord`` for the batch. The typo
question stays per record: its windows are narrow and its variants many, and
one statement over a batch's whole span read more rows than it saved.

Why: a push is one tablet's records, one device and one enumerator, weeks of
interviews: each near-in-time row would otherwise be read again by every
record within days of it, and the write lock is held for less time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from sqlite_utils import Database

from server.store import duplicates as dup_q

# Rows a batch statement may return per record of the batch before the rule
# falls back to per-record statements.
ROWS_PER_RECORD = 200
MAX_PARAMS = 20_000  # SQLite's default allows 32,766 host parameters


class PerRecord:
    """One indexed statement per question (quarantine release, single records)."""

    def __init__(self, db: Database):
        self.db = db

    def by_person(self, det, logical_id: str) -> list[dict]:
        return dup_q.by_person(self.db, det.form_id, det.parts.person, logical_id,
                               det.rules.max_candidates)

    def near(self, det, lo: int, hi: int, logical_id: str) -> list[tuple]:
        """``dup_q.NEAR_COLUMNS`` rows."""
        return dup_q.near_in_time(self.db, det.form_id, det.device, det.enumerator, lo, hi,
                                  logical_id, det.rules.max_candidates)

    def deletions(self, det, lo: int, hi: int) -> list[tuple]:
        return dup_q.by_deletions(self.db, det.typo_scope, [v for v, _ in det.deletions],
                                  lo, hi, det.rules.max_candidates)

    def written(self, det, submission_id: int, logical_id: str) -> None:
        """Nothing to keep: the next statement reads the store."""


class BatchLookups(PerRecord):
    """Person keys and near-in-time rows for a batch's records (``dets``, as
    ``dedup.prepare`` described them), one statement per rule and group."""

    def __init__(self, db: Database, dets: list):
        super().__init__(db)
        dets = [d for d in dets if d is not None]
        self.persons = self._read_persons(dets)
        self.near_groups = self._read_near(dets)

    # Same person key -------------------------------------------------------------

    def _read_persons(self, dets) -> dict | None:
        """(form_id, person) -> key rows, newest first; None to ask per record."""
        wanted: dict[str, set[str]] = {}
        for d in dets:
            if d.parts:
                wanted.setdefault(d.form_id, set()).add(d.parts.person)
        out: dict = {}
        for form_id, persons in wanted.items():
            if len(persons) > MAX_PARAMS:
                return None
            limit = ROWS_PER_RECORD * len(persons)
            rows = dup_q.by_persons(self.db, form_id, sorted(persons), limit)
            if len(rows) >= limit:
                return None
            for p in persons:
                out[(form_id, p)] = []
            for row in rows:
                out[(form_id, row["person_norm"])].append(row)
        return out

    def by_person(self, det, logical_id: str) -> list[dict]:
        if self.persons is None:
            return super().by_person(det, logical_id)
        rows = self.persons[(det.form_id, det.parts.person)]
        return [r for r in rows if r["logical_id"] != logical_id][:det.rules.max_candidates]

    # Same device or enumerator, near in time -----------------------------------------

    def _read_near(self, dets) -> dict | None:
        """(form_id, device, enumerator) -> (days, rows) sorted by day then id; None
        to ask per record."""
        spans: dict[tuple, list[int]] = {}
        for d in dets:
            if d.day is None or not (d.device or d.enumerator):
                continue
            w = d.rules.similar_window_days
            span = spans.setdefault((d.form_id, d.device, d.enumerator), [d.day - w, d.day + w])
            span[0], span[1] = min(span[0], d.day - w), max(span[1], d.day + w)
        out: dict = {}
        for (form_id, device, enumerator), (lo, hi) in spans.items():
            limit = ROWS_PER_RECORD * len(dets)
            rows = dup_q.near_in_range(self.db, form_id, device, enumerator, lo, hi, limit)
            if len(rows) >= limit:
                return None
            rows.sort(key=lambda r: (r[1], r[0]))
            out[(form_id, device, enumerator)] = ([r[1] for r in rows], rows)
        return out

    def near(self, det, lo: int, hi: int, logical_id: str) -> list[tuple]:
        group = None if self.near_groups is None else \
            self.near_groups.get((det.form_id, det.device, det.enumerator))
        if group is None:
            return super().near(det, lo, hi, logical_id)
        days, rows = group
        found = rows[bisect_left(days, lo):bisect_right(days, hi)]
        if not found:
            return found
        versions = dup_q.versions_of(self.db, logical_id)
        if versions:
            found = [r for r in found if r[0] not in versions]
        return found[:det.rules.max_candidates]

    # What the batch writes -------------------------------------------------------------

    def written(self, det, submission_id: int, logical_id: str) -> None:
        """Make a row this batch just wrote (``dedup.record``) visible to the
        records after it, as the per-record statements would see it."""
        parts = det.parts
        if parts and self.persons is not None:
            rows = self.persons.get((det.form_id, parts.person))
            if rows is not None:
                rows.insert(0, {
                    "submission_id": submission_id, "logical_id": logical_id,
                    "key_norm": parts.key, "person_norm": parts.person,
                    "round_norm": parts.round, "day": det.day, "device_id": det.device,
                    "enumerator": det.enumerator, "layout": det.layout, "sig": det.sig})
        if det.day is None or self.near_groups is None:
            return
        answered, sketch = det.summary if det.summary else (None, None)
        for (form_id, device, enumerator), (days, rows) in self.near_groups.items():
            same_device = bool(device) and device == det.device
            same_enumerator = bool(enumerator) and enumerator == det.enumerator
            if form_id == det.form_id and (same_device or same_enumerator):
                at = bisect_right(days, det.day)  # the newest id of its day goes last
                days.insert(at, det.day)
                rows.insert(at, (submission_id, det.day, det.layout, answered, sketch,
                                 int(same_device), int(same_enumerator)))

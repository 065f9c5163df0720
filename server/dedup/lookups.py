"""Where duplicate detection reads its candidates: one record's statements, or
a whole batch's read once.

``dedup._find`` asks three questions per record (same person key; same device
or enumerator within days; a key one edit away within days). ``PerRecord``
asks the first two as one indexed statement each and the third of the typo
rule's map (``server.dedup.typo``, one session per ``PerRecord``).
``BatchLookups`` asks the first two and the third once for a whole batch,
before its writes, inside its write transaction (the batch's person
keys; the days its device and enumerator cover), answers each record from
memory, and adds the rows the batch itself writes as it writes them. The
candidates are the same as ``PerRecord``'s (which of them the
``max_candidates`` bound keeps, when there are more, may differ). Where a
batch statement reaches its own bound (a tablet with thousands of rows in
the span), that rule falls back to ``PerRecord`` for the batch.

Why: a push is one tablet's records, one device and one enumerator, weeks of
interviews: each near-in-time row would otherwise be read again by every
record within days of it, and the write lock is held for less time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from sqlite_utils import Database

from server.dedup import typo as dedup_typo
from server.store import duplicates as dup_q

# Rows a batch statement may return per record of the batch before the rule
# falls back to per-record statements.
ROWS_PER_RECORD = 200
MAX_PARAMS = 20_000  # SQLite's default allows 32,766 host parameters


def _answer_columns(db: Database) -> dict[str, set[str]]:
    """Form id -> its answer columns as last read on this connection."""
    held = getattr(db, "_fieldsync_answer_columns", None)
    if held is None:
        held = {}
        try:
            db._fieldsync_answer_columns = held
        except AttributeError:
            pass
    return held


class PerRecord:
    """One indexed statement per question (quarantine release, single records)."""

    def __init__(self, db: Database):
        self.db = db
        self._typo = None  # the typo rule's session, opened at its first lookup
        self._columns = _answer_columns(db)

    def by_person(self, det, logical_id: str) -> list[dict]:
        return dup_q.by_person(self.db, det.form_id, det.parts.person, logical_id,
                               det.rules.max_candidates)

    def near(self, det, lo: int, hi: int, logical_id: str) -> list[tuple]:
        """``dup_q.NEAR_COLUMNS`` rows."""
        return dup_q.near_in_time(self.db, det.form_id, det.device, det.enumerator, lo, hi,
                                  logical_id, det.rules.max_candidates)

    def typo_neighbours(self, det) -> dict[int, str]:
        """Submission id -> person key of the keys of the record's form and round
        that its typo question asks for (``server.dedup.typo``)."""
        probe = dedup_typo.probe_for(det)
        if probe is None:
            return {}
        return self._typo_session().neighbours(det.form_id, det.parts.round, probe)

    def _typo_session(self):
        if self._typo is None:
            self._typo = dedup_typo.session(self.db)
        return self._typo

    def answer_columns(self, form_id: str, paths: list[str]) -> set[str]:
        """The form's answer columns, read again only when one of ``paths`` is not
        among them (a new version's field added a column since; none is ever
        dropped). Kept with the connection, for its later batches too."""
        have = self._columns.get(form_id)
        if have is None or not have.issuperset(paths):
            have = self._columns[form_id] = dup_q.answer_columns(self.db, form_id)
        return have

    def written(self, det, row: dict) -> None:
        """Let the typo lookups of the records after this one see it (the other
        statements read the store, this write included)."""
        if self._typo is not None and det.parts and det.day is not None:
            answered, sketch = det.summary if det.summary else (None, None)
            self._typo.written(det.form_id, det.parts.round, (
                row["id"], det.parts.person, det.day, det.layout, answered, sketch),
                det.variants, row.get("seq", -1))

    def signatures(self, submission_ids: list[int]) -> dict[int, tuple[int, bytes]]:
        """Submission id -> (layout, signature) of these records' stored keys."""
        return dup_q.signatures_of(self.db, submission_ids)

    def write_key(self, key_row: tuple) -> None:
        """Store a record's key (``dup_q.key_row``): at once, for the next
        statement to read."""
        dup_q.insert_keys(self.db, [key_row])

    def flush(self) -> None:
        """Store what waits to be stored (call before the transaction ends)."""

    def committed(self) -> None:
        """The batch's transaction has committed (``server.dedup.typo``)."""
        if self._typo is not None:
            self._typo.committed()


class BatchLookups(PerRecord):
    """Person keys and near-in-time rows for a batch's records (``dets``, as
    ``dedup.prepare`` described them), one statement per rule and group."""

    def __init__(self, db: Database, dets: list):
        super().__init__(db)
        dets = [d for d in dets if d is not None]
        self.persons = self._read_persons(dets)
        self.near_groups = self._read_near(dets)
        self.typo = self._read_typo(dets)
        self.pending: list[tuple] = []  # key rows waiting for ``flush``

    # A key one edit away -----------------------------------------------------------

    def _read_typo(self, dets) -> dict:
        """id(det) -> (probe, committed keys it asks for), the whole batch's in
        one go before anything is written, in date order (the map's parts in
        use stay in the processor's caches, and each week is read once); the
        batch's own keys are added per record."""
        asked = [(d, p) for d in dets if (p := dedup_typo.probe_for(d)) is not None]
        if not asked:
            return {}
        # In date order: a batch spanning months reads each week once.
        asked.sort(key=lambda dp: (dp[0].form_id, dp[0].parts.round, dp[1].lo))
        session = self._typo_session()
        weeks = {(d.form_id, d.parts.round, w) for d, p in asked
                 for w in range(p.lo // dedup_typo.WEEK, p.hi // dedup_typo.WEEK + 1)}
        read = session.read_neighbours if len(weeks) > dedup_typo.WIDE_BATCH_WEEKS \
            else session.committed_neighbours
        return {id(d): (probe, read(d.form_id, d.parts.round, probe)) for d, probe in asked}

    def typo_neighbours(self, det) -> dict[int, str]:
        read = self.typo.get(id(det))
        if read is None:
            return super().typo_neighbours(det)
        probe, committed = read
        found = dict(committed)
        self._typo.own_neighbours(det.form_id, det.parts.round, probe, found)
        return found

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
        if not found or det.fresh:
            return found[:det.rules.max_candidates]
        versions = dup_q.versions_of(self.db, logical_id)
        if versions:
            found = [r for r in found if r[0] not in versions]
        return found[:det.rules.max_candidates]

    # What the batch writes -------------------------------------------------------------

    def write_key(self, key_row: tuple) -> None:
        """While every rule answers from the batch's own reads (which see its
        writes as they happen), keys wait for one statement at the end of the
        batch (``flush``); else each is stored at once."""
        if self.persons is None or self.near_groups is None:
            super().write_key(key_row)
        else:
            self.pending.append(key_row)

    def signatures(self, submission_ids: list[int]) -> dict[int, tuple[int, bytes]]:
        """The same, the keys still waiting for ``flush`` included."""
        waiting = {row[0]: row for row in self.pending}
        out = {sid: dup_q.key_row_signature(waiting[sid])
               for sid in submission_ids if sid in waiting}
        rest = [sid for sid in submission_ids if sid not in out]
        if rest:
            out.update(super().signatures(rest))
        return out

    def flush(self) -> None:
        if self.pending:
            dup_q.insert_keys(self.db, self.pending)
            self.pending = []

    def written(self, det, row: dict) -> None:
        """Make a row this batch just wrote (``dedup.record``) visible to the
        records after it, as the per-record statements would see it."""
        super().written(det, row)
        submission_id, logical_id = row["id"], row["logical_id"]
        parts = det.parts
        if parts and self.persons is not None:
            rows = self.persons.get((det.form_id, parts.person))
            if rows is not None:
                rows.insert(0, {
                    "submission_id": submission_id, "logical_id": logical_id,
                    "key_norm": parts.key, "person_norm": parts.person,
                    "round_norm": parts.round, "day": det.day})
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

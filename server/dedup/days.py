"""Every person key of one form and round held in day order: what the typo
rule scans for a batch whose windows span too many weeks for the variant map
(``server.dedup.typo``, ``WIDE_BATCH_WEEKS``)."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right

from server.dedup import rules as dup


class DayOrder:
    """Every key of one (form, round) in day order, as a submission id, a day
    and a person key each (about 90 bytes): what a wide batch's lookups scan,
    the person keys in a record's window compared in C."""

    def __init__(self, rows: list[tuple]) -> None:  # (sid, day, person), by day
        self.sids = array("q", [r[0] for r in rows])
        self.days = array("q", [r[1] for r in rows])
        self.persons = [r[2] for r in rows]
        self.max_sid = max(self.sids, default=0)

    def __len__(self) -> int:
        return len(self.sids)

    def put(self, sid: int, person: str, day: int) -> int:
        """Add a key, replacing the submission's earlier one (a new submission
        has the highest id yet: nothing to look for); returns the keys added."""
        added = 1
        if sid <= self.max_sid:
            try:
                at = self.sids.index(sid)
            except ValueError:
                pass
            else:
                del self.sids[at], self.days[at], self.persons[at]
                added = 0
        self.max_sid = max(self.max_sid, sid)
        at = bisect_right(self.days, day)
        self.sids.insert(at, sid)
        self.days.insert(at, day)
        self.persons.insert(at, person)
        return added

    def near(self, probe) -> list[int]:
        """The submission ids of the keys interviewed on days [lo, hi] one edit
        from ``probe.person``, the newest first (by day, then id)."""
        lo, hi = bisect_left(self.days, probe.lo), bisect_right(self.days, probe.hi)
        found = [(self.days[lo + at], self.sids[lo + at])
                 for at in dup.within_one_edit_of(probe.person, self.persons[lo:hi])]
        found.sort(reverse=True)
        return [sid for _, sid in found]

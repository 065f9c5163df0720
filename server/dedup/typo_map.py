"""Where the typo rule finds person keys one edit away.

The rule (``server.dedup.rules``, ``case_id_typo``) asks for the keys one edit
from a record's person key, in the same form and round, interviewed at most
``typo_days`` away. Two keys one edit apart share a deletion variant
(``server.dedup.keys``), so a map from variant to keys answers it in a dozen
dictionary reads. The map is not stored (as rows, a dozen random-position
index entries a record cost more than the rest of detection): the store keeps
one key row per record in an index in (form, round, day) order
(``respondent_keys_round_day``), which a stream of interviews appends to, and
this module builds the map from it, one week of one form and round at a time,
for the weeks asked about, in this process's memory.

Two ways to answer, the same answers:

- ``Session``: the map, for a push whose records span a few weeks (a tablet's
  recent interviews: the usual push).
- ``StoreReads``: one record's window read from the store (its person keys
  compared in C, then the rows of those one edit away), for a push whose
  windows span more than ``WIDE_PUSH_WEEKS`` weeks of the map (a year's
  backlog would otherwise load most of the store into the map), and for a
  store without a file (``:memory:``).

Consistency. The map holds committed keys only, read through a read-only
connection of its own, which sees the last commit and never the caller's open
transaction. It is used inside write transactions only (ingest, quarantine
release), so no other writer commits meanwhile. A ``Session`` (one per batch)
first brings the loaded weeks up to date with what was committed since the
map last looked (the keys of the records whose change sequence is above the
one it has seen), then keeps the keys its own transaction writes (and any it
wrote before the session, in an outer transaction) to itself, where its later
lookups see them. Once the transaction has committed, ``Session.committed``
hands them to the map, if nothing else changed the store in between (else the
next session reads them back). A transaction that rolls back leaves nothing
behind.

Memory: about 1.7 KB a key, at most ``MAP_KEYS`` keys per process beyond the
weeks of the lookup being answered (the weeks used least recently are dropped
first, and read again when asked for, about a millisecond a week); weeks no
push has asked about in ``IDLE_PUSHES`` pushes are let go too, so a
long-running server holds the weeks around today, not everything it was ever
asked. One store's map per process (a process serves one store).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import NamedTuple

from sqlite_utils import Database

from server.dedup.keys import deletion_variants, within_one_edit_of
from server.dedup.similarity import could_match
from server.store import duplicates as dup_q
from server.store.db import BUSY_TIMEOUT_MS

WEEK = 7                  # days per block of keys loaded
MAP_KEYS = 50_000         # keys held per process (about 1.7 KB each: 85 MB)
WIDE_PUSH_WEEKS = 40      # weeks (of a form and round each) a push may load into the map
IDLE_PUSHES = 200         # a week no push asked about in this many pushes is let go

# A key as the rule needs it: (submission_id, person, day, layout, answered, sketch)
Key = tuple


class Probe(NamedTuple):
    """What the typo rule asks for one record: the keys sharing one of
    ``variants`` (its person key's deletion variants), interviewed on days
    [lo, hi], at most ``limit`` per variant, the newest first, but for those
    whose answer summary rules out ``threshold`` over at least ``minimum``
    fields both answered (``could_match``)."""

    variants: tuple[str, ...] | frozenset[str]
    lo: int
    hi: int
    limit: int
    layout: int
    summary: tuple[int, int] | None  # the record's (answered, sketch)
    minimum: int
    threshold: float
    person: str = ""  # the person key itself (for reads from the store)


def probe_for(desc) -> Probe | None:
    """The typo rule's question for a record (``server.dedup.detector.Description``);
    None when it has no person key or no day, or its form's rules switch the
    typo rule off."""
    if not desc.parts or desc.day is None or not desc.rules.case_id_typo:
        return None
    rules = desc.rules
    return Probe(desc.variants, desc.day - rules.typo_days, desc.day + rules.typo_days,
                 rules.max_candidates, desc.layout, desc.summary, rules.min_compared,
                 rules.typo_similarity, desc.parts.person)


def is_wide(probes) -> bool:
    """Whether the windows of a push's ``(form_id, round, probe)`` cover more than
    ``WIDE_PUSH_WEEKS`` weeks of the map (a week of one form and round each):
    more than the map should load for one push."""
    weeks: set[tuple] = set()
    for form_id, round_, probe in probes:
        weeks.update((form_id, round_, w) for w in range(probe.lo // WEEK, probe.hi // WEEK + 1))
        if len(weeks) > WIDE_PUSH_WEEKS:
            return True
    return False


def _keep(rows, probe: Probe, out: dict[int, str]) -> None:
    """Into ``out``: of key rows (newest first), those whose summary does not
    rule them out, up to ``limit`` x the number of variants (the bound
    ``_Weeks.find`` has)."""
    room = probe.limit * len(probe.variants) - len(out)
    for sid, person, *_ in could_match(probe.summary, probe.layout, probe.minimum,
                                       probe.threshold, rows, 3):
        if room <= 0:
            return
        if sid not in out:
            out[sid] = person
            room -= 1


class _Weeks:
    """Keys of one (form, round) and their deletion variants, by week loaded."""

    def __init__(self) -> None:
        self.loaded: set[int] = set()
        self.keys: dict[int, tuple] = {}   # submission id -> (key, variants)
        # variant -> its key, or a list of its keys oldest first when more than
        # one has it (most variants are one key's: no list to make or keep)
        self.variants: dict[str, Key | list[Key]] = {}
        self.by_week: dict[int, list[int]] = {}

    def add(self, key: Key, variants=None) -> None:
        # a tuple, not a set: the collector stops tracking it (the map is large)
        variants = variants or tuple(deletion_variants(key[1]))
        self.keys[key[0]] = (key, variants)
        self.by_week.setdefault(key[2] // WEEK, []).append(key[0])
        table = self.variants
        for v in variants:
            held = table.get(v)
            if held is None:
                table[v] = key
            elif type(held) is list:
                held.append(key)
            else:
                table[v] = [held, key]

    def remove(self, sid: int) -> None:
        held = self.keys.pop(sid, None)
        if held is not None:
            week = self.by_week.get(held[0][2] // WEEK)
            if week is not None and sid in week:
                week.remove(sid)
            self._unlist(*held)

    def drop_week(self, week: int) -> list[int]:
        """Forget a week's keys; returns their submission ids."""
        sids = self.by_week.pop(week, [])
        for sid in sids:
            held = self.keys.pop(sid, None)
            if held is not None:
                self._unlist(*held)
        self.loaded.discard(week)
        return sids

    def _unlist(self, key: Key, variants) -> None:
        table = self.variants
        for v in variants:
            held = table.get(v)
            if held is None:
                continue
            if type(held) is not list:
                if held[0] == key[0]:
                    del table[v]
            elif key in held:
                held.remove(key)
                if len(held) == 1:
                    table[v] = held[0]

    def find(self, probe: Probe, out: dict[int, str]) -> None:
        """Into ``out``: submission id -> person key of the keys ``probe`` asks for
        (a key already in ``out`` stays as it is)."""
        lo, hi, limit = probe.lo, probe.hi, probe.limit
        get = self.variants.get
        near = []
        for v in probe.variants:
            keys = get(v)
            if keys is None:
                continue
            if type(keys) is not list:
                keys = (keys,)
            elif len(keys) > limit:  # the newest in the window, up to the bound
                keys = [k for k in reversed(keys) if lo <= k[2] <= hi][:limit]
            near += [k for k in keys if lo <= k[2] <= hi]
        for key in could_match(probe.summary, probe.layout, probe.minimum, probe.threshold,
                               near, 3):
            out.setdefault(key[0], key[1])


class _Map:
    """One store's map in this process."""

    def __init__(self, path: str, ident: tuple) -> None:
        self.path, self.ident, self.pid = path, ident, os.getpid()
        self.lock = threading.Lock()
        self.reader: sqlite3.Connection | None = None
        self.seq: int | None = None       # every change up to this one is in the map
        self.scopes: dict[tuple, _Weeks] = {}     # (form_id, round) -> weeks
        self.where: dict[int, tuple] = {}         # submission id -> its scope
        self.pushes = 0                   # sessions begun: the clock of "last used"
        # (form_id, round, week) loaded -> the push that last used it, the
        # least recently used first
        self.loaded: dict[tuple, int] = {}
        self.size = 0

    def read(self, sql: str, params: list) -> list:
        if self.reader is None:
            self.reader = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                          check_same_thread=False, isolation_level=None)
            self.reader.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return self.reader.execute(sql, params).fetchall()

    def committed_seq(self) -> int:
        return self.read(*dup_q.committed_seq())[0][0]

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None

    def reset(self) -> None:
        self.scopes.clear()
        self.where.clear()
        self.loaded.clear()
        self.size = 0

    def begin(self) -> int:
        """Catch up with the last commit; returns its change sequence."""
        committed = self.committed_seq()
        if self.seq is None or committed < self.seq:
            self.reset()  # first use, or the file is not the one we read before
        elif committed > self.seq and self.scopes:
            rows = self.read(*dup_q.keys_changed_since(self.seq, MAP_KEYS + 1))
            if len(rows) > MAP_KEYS:
                self.reset()  # more than the map holds: start afresh
            else:
                for form_id, round_, *key in rows:
                    self.place(form_id, round_, tuple(key))
        self.seq = committed
        self.pushes += 1
        self.let_go_idle()
        return committed

    def let_go_idle(self) -> None:
        """Drop the weeks that no push has used in the last ``IDLE_PUSHES``."""
        oldest = self.pushes - IDLE_PUSHES
        while self.loaded:
            mark, used = next(iter(self.loaded.items()))  # the least recently used
            if used >= oldest:
                break  # the rest were used later
            self.drop_week(mark)

    def place(self, form_id: str, round_: str, key: Key, variants=None) -> None:
        """Put a key in the map, replacing the submission's earlier one, where its
        week is loaded (a week not loaded is read whole when asked for)."""
        self.drop(key[0])
        weeks = self.scopes.get((form_id, round_))
        if weeks is None or key[2] // WEEK not in weeks.loaded:
            return
        weeks.add(key, variants)
        self.where[key[0]] = (form_id, round_)
        self.size += 1

    def drop(self, sid: int) -> None:
        scope = self.where.pop(sid, None)
        if scope is not None:
            self.scopes[scope].remove(sid)
            self.size -= 1

    def weeks(self, form_id: str, round_: str, lo: int, hi: int, used: set) -> _Weeks:
        """The (form, round)'s keys, with every week of days [lo, hi] loaded and
        made the most recently used; they are added to ``used``."""
        scope = (form_id, round_)
        weeks = self.scopes.get(scope)
        if weeks is None:
            weeks = self.scopes[scope] = _Weeks()
        for week in range(lo // WEEK, hi // WEEK + 1):
            mark = (form_id, round_, week)
            if mark in used:
                continue
            used.add(mark)
            if week in weeks.loaded:
                del self.loaded[mark]  # to the end: the most recently used
                self.loaded[mark] = self.pushes
                continue
            rows = self.read(*dup_q.keys_in_days(form_id, round_, week * WEEK,
                                                 week * WEEK + WEEK - 1))
            weeks.loaded.add(week)
            self.loaded[mark] = self.pushes
            for key in rows:
                self.place(form_id, round_, key)
        return weeks

    def trim(self, keep: set) -> None:
        """Beyond ``MAP_KEYS`` keys, drop the weeks used least recently, never
        those in ``keep`` (the weeks of the lookup being answered)."""
        for mark in list(self.loaded):
            if self.size <= MAP_KEYS:
                break
            if mark not in keep:
                self.drop_week(mark)

    def drop_week(self, mark: tuple) -> None:
        """Forget a loaded (form_id, round, week): read again when asked for."""
        form_id, round_, week = mark
        del self.loaded[mark]
        for sid in self.scopes[(form_id, round_)].drop_week(week):
            self.where.pop(sid, None)
            self.size -= 1


_MAP: _Map | None = None
_MAP_LOCK = threading.Lock()


def session(db: Database, wide: bool = False) -> StoreReads:
    """The typo lookups of one batch inside a write transaction of ``db``: from
    the map (``Session``), or, for a ``wide`` push or a store without a file,
    from the store (``StoreReads``)."""
    global _MAP
    row = next((r for r in db.conn.execute("PRAGMA database_list") if r[1] == "main"), None)
    path = (row[2] if row else "") or ""
    if wide or not path:
        return StoreReads(db)
    try:
        st = os.stat(path)
    except OSError:
        return StoreReads(db)
    ident = (st.st_dev, st.st_ino)
    with _MAP_LOCK:
        held = _MAP
        if held is None or (held.path, held.ident, held.pid) != (path, ident, os.getpid()):
            if held is not None and held.pid == os.getpid():
                held.close()
            held = _MAP = _Map(path, ident)
    return Session(db, held)


def forget() -> None:
    """Drop this process's map (its store's file is being replaced)."""
    global _MAP
    with _MAP_LOCK:
        held, _MAP = _MAP, None
    if held is not None and held.pid == os.getpid():
        held.close()


class StoreReads:
    """Typo lookups read from the store, one record's window at a time; the
    keys its own batch writes are kept as in ``Session``."""

    def __init__(self, db: Database):
        self.db = db
        self.own: dict[tuple, _Weeks] = {}  # keys this transaction wrote, by scope
        self.last: int | None = None

    def neighbours(self, form_id: str, round_: str, probe: Probe) -> dict[int, str]:
        """Submission id -> person key of the keys of (form, round) ``probe`` asks
        for: the committed ones, then the batch's own (its version of a key wins)."""
        found = self.committed_neighbours(form_id, round_, probe)
        own = self.own.get((form_id, round_))
        if own is not None:
            for sid in [s for s in found if s in own.keys]:
                del found[sid]
            own.find(probe, found)
        return found

    def committed_neighbours(self, form_id: str, round_: str, probe: Probe) -> dict[int, str]:
        """What ``probe`` asks for among the keys stored before the batch, read
        from the store: the person keys of the form and round in the record's
        window, those one edit away picked in C (rapidfuzz), then their rows."""
        persons = dup_q.persons_in_days(self.db, form_id, round_, probe.lo, probe.hi)
        near = sorted({persons[at] for at in within_one_edit_of(probe.person, persons)})
        rows = dup_q.keys_of_persons(self.db, form_id, round_, near, probe.lo, probe.hi)
        found: dict[int, str] = {}
        _keep(rows, probe, found)
        return found

    def written(self, form_id: str, round_: str, key: Key, variants, seq: int) -> None:
        """A key the batch wrote, for its later lookups."""
        own = self.own.get((form_id, round_))
        if own is None:
            own = self.own[(form_id, round_)] = _Weeks()
        own.remove(key[0])
        own.add(key, variants)
        if self.last is not None:
            self.last = max(self.last, seq) if seq >= 0 else None

    def committed(self) -> None:
        """The batch's transaction has committed: nothing to hand over."""


class Session(StoreReads):
    """One batch's typo lookups against the shared map (see the module's doc)."""

    def __init__(self, db: Database, held: _Map):
        super().__init__(db)
        self.map = held
        with held.lock:
            self.start = self.last = held.begin()
        # What this transaction wrote before the batch (an outer transaction):
        # visible on the caller's connection only.
        for form_id, round_, *key in dup_q.keys_written_since(db, self.start):
            self.written(form_id, round_, tuple(key), None, -1)

    def committed_neighbours(self, form_id: str, round_: str, probe: Probe) -> dict[int, str]:
        found: dict[int, str] = {}
        held, used = self.map, set()
        with held.lock:
            held.weeks(form_id, round_, probe.lo, probe.hi, used).find(probe, found)
            if held.size > MAP_KEYS:
                held.trim(used)
        return found

    def committed(self) -> None:
        """Call once the batch's transaction has committed: its keys go into the
        shared map, unless anything else changed the store in between (then the
        next session reads them back)."""
        held = self.map
        with held.lock:
            if not self.own or held.seq != self.start or self.last is None \
                    or held.committed_seq() != self.last:
                return
            for (form_id, round_), own in self.own.items():
                for key, variants in own.keys.values():
                    held.place(form_id, round_, key, variants)
            held.seq = self.last
        self.own = {}

"""Where the typo rule finds person keys one edit away: weeks of keys held in
this process's memory, loaded from the store when first asked for and kept
current by the change sequence.

The rule (``server.dedup.detect``, ``case_id_typo``) looks for a key one edit from
the new record's, in the same form and round, interviewed at most
``typo_days`` away. Two keys one edit apart share one of their deletion
variants (``server.dedup.rules.deletion_variants``), so a map from variant to
keys answers it in a dozen dictionary lookups. That map is not stored: kept
as rows in SQLite it cost a dozen random-position index rows per record, and
their pages going through the WAL and its checkpoints made up most of what
detection cost at ingest (docs/PERFORMANCE.md). The store keeps one row per
record in an index in time order (``respondent_keys_round_day``), which a
stream of new interviews appends to; this module builds the variant map from
it, a week of one form and round at a time, for the weeks the rule asks about.

Consistency. The map holds committed keys only, read through a read-only
connection of its own, which sees the last commit and never the caller's
open transaction. It is used only inside write transactions (ingest,
quarantine release), so no other writer commits meanwhile. A ``Session``
(one per batch) first brings the loaded weeks up to date with what was
committed since the map last looked (the keys of the records whose change
sequence is above the one it has seen), then keeps the keys its own
transaction writes (and any it wrote before the session, in an outer
transaction) to itself, where its later lookups see them. Once the
transaction has committed, ``Session.committed`` hands them to the map, if
nothing else changed the store in between (else the next session reads them
back). A transaction that rolls back leaves nothing behind.

Memory: about 1.7 KB a key (measured), at most ``MAX_KEYS`` keys per store
and process (85 MB) beyond the weeks of the lookup being answered: past the
bound, the weeks used least recently are dropped, and read again when asked
for; weeks no batch has asked about in the last ``IDLE_BATCHES`` are let go
too. A deployment's stream needs the weeks around today: at 500 interviews a
day (a million in five years) some 18,000 keys. Holding more than that costs
time, not only memory: a lookup in a variant table of half a million entries
(50,000 keys) misses the processor's caches at every step, and the rest of
ingest runs slower beside it (docs/PERFORMANCE.md), so weeks are let go after
a few hundred batches, and read again (about a millisecond a week) when a
tablet comes back with older records. A batch's lookups are made in
date order, so a batch spanning months reads each of its weeks once.

A batch whose windows cover more than ``WIDE_BATCH_WEEKS`` weeks of a form
and round (old records in no date order, a year's backlog) would load most of
the store's weeks into the map, again for every such batch. Its lookups scan
instead every key of the form and round held in day order (``DayOrder``: read
whole once, about 90 bytes a key, kept current like the map, at most
``MAX_ROUND_KEYS`` per process, let go when idle, later than weeks). The person
keys in a record's window are compared with its own in C (rapidfuzz), and the
rows of those one edit away read by id. A round with more keys than the bound
is read from the store, one record's window at a time
(``Direct.read_neighbours``). A store without a file (``:memory:``) is always
read that way (``Direct``): the same answers, without the map.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import NamedTuple

from sqlite_utils import Database

from server.dedup import rules as dup
from server.dedup.days import DayOrder
from server.store import duplicates as dup_q
from server.store.db import BUSY_TIMEOUT_MS

WEEK = 7                # days per loaded block
MAX_KEYS = 50_000       # per store and process (about 1.7 KB each)
MAX_CATCH_UP = 20_000   # changed rows read to catch up; beyond, the map starts afresh
# A batch whose records' windows cover more (form, round, week) blocks than
# this (old records in no date order) scans its rounds' keys held in day order
# instead: loading that many weeks into the map would cost more, and push out
# the rest.
WIDE_BATCH_WEEKS = 40
# Keys held in day order for such batches (``DayOrder``), per store and process
# (about 90 bytes each): a (form, round) that would go beyond is read from the store.
MAX_ROUND_KEYS = 500_000
_MASK64 = (1 << 64) - 1
IDS_PER_READ = 10_000  # submission ids per statement (SQLite allows 32,766 parameters)
# Weeks that no batch has asked about in this many batches are let go (looked
# for every ``SWEEP_EVERY`` batches): a long-running worker holds what its
# recent pushes need, not everything it was ever asked. A week is read again
# in about a millisecond; a round held in day order (read whole, for wide
# batches) costs far more to read again, and waits ``IDLE_ROUND_BATCHES``.
IDLE_BATCHES = 200
IDLE_ROUND_BATCHES = 2_000
SWEEP_EVERY = 20

# A key as the rule needs it: (submission_id, person, day, layout, answered, sketch)
Key = tuple


class Probe(NamedTuple):
    """What the typo rule asks for one record: the keys sharing one of
    ``variants`` (its person key's deletion variants), interviewed on days
    [lo, hi], at most ``limit`` per variant, the newest first, but for those
    whose answer summary rules out ``threshold`` over at least ``minimum``
    fields both answered (``dup.summary_estimate``; both with a summary and the
    same layout)."""

    variants: tuple[str, ...] | frozenset[str]
    lo: int
    hi: int
    limit: int
    layout: int
    summary: tuple[int, int] | None  # the record's (answered, sketch)
    minimum: int
    threshold: float
    person: str = ""  # the person key itself (for reads from the store)


def probe_for(det) -> Probe | None:
    """The typo rule's question for a record as ``server.dedup.detect`` described it
    (``Detection``); None when it has no person key or no day, or its form's
    rules switch the typo rule off (``case_id_typo``)."""
    if not det.parts or det.day is None or not det.rules.case_id_typo:
        return None
    rules = det.rules
    return Probe(det.variants, det.day - rules.typo_days, det.day + rules.typo_days,
                 rules.max_candidates, det.layout, det.summary, rules.min_compared,
                 rules.typo_similarity, det.parts.person)


def _similar(probe: Probe, keys) -> list[Key]:
    """The keys whose answer summary does not rule out ``probe.threshold`` (both
    records with a summary and the same layout; else only their answers can)."""
    return dup.kept_by_summary(probe.summary, probe.layout, probe.minimum, probe.threshold,
                               keys, 3)


def _keep(rows, probe: Probe, out: dict[int, str]) -> bool:
    """Into ``out``: of key rows (newest first), those whose summary does not
    rule them out, until it holds ``limit`` x the number of variants (the bound
    ``_Weeks.find`` has); returns whether there is room for more."""
    room = probe.limit * len(probe.variants) - len(out)
    if room <= 0:
        return False
    for sid, person, *_ in _similar(probe, rows):
        if sid in out:
            continue
        out[sid] = person
        room -= 1
        if not room:
            return False
    return True


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
        variants = variants or tuple(dup.deletion_variants(key[1]))
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

    def merge(self, other: "_Weeks") -> None:
        """Add every key of ``other`` (a batch's own keys at its commit), none of
        them held here: as ``add`` of each in ``other``'s order would, with the
        variant table merged in C but for the variants both hold."""
        self.keys.update(other.keys)
        for week, sids in other.by_week.items():
            self.by_week.setdefault(week, []).extend(sids)
        table, theirs = self.variants, other.variants
        both = [(v, table[v]) for v in table.keys() & theirs.keys()]
        table.update(theirs)  # ``other`` is dropped after: its lists can be shared
        for v, held in both:
            new = theirs[v]
            table[v] = (held if type(held) is list else [held]) + \
                (new if type(new) is list else [new])

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
        """Into ``out``: submission id -> person key of the keys ``probe`` asks for.
        Most neighbours of a dense case id end here, on ``dup.kept_by_summary``'s
        check, made in this loop without a list or a call per key."""
        lo, hi, limit = probe.lo, probe.hi, probe.limit
        get = self.variants.get
        summary = probe.summary
        if summary is None:
            mine_answered = mine_sketch = 0
        else:
            mine_answered, mine_sketch = summary[0] & _MASK64, summary[1]
        layout, minimum, threshold = probe.layout, probe.minimum, probe.threshold
        for v in probe.variants:
            keys = get(v)
            if keys is None:
                continue
            if type(keys) is not list:
                keys = (keys,)
            elif len(keys) > limit:  # the newest in the window, up to the bound
                keys = [k for k in reversed(keys) if lo <= k[2] <= hi][:limit]
            for key in keys:
                if not lo <= key[2] <= hi or key[0] in out:
                    continue
                answered = key[4]
                if summary is not None and answered is not None and key[3] == layout:
                    both_mask = mine_answered & answered
                    both = both_mask.bit_count()
                    if both < minimum or (
                            (both - ((mine_sketch ^ key[5]) & both_mask).bit_count()) / both
                            if both else 0.0) < threshold:
                        continue
                out[key[0]] = key[1]


class _Store:
    """One store's map in this process."""

    def __init__(self, path: str, ident: tuple) -> None:
        self.path, self.ident, self.pid = path, ident, os.getpid()
        self.lock = threading.Lock()
        self.reader: sqlite3.Connection | None = None
        self.seq: int | None = None       # every change up to this one is in the map
        self.scopes: dict[tuple, _Weeks] = {}     # (form_id, round) -> weeks
        self.where: dict[int, tuple] = {}         # submission id -> its scope
        self.batches = 0                  # sessions begun: the clock of "last used"
        # (form_id, round, week) loaded -> the batch that last used it, the
        # least recently used first
        self.loaded: dict[tuple, int] = {}
        self.size = 0
        # (form_id, round) -> all its keys by day, loaded for wide batches
        self.rounds: dict[tuple, DayOrder] = {}
        self.rounds_used: dict[tuple, int] = {}  # (form_id, round) -> last batch
        self.round_keys = 0                # keys in ``rounds``
        self.too_many: set[tuple] = set()  # rounds with more keys than fit

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
        self.rounds.clear()
        self.rounds_used.clear()
        self.round_keys = 0
        self.too_many.clear()

    def begin(self) -> int:
        """Catch up with the last commit; returns its change sequence."""
        committed = self.committed_seq()
        if self.seq is None or committed < self.seq:
            self.reset()  # first use, or the file is not the one we read before
        elif committed > self.seq and (self.scopes or self.rounds):
            rows = self.read(*dup_q.keys_changed_since(self.seq, MAX_CATCH_UP + 1))
            if len(rows) > MAX_CATCH_UP:
                self.reset()
            else:
                for form_id, round_, *key in rows:
                    self.put(form_id, round_, tuple(key))
        self.seq = committed
        self.batches += 1
        if self.batches % SWEEP_EVERY == 0:
            self.let_go_idle()
        return committed

    def let_go_idle(self) -> None:
        """Drop the weeks that no batch has used in the last ``IDLE_BATCHES``,
        and the rounds held in day order none used in ``IDLE_ROUND_BATCHES``."""
        oldest = self.batches - IDLE_BATCHES
        for mark, used in list(self.loaded.items()):
            if used >= oldest:
                break  # the rest were used later
            self.drop_week(mark)
        oldest = self.batches - IDLE_ROUND_BATCHES
        for scope, used in list(self.rounds_used.items()):
            if used < oldest:
                self.round_keys -= len(self.rounds.pop(scope))
                del self.rounds_used[scope]
                self.too_many.clear()  # room again: those may fit now

    def put(self, form_id: str, round_: str, key: Key, variants=None) -> None:
        """A key committed since the map was read: into the rounds held in day
        order, and into the map (``place``)."""
        scope = (form_id, round_)
        days = self.rounds.get(scope)
        if days is not None:
            self.round_keys += days.put(key[0], key[1], key[2])
            if self.round_keys > MAX_ROUND_KEYS:  # grown beyond the bound: let it go
                del self.rounds[scope], self.rounds_used[scope]
                self.round_keys -= len(days)
                self.too_many.add(scope)
        self.place(form_id, round_, key, variants)

    def put_all(self, form_id: str, round_: str, own: _Weeks) -> None:
        """``put`` of each of a batch's own keys, in one merge where they can be
        (new submissions of weeks loaded, their round not held in day order)."""
        scope = (form_id, round_)
        weeks = self.scopes.get(scope)
        where = self.where
        if weeks is None or scope in self.rounds or any(sid in where for sid in own.keys) \
                or any(key[2] // WEEK not in weeks.loaded for key, _ in own.keys.values()):
            for key, variants in own.keys.values():
                self.put(form_id, round_, key, variants)
            return
        weeks.merge(own)
        for sid in own.keys:
            where[sid] = scope
        self.size += len(own.keys)

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
                self.loaded[mark] = self.batches
                continue
            rows = self.read(*dup_q.keys_in_days(form_id, round_, week * WEEK,
                                                 week * WEEK + WEEK - 1))
            weeks.loaded.add(week)
            self.loaded[mark] = self.batches
            for key in rows:
                self.place(form_id, round_, key)
        return weeks

    def round_days(self, form_id: str, round_: str) -> DayOrder | None:
        """All the (form, round)'s keys in day order, read whole the first time;
        None when they would take the held keys beyond ``MAX_ROUND_KEYS``."""
        scope = (form_id, round_)
        days = self.rounds.get(scope)
        if days is None and scope not in self.too_many:
            room = MAX_ROUND_KEYS - self.round_keys
            rows = self.read(*dup_q.keys_of_round(form_id, round_, room + 1)) if room > 0 else []
            if room <= 0 or len(rows) > room:
                self.too_many.add(scope)
            else:
                days = self.rounds[scope] = DayOrder(rows)
                self.round_keys += len(days)
        if days is not None:
            self.rounds_used[scope] = self.batches
        return days

    def trim(self, keep: set) -> None:
        """Beyond ``MAX_KEYS`` keys, drop the weeks used least recently, never
        those in ``keep`` (the weeks of the lookup being answered)."""
        for mark in list(self.loaded):
            if self.size <= MAX_KEYS:
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


_STORES: dict[str, _Store] = {}
_STORES_LOCK = threading.Lock()
MAX_STORES = 8  # a process that opens many stores (tests, tools) keeps the newest


def session(db: Database) -> "Session | Direct":
    """The typo lookups of one batch inside a write transaction of ``db``."""
    path = _file_of(db)
    if not path:
        return Direct(db)
    try:
        st = os.stat(path)
    except OSError:
        return Direct(db)
    ident = (st.st_dev, st.st_ino)
    with _STORES_LOCK:
        store = _STORES.get(path)
        if store is None or store.ident != ident or store.pid != os.getpid():
            if store is not None and store.pid == os.getpid():
                store.close()
            store = _STORES[path] = _Store(path, ident)
            while len(_STORES) > MAX_STORES:
                _STORES.pop(next(iter(_STORES))).close()
    return Session(db, store)


def forget(path: str) -> None:
    """Drop a store's map (its file is being replaced, e.g. a restore)."""
    with _STORES_LOCK:
        store = _STORES.pop(str(path), None)
    if store is not None and store.pid == os.getpid():
        store.close()


def _file_of(db: Database) -> str:
    cache = getattr(db, "_fieldsync_file", None)
    if cache is None:
        row = next((r for r in db.conn.execute("PRAGMA database_list") if r[1] == "main"), None)
        cache = (row[2] if row else "") or ""
        try:
            db._fieldsync_file = cache
        except AttributeError:
            pass
    return cache


class Direct:
    """Typo lookups read from the store each time (stores without a file); the
    keys its own batch writes are kept as in ``Session``."""

    def __init__(self, db: Database):
        self.db = db
        self.own: dict[tuple, _Weeks] = {}  # keys this transaction wrote, by scope
        self.last: int | None = None

    def neighbours(self, form_id: str, round_: str, probe: Probe) -> dict[int, str]:
        """Submission id -> person key of the keys of (form, round) ``probe`` asks
        for."""
        found = self.committed_neighbours(form_id, round_, probe)
        self.own_neighbours(form_id, round_, probe, found)
        return found

    def committed_neighbours(self, form_id: str, round_: str, probe: Probe) -> dict[int, str]:
        """What ``probe`` asks for among the keys stored before the batch."""
        return self.read_neighbours(form_id, round_, probe)

    def read_neighbours(self, form_id: str, round_: str, probe: Probe) -> dict[int, str]:
        """The same, read from the store: the person keys of the form and round
        in the record's window, those one edit away picked in C (rapidfuzz),
        then their rows (a subset of what the map gives, and all the rule
        keeps of it)."""
        persons = dup_q.persons_in_days_on(self.db, form_id, round_, probe.lo, probe.hi)
        near = sorted({persons[at] for at in dup.within_one_edit_of(probe.person, persons)})
        rows = dup_q.keys_of_persons_on(self.db, form_id, round_, near, probe.lo, probe.hi)
        found: dict[int, str] = {}
        _keep(rows, probe, found)
        return found

    def own_neighbours(self, form_id: str, round_: str, probe: Probe,
                       found: dict[int, str]) -> None:
        """Into ``found``: what ``probe`` asks for among the keys this batch
        wrote (its version of a key wins)."""
        own = self.own.get((form_id, round_))
        if own is not None:
            for sid in [s for s in found if s in own.keys]:
                del found[sid]
            own.find(probe, found)

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


class Session(Direct):
    """One batch's typo lookups against the shared map (see the module's doc)."""

    def __init__(self, db: Database, store: _Store):
        super().__init__(db)
        self.store = store
        with store.lock:
            self.start = self.last = store.begin()
        # What this transaction wrote before the batch (an outer transaction):
        # visible on the caller's connection only.
        for form_id, round_, *key in dup_q.keys_changed_on(db, self.start):
            self.written(form_id, round_, tuple(key), None, -1)

    def committed_neighbours(self, form_id: str, round_: str, probe: Probe) -> dict[int, str]:
        found: dict[int, str] = {}
        store, used = self.store, set()
        with store.lock:
            store.weeks(form_id, round_, probe.lo, probe.hi, used).find(probe, found)
            if store.size > MAX_KEYS:
                store.trim(used)
        return found

    def read_neighbours(self, form_id: str, round_: str, probe: Probe) -> dict[int, str]:
        """For a wide batch: the (form, round)'s keys held in day order, those in
        the record's window one edit away, then their rows (by id); read from
        the store as ``Direct`` does when the round has too many keys to hold."""
        store = self.store
        with store.lock:
            days = store.round_days(form_id, round_)
            sids = None if days is None else days.near(probe)
        if sids is None:
            return super().read_neighbours(form_id, round_, probe)
        found: dict[int, str] = {}
        for at in range(0, len(sids), IDS_PER_READ):  # a placeholder id may have thousands
            if not _keep(dup_q.typo_keys_of_on(self.db, sids[at:at + IDS_PER_READ]),
                         probe, found):
                break
        return found

    def committed(self) -> None:
        """Call once the batch's transaction has committed: its keys go into the
        shared map, unless anything else changed the store in between (then the
        next session reads them back)."""
        store = self.store
        with store.lock:
            if not self.own or store.seq != self.start or self.last is None \
                    or store.committed_seq() != self.last:
                return
            for (form_id, round_), own in self.own.items():
                store.put_all(form_id, round_, own)
            store.seq = self.last
        self.own = {}

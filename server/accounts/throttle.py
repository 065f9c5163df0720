"""Back-off after failed sign-ins, per account and per client address.

Every password or Digest sign-in passes ``gate`` before its credentials are
checked, then reports ``failed`` or ``succeeded``. The state is in the store
(``login_throttles``), so every web worker sees the same counts.

- Each key (``user:NAME``, ``address:ADDR``) may fail a few times freely
  (``FREE_FAILURES``); each further failure blocks it for twice as long as the
  one before, from ``FIRST_BLOCK_SECONDS`` up to ``MAX_BLOCK_SECONDS``; a key
  that has not failed for ``FORGET_AFTER_SECONDS`` starts afresh. There is no
  permanent lockout: the longest wait is ``MAX_BLOCK_SECONDS``.
- An attacker guessing one enumerator's password blocks the account key, but
  not the enumerator's own tablets: an address the account signed in from in
  the last ``KNOWN_ADDRESS_DAYS`` days passes an account block (its own address
  key still counts its own failures). So guessing cannot lock a real user out
  the night before a field trip; a new device waits at most MAX_BLOCK_SECONDS.
- A blocked sign-in is refused before any password hash runs: 429
  ``login_throttled`` with ``details.retry_after`` (seconds) and Retry-After.
- Unknown names are counted like real ones, so throttling tells nothing about
  which accounts exist.

An admin sees the keys with ``list_throttles`` and lifts one with ``clear``
(``fieldsync throttle list|clear``, ``GET|DELETE /api/v1/throttles``).

The same store limits what anonymous callers may do: ``count_event`` counts
one event (a public link's submission, server/enketo/public.py) against a key
such as ``public:ADDR`` and allows a number per hour, listed and cleared like
the rest.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from sqlite_utils import Database

from server.errors import FieldsyncError
from server.store import audit
from server.store import logins as logins_q
from server.store.db import write_transaction

FREE_FAILURES = {"user": 5, "address": 20}  # a tablet shared by several people fails more
FIRST_BLOCK_SECONDS = 1.0
MAX_BLOCK_SECONDS = 15 * 60.0
FORGET_AFTER_SECONDS = 60 * 60.0
KNOWN_ADDRESS_DAYS = 30
REMEMBER_EVERY_SECONDS = 24 * 3600.0  # how often a known address's date is refreshed
MAX_NAME_IN_KEY = 128

log = logging.getLogger("fieldsync.auth")
clock = time.time  # Unix seconds; tests replace it


def user_key(name: str) -> str:
    return "user:" + (name or "")[:MAX_NAME_IN_KEY]


def address_key(address: str) -> str:
    return "address:" + (address or "unknown")


def block_seconds(failures: int, free: int) -> float:
    """How long a key with ``failures`` recent failures is blocked (0: not)."""
    beyond = failures - free
    if beyond <= 0:
        return 0.0
    return min(FIRST_BLOCK_SECONDS * 2.0 ** min(beyond - 1, 32), MAX_BLOCK_SECONDS)


@dataclass
class Gate:
    """A sign-in that passed the throttle; report how it ended."""

    name: str
    address: str
    now: float
    user_failures: int  # the account's recent failures (0: no row)
    user_blocked: bool  # passed only because the address is known to the account


def gate(db: Database, name: str, address: str, now: float | None = None) -> Gate:
    """Refuse (``login_throttled``) a sign-in whose address or account is blocked."""
    now = clock() if now is None else now
    ukey, akey = user_key(name), address_key(address)
    rows = logins_q.throttles_for(db, [ukey, akey])
    by_address, by_user = rows.get(akey), rows.get(ukey)
    wait = 0.0
    if by_address and by_address["blocked_until"] > now:
        wait = by_address["blocked_until"] - now
    user_blocked = bool(by_user and by_user["blocked_until"] > now)
    if not wait and user_blocked and not _known(db, name, address, now):
        wait = by_user["blocked_until"] - now
    if wait:
        retry_after = max(1, math.ceil(wait))
        log.warning("login_throttled", extra={"fields": {
            "user_tried": name[:MAX_NAME_IN_KEY], "address": address,
            "retry_after": retry_after}})
        raise FieldsyncError(
            "login_throttled",
            f"Too many failed sign-ins for this account or from this address; try again "
            f"in {retry_after} seconds.", {"retry_after": retry_after})
    fresh = by_user and now - by_user["last_failed_at"] <= FORGET_AFTER_SECONDS
    return Gate(name, address, now, by_user["failures"] if fresh else 0, user_blocked)


def failed(db: Database, gate_: Gate) -> None:
    """Count a failure against the account and the address (committed at once,
    whatever the request does next)."""
    now = gate_.now
    with write_transaction(db, durable=False):
        keys = {user_key(gate_.name): "user", address_key(gate_.address): "address"}
        rows = logins_q.throttles_for(db, list(keys))
        for key, kind in keys.items():
            row = rows.get(key)
            if row is None or now - row["last_failed_at"] > FORGET_AFTER_SECONDS:
                row = {"key": key, "failures": 0, "first_failed_at": now}
            failures = row["failures"] + 1
            logins_q.put_throttle(db, {
                **row, "failures": failures, "last_failed_at": now,
                "blocked_until": now + block_seconds(failures, FREE_FAILURES[kind])})
        logins_q.forget_throttles(db, now - FORGET_AFTER_SECONDS, now)


_remembered: dict[tuple[str, str], float] = {}  # (name, address) -> when, this process


def succeeded(db: Database, gate_: Gate) -> None:
    """After a good sign-in: forget the account's few failures (not while it is
    blocked: a real user's success must not hand an attacker fresh guesses) and
    remember the address as one this account uses (refreshed once a day; this
    process remembers what it wrote or read, so a tablet's every request does
    not ask the store again)."""
    now = gate_.now
    reset = gate_.user_failures > 0 and not gate_.user_blocked
    pair = (gate_.name, gate_.address)
    last_ok = _remembered.get(pair)
    if last_ok is None or now - last_ok > REMEMBER_EVERY_SECONDS:
        last_ok = logins_q.address_signed_in_at(db, *pair)
    remember = last_ok is None or now - last_ok > REMEMBER_EVERY_SECONDS
    if reset or remember:
        with write_transaction(db, durable=False):
            if reset:
                logins_q.delete_throttle(db, user_key(gate_.name))
            if remember:
                logins_q.remember_address(db, gate_.name, gate_.address, now)
                logins_q.forget_addresses(db, before=now - KNOWN_ADDRESS_DAYS * 86400)
        last_ok = now if remember else last_ok
    if len(_remembered) >= 10_000:
        _remembered.clear()
    _remembered[pair] = last_ok


EVENT_WINDOW_SECONDS = 3600.0


def count_event(db: Database, key: str, per_hour: int, now: float | None = None) -> int:
    """Count one event against ``key``, at most ``per_hour`` in the hour from the
    first; returns 0 when it was within the limit (and counted), otherwise the
    seconds until the hour is over (the event is not counted)."""
    now = clock() if now is None else now
    with write_transaction(db, durable=False):
        row = logins_q.throttles_for(db, [key]).get(key)
        if row is None or now - row["first_failed_at"] >= EVENT_WINDOW_SECONDS:
            row = {"key": key, "failures": 0, "first_failed_at": now, "blocked_until": 0.0}
        if row["failures"] >= per_hour:
            return max(1, math.ceil(row["first_failed_at"] + EVENT_WINDOW_SECONDS - now))
        count = row["failures"] + 1
        full = count >= per_hour
        logins_q.put_throttle(db, {
            **row, "failures": count, "last_failed_at": now,
            "blocked_until": row["first_failed_at"] + EVENT_WINDOW_SECONDS if full else 0.0})
    return 0


def _known(db: Database, name: str, address: str, now: float) -> bool:
    last_ok = logins_q.address_signed_in_at(db, name, address)
    return last_ok is not None and now - last_ok <= KNOWN_ADDRESS_DAYS * 86400


def list_throttles(db: Database, now: float | None = None) -> list[dict]:
    """Every key with recent failures: ``{key, kind, failures, first_failed_at,
    last_failed_at, blocked_until, retry_after}`` (times ISO-8601 UTC;
    retry_after 0 when not blocked now), most recent first."""
    now = clock() if now is None else now
    out = []
    for row in logins_q.list_throttles(db):
        if now - row["last_failed_at"] > FORGET_AFTER_SECONDS and row["blocked_until"] <= now:
            continue
        out.append({
            "key": row["key"], "kind": row["key"].partition(":")[0],
            "failures": row["failures"],
            "first_failed_at": _iso(row["first_failed_at"]),
            "last_failed_at": _iso(row["last_failed_at"]),
            "blocked_until": _iso(row["blocked_until"]),
            "retry_after": max(0, math.ceil(row["blocked_until"] - now)),
        })
    return out


def clear(db: Database, key: str, actor: str | None = None) -> dict:
    """Lift a throttle (``user:NAME`` or ``address:ADDR``) and forget its failures."""
    with write_transaction(db):
        if not logins_q.delete_throttle(db, key):
            raise FieldsyncError("throttle_unknown", f"No throttle '{key}'; list them with "
                                 "`fieldsync throttle list`.", {"key": key})
        audit.record(db, actor, "throttle.clear", key)
    return {"key": key, "cleared": True}


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + \
        f".{int(seconds % 1 * 1000):03d}Z"

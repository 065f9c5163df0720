"""Forwarding an office's records to HQ, through the same push engine devices use.

One run (``forward_once``) reads the changes after the outbox cursor (plus the
dead letters queued for retry), pushes them to the upstream's
``/api/v1/sync/push`` with the peer token via ``sync.engine.Pusher`` (batching,
halving, missing attachments PUT to ``/api/v1/attachments/{sha256}``), and then:

- each batch HQ acknowledged moves the cursor forward in one transaction, as
  far as every change up to it is settled (a crash resends the rest; HQ answers
  ``duplicate``);
- a record HQ refused (or whose attachment bytes this office lacks) becomes a
  dead letter with the reason, and no longer holds the cursor back;
- a failure to reach HQ is counted and the next attempt waits an exponential
  backoff with full jitter (``next_attempt_at``), for as long as it takes.

Each forwarded record carries this office's view of it (scores, flags, review
state, provenance, and ``origin.office_seq``), so a rescored or reviewed record,
which gets a new seq here, is forwarded again and HQ updates its copy
(``server.forwarding.hq``).
"""

from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Callable

from sqlite_utils import Database

from server.store import outbox as outbox_q
from server.store import submissions as subs_q
from sync.client import Client, RetryPolicy
from sync.engine import Pusher
from sync.errors import SyncError

WINDOW = 500
BACKOFF_BASE = 2.0
BACKOFF_CAP = 600.0


def forward_record(db: Database, row: dict, office: str) -> dict:
    """A stored row as it is pushed upstream: a record (docs/API.md, "Sync") with
    the office's state."""
    origin = dict(row["origin"] or {})
    origin.setdefault("office", office)
    origin.setdefault("received_at", row["received_at"])
    origin["office_seq"] = row["seq"]
    origin["scoring_version"] = row["scoring_version"]
    atts = [{"name": a["name"], "sha256": a["sha256"], "size": a["size"]}
            for a in subs_q.attachments(db, row["id"]) if a["sha256"]]
    return {
        "instance_id": row["instance_id"], "form_id": row["form_id"],
        "form_version": row["form_version"], "deprecated_id": row["deprecated_id"],
        "data": row["data"], "attachments": atts, "origin": origin,
        "scores": row["scores"], "flags": row["flags"],
        "review_state": row["review_state"], "received_at": row["received_at"],
    }


class _Run:
    """The rows of one forwarding run and what has been settled of them."""

    def __init__(self, db: Database, cursor: int, window: int):
        self.db = db
        self.cursor = cursor
        self.rows: dict[str, dict] = {}  # instance_id -> row (one per id per run)
        self.window_seqs: list[int] = []
        self.settled: set[int] = set()
        self.retried: set[int] = set()
        self._load(window)

    def _add(self, row: dict) -> bool:
        if row["instance_id"] in self.rows:
            return False
        for earlier in self._unsent_predecessors(row):
            self.rows[earlier["instance_id"]] = earlier
        self.rows[row["instance_id"]] = row
        return True

    def _unsent_predecessors(self, row: dict) -> list[dict]:
        """The versions an edit builds on that are still queued: HQ needs them first."""
        chain, dep = [], row["deprecated_id"]
        while dep and len(chain) < 50:
            prev = next((r for r in subs_q.by_instance(self.db, dep)
                         if r["state"] != "conflict"), None)
            if prev is None or prev["seq"] <= self.cursor or dep in self.rows:
                break
            chain.append(prev)
            dep = prev["deprecated_id"]
        return list(reversed(chain))

    def _load(self, window: int) -> None:
        for sub_id in outbox_q.retry_ids(self.db, window):
            row = subs_q.by_id(self.db, sub_id)
            if row is not None and self._add(row):
                self.retried.add(row["id"])
        for row in subs_q.changes(self.db, self.cursor, window):
            if row["instance_id"] in self.rows and row["seq"] != \
                    self.rows[row["instance_id"]]["seq"]:
                break  # a second row with this instance_id: next run
            if row["instance_id"] not in self.rows:
                self._add(row)
            self.window_seqs.append(row["seq"])

    def new_cursor(self) -> int:
        cursor = self.cursor
        for seq in self.window_seqs:
            if seq not in self.settled:
                break
            cursor = seq
        return cursor


def forward_once(db: Database, session, *, office: str, batch_size: int = 100,
                 window: int = WINDOW, attempts: int = 3,
                 timeout: float | tuple[float, float] = (5.0, 30.0),
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, force: bool = False,
                 backoff_base: float = BACKOFF_BASE, backoff_cap: float = BACKOFF_CAP) -> dict:
    """One forwarding run; returns a summary dict (``sent``, ``dead``, ``more``, ...)."""
    rng = rng or random.Random()
    up = outbox_q.upstream(db)
    if up is None:
        return {"status": "no_upstream", "sent": 0, "dead": 0, "more": False}
    if not force and time.time() < up["next_attempt_at"]:
        return {"status": "backing_off", "sent": 0, "dead": 0, "more": False}
    with db.atomic():
        outbox_q.requeue_ready_attachments(db)
    run = _Run(db, up["cursor"], window)
    if not run.rows:
        with db.atomic():
            outbox_q.record_attempt(db, ok=True, error=None, failures=0, next_attempt_at=0,
                                    run_by=_me())
        return {"status": "idle", "sent": 0, "dead": 0, "more": False}
    by_id = run.rows

    def on_results(results: list[dict]) -> None:
        acked = [by_id[r["instance_id"]] for r in results if r["instance_id"] in by_id]
        run.settled.update(row["seq"] for row in acked)
        with db.atomic():
            outbox_q.forget_dead(db, [row["id"] for row in acked])
            outbox_q.advance(db, run.new_cursor(), len(acked))

    policy = RetryPolicy(attempts=attempts, base=0.5, cap=5.0, sleep=sleep, rng=rng)
    client = Client(session, up["url"], up["token"], timeout=timeout, policy=policy)
    pusher = Pusher(client, f"office:{office}", on_results=on_results,
                    read_attachment=lambda sha: subs_q.get_blob(db, sha),
                    batch_size=batch_size)
    records = [forward_record(db, row, office) for row in by_id.values()]
    error = None
    try:
        summary = pusher.run(records).as_dict()
    except SyncError as exc:
        error = exc.message
        summary = exc.details.get("summary") or pusher.summary.as_dict()
    dead = _settle_problems(db, run, summary.get("problems", []))
    failures = up["failures"] + 1 if error else 0
    delay = rng.uniform(0, min(backoff_cap, backoff_base * 2 ** failures)) if error else 0
    with db.atomic():
        outbox_q.advance(db, run.new_cursor(), 0)
        outbox_q.record_attempt(db, ok=error is None, error=error, failures=failures,
                                next_attempt_at=time.time() + delay if error else 0,
                                run_by=_me())
    return {"status": "failed" if error else "ok", "error": error,
            "sent": summary.get("acknowledged", 0), "dead": dead,
            "by_status": summary.get("by_status", {}),
            "more": error is None and run.new_cursor() > up["cursor"]
            and outbox_q.queued_count(db, run.new_cursor()) > 0,
            "retry_in": round(delay, 1)}


def _settle_problems(db: Database, run: _Run, problems: list[dict]) -> int:
    """Dead-letter what the upstream refused; leave unanswered records queued."""
    dead = 0
    with db.atomic():
        for problem in problems:
            row = run.rows.get(problem.get("instance_id"))
            error = str(problem.get("error", ""))
            if row is None or error.startswith("no_result"):
                continue
            kind = "attachment" if error.startswith("attachment_") else "refused"
            outbox_q.dead_letter(db, row["id"], row["instance_id"], row["seq"], kind, error)
            run.settled.add(row["seq"])
            dead += 1
    return dead


def forward_until_idle(db: Database, session, *, office: str, max_runs: int = 100,
                       **kwargs) -> dict:
    """Run ``forward_once`` while there is more to send and the upstream answers."""
    total = {"sent": 0, "dead": 0, "runs": 0, "status": "idle"}
    for _ in range(max_runs):
        result = forward_once(db, session, office=office, **kwargs)
        total["runs"] += 1
        total["sent"] += result["sent"]
        total["dead"] += result["dead"]
        total["status"] = result["status"]
        total["error"] = result.get("error")
        if not result["more"]:
            break
    return total


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"

"""The push/pull engine, shared by devices and by office -> HQ forwarding.

It knows records (dicts shaped as docs/API.md, "Sync", shows them) and a
server; it knows nothing of where records are kept. The caller hands in an
iterable of records and gets the server's answers back through ``on_results``,
once per acknowledged batch, so it can record them in one transaction:

    summary = push_records(session, "http://office:8000", token, device_id,
                           store.queued_records(), on_results=store.mark_sent,
                           read_attachment=store.attachment_bytes)

Resume is by construction: a record is reported acknowledged only when the
server's result for it arrived (and its missing attachments were uploaded).
Anything else stays with the caller, is sent again next time, and the server
answers ``duplicate``. A failing batch is halved (down to one record) and grows
back after successes; retries back off exponentially with full jitter.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from sync.client import DEFAULT_TIMEOUT, Client, RetryPolicy, TransientError, unreachable
from sync.errors import SyncError
from sync.protocol import MAX_BATCH, STATUSES

__all__ = ["PushSummary", "Pusher", "fetch_xform", "iter_changes", "list_form_versions",
           "push_records"]

DEFAULT_BATCH = 50


@dataclass
class PushSummary:
    """What a push achieved: counts by server status, and what stayed behind."""

    by_status: Counter = field(default_factory=Counter)
    acknowledged: int = 0
    problems: list[dict] = field(default_factory=list)  # [{instance_id, error}]
    batches: int = 0
    failures: int = 0

    def as_dict(self) -> dict:
        return {"acknowledged": self.acknowledged, "by_status": dict(self.by_status),
                "problems": self.problems, "batches": self.batches,
                "failures": self.failures}


def push_records(session, base_url: str, token: str, device_id: str,
                 records: Iterable[dict], *,
                 on_results: Callable[[list[dict]], None] | None = None,
                 on_progress: Callable[[int], None] | None = None,
                 read_attachment: Callable[[str], bytes | None] | None = None,
                 batch_size: int = DEFAULT_BATCH,
                 timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 attempts: int = 8, backoff_base: float = 0.5, backoff_cap: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> PushSummary:
    """Push ``records`` to ``base_url``; returns a ``PushSummary``.

    ``on_results(results)`` is called once per acknowledged batch with the
    server's result dicts (``instance_id, status, seq, missing_attachments``);
    if it raises, the push stops and the exception propagates (nothing further
    is acknowledged). ``on_progress(n)`` is told how many records were just
    settled (acknowledged or given up for this run). ``read_attachment(sha256)``
    returns the bytes of an attachment the server asks for, or None.
    After ``attempts`` consecutive transient failures it raises
    ``SyncError("server_unreachable")``; everything not yet acknowledged stays
    with the caller.
    """
    policy = RetryPolicy(attempts=attempts, base=backoff_base, cap=backoff_cap, sleep=sleep,
                         rng=rng or random.Random())
    client = Client(session, base_url, token, timeout=timeout, policy=policy)
    return Pusher(client, device_id, on_results=on_results, on_progress=on_progress,
                  read_attachment=read_attachment, batch_size=batch_size).run(records)


class Pusher:
    """One push run over a ``Client``: batching, halving, attachments, callbacks."""

    def __init__(self, client: Client, device_id: str, *, on_results=None, on_progress=None,
                 read_attachment=None, batch_size: int = DEFAULT_BATCH):
        self.client = client
        self.device_id = device_id
        self.on_results = on_results or (lambda results: None)
        self.on_progress = on_progress or (lambda n: None)
        self.read_attachment = read_attachment or (lambda sha: None)
        self.target = max(1, min(batch_size, MAX_BATCH))
        self.summary = PushSummary()

    def run(self, records: Iterable[dict]) -> PushSummary:
        """Push everything; on an error, its details carry the summary so far."""
        try:
            return self._run(iter(records))
        except SyncError as exc:
            exc.details.setdefault("summary", self.summary.as_dict())
            raise

    def _run(self, source: Iterator[dict]) -> PushSummary:
        pending: deque[dict] = deque()
        size, failure = self.target, 0
        while True:
            pending.extend(islice(source, max(0, size - len(pending))))
            if not pending:
                return self.summary
            batch = list(islice(pending, size))
            try:
                results = self.client.push_batch(self.device_id, str(uuid.uuid4()), batch)
            except TransientError as exc:
                failure += 1
                self.summary.failures += 1
                if failure >= self.client.policy.attempts:
                    raise unreachable(self.client.base_url, exc) from None
                if exc.status == 413 and len(batch) == 1:
                    self._give_up(pending, batch, "too_large: the server refuses this record "
                                  "even alone (HTTP 413)")
                size = max(1, len(batch) // 2)
                self.client.policy.pause(failure)
                continue
            except SyncError as exc:
                if not self._drop_invalid(pending, batch, exc):
                    raise
                continue
            failure = 0
            self.summary.batches += 1
            for _ in batch:
                pending.popleft()
            self._settle(batch, results)
            size = min(self.target, size * 2)

    def _settle(self, batch: list[dict], results: list[dict]) -> None:
        """Hand acknowledged results to the caller; upload missing attachments."""
        sent_ids = {r["instance_id"] for r in batch}
        by_id = {r.get("instance_id"): r for r in results if isinstance(r, dict)
                 and r.get("status") in STATUSES and r.get("instance_id") in sent_ids}
        complete = [r for r in by_id.values() if not r.get("missing_attachments")]
        waiting = [r for r in by_id.values() if r.get("missing_attachments")]
        unanswered = [{"instance_id": i, "error": "no_result: the server's answer did not "
                       "include this record; it will be sent again"}
                      for i in sent_ids - by_id.keys()]
        self._acknowledge(complete)
        records = {r["instance_id"]: r for r in batch}
        for result in waiting:
            problem = self._upload(result, records[result["instance_id"]])
            if problem:
                self.summary.problems.append({"instance_id": result["instance_id"],
                                              "error": problem})
                self.on_progress(1)
            else:
                self._acknowledge([{**result, "missing_attachments": []}])
        self.summary.problems.extend(unanswered)
        if unanswered:
            self.on_progress(len(unanswered))

    def _acknowledge(self, results: list[dict]) -> None:
        if not results:
            return
        self.on_results(results)
        self.summary.acknowledged += len(results)
        self.summary.by_status.update(r["status"] for r in results)
        self.on_progress(len(results))

    def _upload(self, result: dict, record: dict) -> str | None:
        """PUT each missing attachment; returns a problem text, or None when all arrived.

        The server names what it misses by file name (or by sha256); the record's
        ``attachments`` list says which bytes that is.
        """
        listed = record.get("attachments") or []
        by_name = {a.get("name"): a.get("sha256") for a in listed}
        hashes = {a.get("sha256") for a in listed}
        for wanted in result["missing_attachments"]:
            sha = wanted if wanted in hashes else by_name.get(wanted)
            body = self.read_attachment(sha) if sha else None
            if body is None:
                return f"attachment_missing: {wanted} is not on this device"
            try:
                self.client.put_attachment(sha, body)
            except SyncError as exc:
                if exc.code != "server_refused":
                    raise
                return f"attachment_refused: {exc.message}"
        return None

    def _drop_invalid(self, pending: deque, batch: list[dict], exc: SyncError) -> bool:
        """A batch refused for some invalid records: set those aside, resend the rest."""
        per_record = (exc.details.get("details") or {}).get("records")
        if exc.details.get("code") != "record_invalid" or not isinstance(per_record, dict):
            if len(batch) == 1 and exc.details.get("http_status") in (400, 422):
                self._give_up(pending, batch, f"refused: {exc.message}")
                return True
            return False
        bad = {batch[int(i)]["instance_id"]: problems for i, problems in per_record.items()
               if str(i).isdigit() and int(i) < len(batch)}
        if not bad:
            return False
        for instance_id, problems in bad.items():
            record = next(r for r in batch if r["instance_id"] == instance_id)
            self._give_up(pending, [record], f"record_invalid: {problems}")
        return True

    def _give_up(self, pending: deque, records: list[dict], error: str) -> None:
        for record in records:
            pending.remove(record)
            self.summary.problems.append({"instance_id": record["instance_id"],
                                          "error": error})
        self.on_progress(len(records))


def list_form_versions(session, base_url: str, token: str, *,
                       timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                       sleep: Callable[[float], None] = time.sleep) -> list[dict]:
    """``[{form_id, version, title, state, hash}]`` for every version the server lists."""
    client = _reader(session, base_url, token, timeout, sleep)
    out = []
    for form in client.get_json("/api/v1/forms").get("forms", []):
        detail = client.get_json(f"/api/v1/forms/{form['form_id']}")
        for version in detail.get("versions", []):
            out.append({"form_id": form["form_id"], "version": version["version"],
                        "title": detail.get("title") or form.get("title"),
                        "state": detail.get("state"), "hash": version.get("hash")})
    return out


def fetch_xform(session, base_url: str, token: str, form_id: str, version: str, *,
                timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                sleep: Callable[[float], None] = time.sleep) -> str:
    """The XForm text of one published version."""
    client = _reader(session, base_url, token, timeout, sleep)
    return client.get_text(f"/api/v1/forms/{form_id}/versions/{version}/xform")


def _reader(session, base_url, token, timeout, sleep) -> Client:
    return Client(session, base_url, token, timeout=timeout,
                  policy=RetryPolicy(attempts=5, sleep=sleep))


def iter_changes(session, base_url: str, token: str, since: int = 0, *, limit: int = 500,
                 form_id: str | None = None,
                 timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 sleep: Callable[[float], None] = time.sleep) -> Iterator[dict]:
    """Yield every change after ``since`` from the server's changes feed, page by page."""
    client = _reader(session, base_url, token, timeout, sleep)
    while True:
        params = {"since": since, "limit": limit}
        if form_id:
            params["form_id"] = form_id
        page = client.get_json("/api/v1/changes", params)
        changes = page.get("changes", [])
        yield from changes
        if not changes or page.get("next") is None or page["next"] == since:
            return
        since = page["next"]

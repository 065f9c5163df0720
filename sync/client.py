"""The HTTP side of sync: one small client over a requests-like Session.

The session is passed in (tests pass a fake one; the CLI a ``requests.Session``),
every call carries a timeout, and failures fall in two kinds:

    TransientError            worth retrying: connection refused or cut, timeout,
    │                         a garbled answer, 5xx, 408, 413, 429
    SyncError("server_refused")   the server said no (4xx): retrying will not help

``request`` retries transient failures with exponential backoff and full jitter
(``RetryPolicy``); ``push_batch`` makes exactly one attempt, because the engine
decides between attempts how big the next batch is.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from sync.errors import SyncError

__all__ = ["Client", "RetryPolicy", "TransientError", "unreachable"]

DEFAULT_TIMEOUT = (5.0, 60.0)  # (connect, read) seconds
TRANSIENT_STATUSES = {408, 413, 429, 500, 502, 503, 504}


class TransientError(Exception):
    """A failure worth retrying; ``status`` is the HTTP status if one arrived."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter: sleep ``uniform(0, min(cap, base * 2**n))``."""

    attempts: int = 8
    base: float = 0.5
    cap: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, failure: int) -> float:
        """The pause after the ``failure``-th consecutive failure (1-based)."""
        return self.rng.uniform(0, min(self.cap, self.base * 2 ** (failure - 1)))

    def pause(self, failure: int) -> None:
        self.sleep(self.delay(failure))


class Client:
    """Talks to one fieldsync server as one bearer-token holder."""

    def __init__(self, session, base_url: str, token: str, *,
                 timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 policy: RetryPolicy | None = None):
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.policy = policy or RetryPolicy()

    # -- one attempt -----------------------------------------------------------

    def once(self, method: str, path: str, *, params=None, data=None,
             headers: dict | None = None):
        """One HTTP attempt; returns a 2xx response or raises."""
        all_headers = {"Authorization": f"Bearer {self.token}",
                       "Accept": "application/json", **(headers or {})}
        try:
            resp = self.session.request(method, self.base_url + path, params=params,
                                        data=data, headers=all_headers, timeout=self.timeout)
        except requests.exceptions.RequestException as exc:
            raise TransientError(f"{method} {path}: {_short(exc)}") from None
        if resp.status_code in TRANSIENT_STATUSES:
            raise TransientError(f"{method} {path}: HTTP {resp.status_code}", resp.status_code)
        if resp.status_code >= 400:
            raise _refusal(method, path, resp)
        return resp

    # -- with retries ----------------------------------------------------------

    def request(self, method: str, path: str, **kwargs):
        """``once`` with retries on transient failures; raises ``server_unreachable``."""
        failure = 0
        while True:
            try:
                return self.once(method, path, **kwargs)
            except TransientError as exc:
                failure += 1
                if failure >= self.policy.attempts:
                    raise unreachable(self.base_url, exc) from None
                self.policy.pause(failure)

    def get_json(self, path: str, params: dict | None = None) -> dict:
        failure = 0
        while True:
            resp = self.request("GET", path, params=params)
            try:
                return resp.json()
            except ValueError as exc:  # a body cut short arrives as broken JSON
                failure += 1
                if failure >= self.policy.attempts:
                    raise unreachable(self.base_url, exc) from None
                self.policy.pause(failure)

    def get_text(self, path: str) -> str:
        return self.request("GET", path).text

    def put_attachment(self, sha256: str, body: bytes) -> int:
        """Upload one attachment; 201 new, 200 already held. 422 raises server_refused."""
        resp = self.request("PUT", f"/api/v1/attachments/{sha256}", data=body,
                            headers={"Content-Type": "application/octet-stream"})
        return resp.status_code

    def push_batch(self, device_id: str, batch_id: str, records: list[dict]) -> list[dict]:
        """POST one gzipped batch, one attempt; returns the server's results list."""
        body = gzip.compress(json.dumps(
            {"device_id": device_id, "batch_id": batch_id, "submissions": records},
            ensure_ascii=False, separators=(",", ":")).encode("utf-8"), compresslevel=6)
        resp = self.once("POST", "/api/v1/sync/push", data=body, headers={
            "Content-Type": "application/json", "Content-Encoding": "gzip"})
        try:
            results = resp.json()["results"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TransientError(f"push answer unreadable: {exc}") from None
        if not isinstance(results, list):
            raise TransientError("push answer has no results list")
        return results


def unreachable(base_url: str, exc: Exception) -> SyncError:
    return SyncError("server_unreachable",
                     f"The server at {base_url} could not be reached or kept failing "
                     f"({exc}); nothing unacknowledged was marked sent: try again later.",
                     {"server": base_url, "last_error": str(exc)})


def _short(exc: Exception) -> str:
    """'ConnectionError: [Errno 111] Connection refused' rather than urllib3's whole chain."""
    found = re.search(r"\[Errno [^\]]+\][^'\")]*", str(exc))
    return f"{exc.__class__.__name__}: {found.group(0).strip() if found else exc}"


def _refusal(method: str, path: str, resp) -> SyncError:
    try:
        err = resp.json()["error"]
        code, message, details = err.get("code"), err.get("message"), err.get("details")
    except (ValueError, KeyError, TypeError, AttributeError):
        code, message, details = None, (resp.text or "")[:200], None
    return SyncError("server_refused",
                     f"The server refused {method} {path} (HTTP {resp.status_code}"
                     f"{', ' + code if code else ''}): {message}",
                     {"http_status": resp.status_code, "code": code, "details": details or {}},
                     status=resp.status_code)

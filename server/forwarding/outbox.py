"""The outbox seen from outside: where to forward, what is queued, what was refused.

Thin functions over ``server.store.outbox``, called by the CLI (`fieldsync
upstream ...`, `fieldsync outbox ...`) and the API (``/api/v1/outbox``). The
sending itself is ``server.forwarding.forwarder``, run by `fieldsync worker`.
"""

from __future__ import annotations

from urllib.parse import urlparse

from sqlite_utils import Database

from server.errors import FieldsyncError
from server.store import audit
from server.store import outbox as outbox_q


def upstream_set(db: Database, url: str, token: str, *, actor: str | None = None) -> dict:
    """Forward to ``url`` (an HQ server) with ``token`` (a peer user's token there)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise FieldsyncError("bad_request", f"'{url}' is not an http(s) URL; give the HQ "
                             "server's base URL, e.g. https://hq.example.org.")
    if not token.strip():
        raise FieldsyncError("bad_request", "Give the peer token HQ issued for this office "
                             "(`fieldsync token create NAME` on HQ).")
    with db.atomic():
        restarted = outbox_q.set_upstream(db, url.rstrip("/"), token.strip())
        audit.record(db, actor, "upstream.set", url.rstrip("/"), {"restarted": restarted})
    return {"url": url.rstrip("/"), "cursor_restarted": restarted}


def outbox_status(db: Database) -> dict:
    """Upstream, cursor, queued and dead-letter counts, last attempt and error."""
    up = outbox_q.upstream(db)
    dead = outbox_q.dead_counts(db)
    if up is None:
        return {"upstream": None, "queued": 0, "dead": dead.get("dead", 0),
                "retrying": dead.get("retry", 0)}
    return {
        "upstream": up["url"], "cursor": up["cursor"],
        "queued": outbox_q.queued_count(db, up["cursor"]),
        "forwarded": up["forwarded"],
        "dead": dead.get("dead", 0), "retrying": dead.get("retry", 0),
        "failures": up["failures"], "next_attempt_at": up["next_attempt_at"] or None,
        "last_attempt_at": up["last_attempt_at"], "last_success_at": up["last_success_at"],
        "last_error": up["last_error"], "last_run_by": up["last_run_by"],
    }


def outbox_list(db: Database, *, limit: int = 100, state: str | None = None) -> list[dict]:
    """Dead letters: records the upstream refused, with the reason."""
    return outbox_q.dead_letters(db, limit, state)


def outbox_retry(db: Database, instance_ids: list[str] | None = None, *,
                 actor: str | None = None) -> int:
    """Queue dead letters (all, or these) for the worker's next run; returns how many."""
    with db.atomic():
        count = outbox_q.mark_retry(db, instance_ids or None)
        audit.record(db, actor, "outbox.retry", None,
                     {"instance_ids": instance_ids or "all", "count": count})
    return count

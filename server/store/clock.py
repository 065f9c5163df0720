"""The store's notion of now: UTC ISO-8601 with milliseconds, sortable as text."""

from datetime import datetime, timezone


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

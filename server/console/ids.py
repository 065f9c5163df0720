"""Ids as the console's tables show them: short enough to scan a column, whole
in the link or the tooltip beside them."""

from __future__ import annotations

TABLET_SHOWN = 8  # characters of a long tablet id a table shows


def record_id(instance_id: str | None) -> str:
    """``uuid:0d90857b-3d7b-...`` as ``0d90857b``; any other instanceID as it is."""
    if not instance_id:
        return ""
    return instance_id[5:13] if instance_id.startswith("uuid:") else instance_id


def tablet_id(device_id: str | None) -> str:
    """A tablet's id, its first characters and an ellipsis when it is long (a uuid)."""
    if not device_id:
        return ""
    return device_id if len(device_id) <= 12 else device_id[:TABLET_SHOWN] + "…"

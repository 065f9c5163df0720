"""One stored record as ``GET /api/v1/submissions/{instance_id}`` and the console's
record page show it: the current version with its attachments, every version
of the logical record (with the answers each changed), and conflicting copies.
"""

from __future__ import annotations

from sqlite_utils import Database

from server.errors import FieldsyncError
from server.ingest.pipeline import change_record
from server.store import submissions as subs_q


def submission_get(db: Database, instance_id: str) -> dict:
    rows = subs_q.by_instance(db, instance_id)
    if not rows:
        raise FieldsyncError("submission_unknown", f"No submission '{instance_id}' is held "
                             "here.", {"instance_id": instance_id})
    main = next((r for r in rows if r["state"] in ("current", "quarantined")), rows[-1])
    out = change_record(main, subs_q.attachments(db, main["id"]))
    history = subs_q.history(db, main["logical_id"])
    out["versions"] = []
    before: dict = {}
    for r in history:
        now = flatten(r["data"])
        out["versions"].append({
            "instance_id": r["instance_id"], "state": r["state"], "seq": r["seq"],
            "received_at": r["received_at"],
            "changed": [] if not before else changed(before, now)})
        if r["state"] != "conflict":
            before = now
    out["conflicts"] = [change_record(r) for r in rows if r["id"] != main["id"]]
    return out


def flatten(data, prefix: str = "") -> dict[str, object]:
    """``{"group/field": value}`` of a record's data; repeat instances are numbered
    (``household/members[2]/age``)."""
    out: dict[str, object] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}/"))
    elif isinstance(data, list):
        for i, item in enumerate(data, 1):
            out.update(flatten(item, f"{prefix[:-1]}[{i}]/"))
    else:
        out[prefix[:-1]] = data
    return out


def changed(before: dict, after: dict) -> list[dict]:
    """The answers that differ between two flattened versions, in path order."""
    paths = sorted(set(before) | set(after))
    return [{"field": p, "before": before.get(p), "after": after.get(p)}
            for p in paths if before.get(p) != after.get(p)]

"""Builders of records as devices send them."""

from __future__ import annotations

import uuid


def household_record(case_id: str = "C1", *, instance_id: str | None = None, age: str = "34",
                     version: str = "2026112901", **extra) -> dict:
    rec = {
        "instance_id": instance_id or f"uuid:{uuid.uuid4()}",
        "form_id": "tform",
        "form_version": version,
        "deprecated_id": None,
        "data": {
            "case_id": case_id,
            "econ": {"working": "yes", "assets": "land", "age": age},
            "members": [{"m_age": "3", "dbl": "6"}, {"m_age": "40", "dbl": "80"}],
            "n": "2",
        },
        "attachments": [],
    }
    rec.update(extra)
    return rec


def batch(records, device_id="dev-1", batch_id=None) -> dict:
    return {"device_id": device_id, "batch_id": batch_id or str(uuid.uuid4()),
            "submissions": list(records)}


def stored_count(site) -> int:
    """How many rows the store of ``site`` (a LiveServer or a Site) holds in submissions:
    a refused request leaves it as it was."""
    db = site.db()
    try:
        return db.execute("SELECT count(*) FROM submissions").fetchone()[0]
    finally:
        db.close()

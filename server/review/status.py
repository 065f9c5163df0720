"""The office at a glance: what each open form received and what waits for a
supervisor, and when each tablet and enumerator last synced.

The Python API behind ``GET /api/v1/overview``, ``GET /api/v1/devices`` and the
console's overview (``/``) and sync-status (``/devices``) pages. Days are UTC
days; a week is the last seven days, today included.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlite_utils import Database

from server.store import activity
from server.store import forms as forms_q

SILENT_AFTER_DAYS = 7  # a tablet not heard from for longer is highlighted


def office_overview(db: Database, today: date | None = None) -> dict:
    """Per open (or closing) form: records received today and in the last seven
    days, and the counts of flagged records, conflicts, open probable-duplicate
    matches and quarantined records."""
    today = today or datetime.now(timezone.utc).date()
    day = today.isoformat()
    week = (today - timedelta(days=6)).isoformat()
    received_today = activity.received_since(db, day)
    received_week = activity.received_since(db, week)
    forms = []
    for form in forms_q.list_forms(db):
        if form["state"] == "closed":
            continue
        forms.append({"form_id": form["form_id"], "title": form["title"],
                      "state": form["state"], "current_version": form["current_version"],
                      "received_today": received_today.get(form["form_id"], 0),
                      "received_week": received_week.get(form["form_id"], 0),
                      **activity.queue_counts(db, form["form_id"])})
    return {"today": day, "week_from": week, "forms": forms}


def sync_status(db: Database, now: datetime | None = None,
                silent_after_days: int = SILENT_AFTER_DAYS) -> dict:
    """Each tablet and enumerator pair: first and last push, pushes, records
    stored, the last problem (a conflict or a flagged record), whole days since
    the last push, and ``silent`` when that is more than ``silent_after_days``."""
    now = now or datetime.now(timezone.utc)
    out = []
    for d in activity.devices(db):
        last = datetime.fromisoformat(d["last_push_at"].replace("Z", "+00:00"))
        days = max(0, (now - last).days)
        out.append({**d, "device_id": d["device_id"] or None,
                    "enumerator": d["enumerator"] or None, "days_since_last_push": days,
                    "silent": days > silent_after_days})
    return {"silent_after_days": silent_after_days, "devices": out}

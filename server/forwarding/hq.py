"""What HQ does with a record an office forwards: keep the office's view of it.

An office forwards a record again whenever its row changes (rescoring, review,
flags). The content is the same, so HQ's ingest answers ``duplicate``; this
function, called by ingest for the ``forward`` door (on a duplicate and right
after a first insert), then takes the office's scores, scoring version, flags
and review state, inside the same transaction, and gives the row a new seq so
HQ's own changes feed and exports see the update. It is idempotent (nothing
changes when nothing differs) and ordered: each forwarded state carries the
office's seq (``origin.office_seq``) and an older state never overwrites a
newer one.

What an office sends is its peer account's claim, and is kept as such: it is
applied only to rows that same peer forwarded (``origin.forwarded_by``), never
to a record HQ received through another door or from another office, and a
review made at HQ itself is never overwritten by a forwarded review state. So a
leaked peer token can add claims of its own, shown as its own (``claimed_by``
in the changes feed), and rewrite nothing else.
"""

from __future__ import annotations

from sqlite_utils import Database

from server.store import reviews as reviews_q
from server.store import submissions as subs_q

# Flags HQ derives from what it holds itself; the office cannot know them.
HQ_LOCAL_FLAGS = ("conflict", "edit_conflict", "edit_of_unknown", "form_version_unknown",
                  "form_closed",
                  "probable_duplicate",  # HQ's own detection, over all offices
                  "edit_unauthorized")  # an edit HQ does not let this sender make


def apply_forwarded_state(db: Database, row: dict, rec: dict, peer: str | None) -> dict:
    """Apply an office's scores/flags/review state to HQ's row, if ``peer`` is
    the account that forwarded that row; returns the row."""
    if (row.get("origin") or {}).get("forwarded_by") != peer:
        return row
    origin = rec.get("origin") or {}
    incoming = origin.get("office_seq")
    held = (row.get("origin") or {}).get("office_seq")
    if isinstance(incoming, int) and isinstance(held, int) and incoming < held:
        return row
    changes: dict = {}
    if (rec.get("review_state") and rec["review_state"] != row.get("review_state")
            and not reviews_q.has_state_review(db, row["id"])):  # HQ's own review stands
        changes["review_state"] = rec["review_state"]
    if rec.get("scores") is not None and (
            rec["scores"] != row.get("scores")
            or origin.get("scoring_version") != row.get("scoring_version")):
        changes["scores"] = rec["scores"]
        changes["scoring_version"] = origin.get("scoring_version")
    if rec.get("flags") is not None:
        flags = list(rec["flags"]) + [f for f in row.get("flags") or []
                                      if f in HQ_LOCAL_FLAGS and f not in rec["flags"]]
        if set(flags) != set(row.get("flags") or []):
            changes["flags"] = flags
    if not changes:
        return row
    changes["origin"] = {**(row.get("origin") or {}), "office_seq": incoming}
    seq = subs_q.update(db, row["id"], **changes)
    return {**row, **changes, "seq": seq}

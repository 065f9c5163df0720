"""The supervisor's review: queues, review states and resolving probable duplicates.

The Python API behind ``/api/v1/review/...``, ``/api/v1/duplicates...`` and
``fieldsync review ...``. Every write runs in one transaction, gives the
submission row a new seq (so the change reaches the changes feed, exports and
the upstream), adds a row to ``reviews`` and one to the audit log. Nothing is
deleted: a duplicate is marked (review state ``duplicate``, flag ``duplicate``,
a link to the record it duplicates) and a merge is a new version of the kept
logical record, stored through ingest like any edit, so its history stays.
"""

from __future__ import annotations

import copy
import uuid

from sqlite_utils import Database

from forms.record import answer_at, put_answer
from server.dedup import FLAG as PROBABLE
from server.dedup import Rules, similarity
from server.errors import FieldsyncError
from server.registry.models import model_for
from server.ingest.pipeline import change_record, ingest
from server.store import audit
from server.store import duplicates as dup_q
from server.store import reviews as reviews_q
from server.store import submissions as subs_q
from server.store.db import write_transaction

REVIEW_STATES = ("received", "has_issues", "approved", "rejected")
DUPLICATE = "duplicate"  # review state and flag of a record resolved as a duplicate
ACTIONS = ("keep_both", "mark_duplicate", "merge")
KINDS = reviews_q.KINDS
MAX_LIMIT = 1000


# Reading -------------------------------------------------------------------------

def review_queue(db: Database, kind: str, *, form_id: str | None = None,
                 state: str = "open", device: str | None = None,
                 enumerator: str | None = None, since: str | None = None,
                 until: str | None = None, after: int = 0, limit: int = 100) -> dict:
    """A supervisor's queue: ``kind`` flagged|conflicts|duplicates|quarantined;
    ``state`` open (received or has_issues), all, or one review state."""
    if kind not in KINDS:
        raise _invalid(f"Unknown queue '{kind}'; use one of: {', '.join(KINDS)}.")
    ids = reviews_q.queue_ids(
        db, kind, form_id=form_id, states=_states(state), device=device,
        enumerator=enumerator, since=since, until=until, after=after,
        limit=max(1, min(limit, MAX_LIMIT)),
    )
    items = []
    for sid in ids:
        row = subs_q.by_id(db, sid)
        item = _summary(row)
        if kind == "flagged":
            item["findings"] = row["findings"]
        if kind == "duplicates":
            item["matches"] = [_match_view(db, m) for m in dup_q.matches_of(db, sid)
                               if m["resolution"] is None]
        items.append(item)
    return {"kind": kind, "items": items, "next": ids[-1] if ids else after}


def review_show(db: Database, instance_id: str, *, differences: bool = True) -> dict:
    """One record with its review history and its probable duplicates (and why;
    with ``differences``, the answers that differ from each)."""
    row = _main_row(db, instance_id)
    out = change_record(row)
    out["reviews"] = [_review_view(db, r) for r in reviews_q.reviews_of(db, row["id"])]
    out["duplicates"] = [_match_view(db, m, differences=differences)
                         for m in dup_q.matches_of(db, row["id"])]
    return out


def review_duplicates(db: Database, *, form_id: str | None = None, status: str = "open",
                    device: str | None = None, enumerator: str | None = None,
                    since: str | None = None, until: str | None = None, after: int = 0,
                    limit: int = 100) -> dict:
    """Probable-duplicate matches (status open|resolved|all), each with its reasons,
    similarity, both records and the answers that differ."""
    if status not in ("open", "resolved", "all"):
        raise _invalid("status must be one of: open, resolved, all.")
    rows = dup_q.list_matches(db, form_id=form_id, status=status, device=device,
                              enumerator=enumerator, since=since, until=until, after=after,
                              limit=max(1, min(limit, MAX_LIMIT)))
    return {"duplicates": [_match_view(db, m, differences=True) for m in rows],
            "next": rows[-1]["id"] if rows else after}


def review_match(db: Database, match_id: int) -> dict:
    """One probable-duplicate match with both records and the answers that differ."""
    match = dup_q.get_match(db, match_id)
    if match is None:
        raise FieldsyncError("match_unknown", f"No duplicate match {match_id}; list them "
                             "with GET /api/v1/duplicates.", {"match_id": match_id})
    return _match_view(db, match, differences=True)


def review_rules(db: Database, form_id: str, changes: dict | None = None,
                 actor: str | None = None) -> dict:
    """The duplicate rules of a form (defaults where unset); ``changes`` updates them."""
    if changes:
        with write_transaction(db):
            held = dup_q.get_rules(db, form_id) or {}
            try:
                rules = Rules.from_dict({**held, **changes})
            except ValueError as exc:
                raise _invalid(str(exc)) from None
            stored = {k: v for k, v in rules.to_dict().items()
                      if k in held or k in changes}
            dup_q.set_rules(db, form_id, stored, actor)
            audit.record(db, actor, "duplicates.rules", form_id, {"changes": changes})
    try:
        rules = Rules.from_dict(dup_q.get_rules(db, form_id))
    except ValueError as exc:
        raise _invalid(str(exc)) from None
    return {"form_id": form_id, "rules": rules.to_dict()}


# Writing -------------------------------------------------------------------------

def review_set(db: Database, instance_id: str, state: str, comment: str | None = None,
               actor: str | None = None) -> dict:
    """Set a record's review state (received, has_issues, approved, rejected)."""
    if state not in REVIEW_STATES:
        raise _invalid(f"Unknown review state '{state}'; use one of: "
                       f"{', '.join(REVIEW_STATES)} (duplicates are resolved with "
                       "`review resolve`).")
    with write_transaction(db):
        row = _main_row(db, instance_id)
        changes: dict = {"review_state": state}
        if row["review_state"] == DUPLICATE and DUPLICATE in row["flags"]:
            changes["flags"] = [f for f in row["flags"] if f != DUPLICATE]  # undone
        subs_q.update(db, row["id"], **changes)
        reviews_q.insert_review(db, row["id"], "review", state, row["review_state"],
                                comment, actor)
        audit.record(db, actor, "submission.review", row["instance_id"],
                     {"state": state, "previous": row["review_state"], "comment": comment})
    return review_show(db, instance_id)


MAX_COMMENT = 10_000  # characters


def review_comment(db: Database, instance_id: str, body, actor: str | None = None) -> dict:
    """Add a comment to a record's review history; its review state is unchanged.
    Returns the comment (``comment``, ``actor``, ``at``)."""
    if not isinstance(body, str) or not body.strip():
        raise _invalid("A comment needs its text: send the comment's body.")
    if len(body) > MAX_COMMENT:
        raise _invalid(f"A comment holds at most {MAX_COMMENT} characters; shorten it.",
                       {"length": len(body)})
    with write_transaction(db):
        row = _main_row(db, instance_id)
        review_id = reviews_q.insert_review(db, row["id"], "comment", row["review_state"],
                                            row["review_state"], body, actor)
        audit.record(db, actor, "submission.comment", row["instance_id"],
                     {"length": len(body)})
    made = reviews_q.get_review(db, review_id)
    return {"comment": made["comment"], "actor": made["actor"], "at": made["at"]}


def review_saved(db: Database, instance_id: str, state: str, comment: str | None,
                 actor: str | None = None) -> None:
    """What a review form that always sends a state saves (the console's): a
    comment with the state unchanged is a note (``review_comment``), anything else
    a review (``review_set``)."""
    if comment and state == _main_row(db, instance_id)["review_state"]:
        review_comment(db, instance_id, comment, actor)
    else:
        review_set(db, instance_id, state, comment, actor)


def review_resolve(db: Database, match_id: int, action: str, *, duplicate: str | None = None,
                   base: str | None = None, take: list[str] | None = None,
                   values: dict | None = None, comment: str | None = None,
                   actor: str | None = None) -> dict:
    """Resolve a probable-duplicate match.

    - ``keep_both``: two people (or two legitimate interviews); both stay as they are.
    - ``mark_duplicate``: ``duplicate`` (an instance_id of the pair; default the
      newer record) becomes a duplicate of the other.
    - ``merge``: a new version of ``base`` (default the earlier record) with the
      answers named in ``take`` copied from the other record and ``values`` set
      as given; the other record is marked a duplicate of it.
    """
    if action not in ACTIONS:
        raise _invalid(f"Unknown action '{action}'; use one of: {', '.join(ACTIONS)}.")
    with write_transaction(db):
        match = dup_q.get_match(db, match_id)
        if match is None:
            raise FieldsyncError("match_unknown", f"No duplicate match {match_id}; list them "
                                 "with GET /api/v1/duplicates.", {"match_id": match_id})
        if match["resolution"] is not None:
            raise FieldsyncError(
                "match_resolved", f"Match {match_id} was already resolved "
                f"({match['resolution']}) by {match['resolved_by']}; nothing was changed.",
                {"match_id": match_id, "resolution": match["resolution"],
                 "resolved_by": match["resolved_by"]})
        newer = subs_q.by_id(db, match["submission_id"])
        older = subs_q.by_id(db, match["other_id"])
        if action == "keep_both":
            dup_q.resolve_match(db, match_id, action, actor, comment=comment)
            for row in (newer, older):
                _after_resolution(db, row, action, match_id, comment, actor)
        elif action == "mark_duplicate":
            marked, kept = _pick(newer, older, duplicate, "duplicate", default=newer)
            dup_q.resolve_match(db, match_id, action, actor, duplicate_id=marked["id"],
                                comment=comment)
            _mark_duplicate(db, marked, kept, action, match_id, comment, actor)
            _after_resolution(db, kept, action, match_id, comment, actor)
        else:
            kept, donor = _pick(newer, older, base, "base", default=older)
            merged = _merge(db, kept, donor, take or [], values or {}, actor)
            dup_q.resolve_match(db, match_id, action, actor, duplicate_id=donor["id"],
                                merged_id=merged["id"], comment=comment)
            _mark_duplicate(db, donor, merged, action, match_id, comment, actor)
            _after_resolution(db, subs_q.by_id(db, merged["id"]), action, match_id,
                              comment, actor)
        audit.record(db, actor, "duplicate.resolve", str(match_id),
                     {"action": action, "comment": comment,
                      "records": [newer["instance_id"], older["instance_id"]]})
    return _match_view(db, dup_q.get_match(db, match_id), differences=True)


def _mark_duplicate(db, marked: dict, kept: dict, action: str, match_id: int,
                    comment: str | None, actor: str | None) -> None:
    flags = [f for f in marked["flags"] if f != PROBABLE or dup_q.open_count_of(
        db, marked["id"])] + ([DUPLICATE] if DUPLICATE not in marked["flags"] else [])
    subs_q.update(db, marked["id"], review_state=DUPLICATE, flags=flags)
    reviews_q.insert_review(db, marked["id"], action, DUPLICATE, marked["review_state"],
                            comment, actor, match_id=match_id, duplicate_of=kept["id"])


def _after_resolution(db, row: dict, action: str, match_id: int, comment: str | None,
                      actor: str | None) -> None:
    """Record the resolution on a record kept as it is; drop its probable-duplicate
    flag once none of its matches is open. The row always gets a new seq."""
    changes: dict = {}
    if PROBABLE in row["flags"] and not dup_q.open_count_of(db, row["id"]):
        changes["flags"] = [f for f in row["flags"] if f != PROBABLE]
    subs_q.update(db, row["id"], review_state=row["review_state"], **changes)
    reviews_q.insert_review(db, row["id"], action, row["review_state"], row["review_state"],
                            comment, actor, match_id=match_id)


def _merge(db: Database, kept: dict, donor: dict, take: list[str], values: dict,
           actor: str | None) -> dict:
    """Store the merged answers as a new version of ``kept``'s logical record."""
    model = model_for(db, kept["form_id"], kept["form_version"])
    if model is None:
        raise _invalid("The kept record's form version is not published here; merge "
                       "needs it to check the answers.")
    unknown = [p for p in list(take) + list(values) if p not in model.fields
               or model.fields[p].is_container]
    if unknown:
        raise _invalid(f"Unknown field path(s) for form '{kept['form_id']}': "
                       f"{', '.join(unknown)}; use paths such as 'econ/econ_satisfaction'.",
                       {"fields": unknown})
    data = copy.deepcopy(kept["data"])
    for path in take:
        put_answer(data, path, answer_at(donor["data"], path))
    for path, value in values.items():
        put_answer(data, path, value)
    current = subs_q.current_of_logical(db, kept["logical_id"]) or kept
    # The donor is marked first so that detection on the new version skips it.
    rec = {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": kept["form_id"],
           "form_version": kept["form_version"], "deprecated_id": current["instance_id"],
           "data": data, "attachments": []}
    subs_q.update(db, donor["id"], review_state=DUPLICATE)
    ingest(db, [rec], door="review", user=actor)
    return subs_q.by_instance(db, rec["instance_id"])[-1]


# Helpers ---------------------------------------------------------------------------

def _states(state: str) -> tuple[str, ...] | None:
    if state == "open":
        return reviews_q.OPEN_STATES
    if state == "all":
        return None
    if state not in REVIEW_STATES + (DUPLICATE,):
        raise _invalid(f"state must be open, all or one of: "
                       f"{', '.join(REVIEW_STATES + (DUPLICATE,))}.")
    return (state,)


def _main_row(db: Database, instance_id: str) -> dict:
    rows = subs_q.by_instance(db, instance_id)
    if not rows:
        raise FieldsyncError("submission_unknown", f"No submission '{instance_id}' is held "
                             "here.", {"instance_id": instance_id})
    return next((r for r in rows if r["state"] in ("current", "quarantined")), rows[-1])


def _pick(newer: dict, older: dict, instance_id: str | None, name: str,
          default: dict) -> tuple[dict, dict]:
    """(the chosen record of the pair, the other one)."""
    if instance_id is None:
        chosen = default
    elif instance_id == newer["instance_id"]:
        chosen = newer
    elif instance_id == older["instance_id"]:
        chosen = older
    else:
        raise _invalid(f"'{name}' must be one of this match's records: "
                       f"{newer['instance_id']} or {older['instance_id']}.")
    return (chosen, older if chosen is newer else newer)


def _summary(row: dict) -> dict:
    origin = row["origin"] or {}
    return {
        "instance_id": row["instance_id"], "logical_id": row["logical_id"],
        "form_id": row["form_id"], "form_version": row["form_version"],
        "state": row["state"], "review_state": row["review_state"], "flags": row["flags"],
        "seq": row["seq"], "received_at": row["received_at"],
        "device_id": origin.get("device_id") or row["device_id"],
        "enumerator": origin.get("user") or row["submitted_by"],
        "case_id": answer_at(row["data"], "case_id"),
        "survey_round": answer_at(row["data"], "survey_round"),
        "interview_date": answer_at(row["data"], "interview_date"),
    }


def _match_view(db: Database, m: dict, differences: bool = False) -> dict:
    this, other = subs_q.by_id(db, m["submission_id"]), subs_q.by_id(db, m["other_id"])

    def iid(sid):
        return subs_q.by_id(db, sid)["instance_id"] if sid else None

    out = {
        "match_id": m["id"], "form_id": m["form_id"], "reasons": m["reasons"],
        "similarity": m["similarity"], "detected_at": m["detected_at"],
        "resolution": m["resolution"], "resolved_by": m["resolved_by"],
        "resolved_at": m["resolved_at"], "comment": m["comment"],
        "duplicate_instance_id": iid(m["duplicate_id"]),
        "merged_instance_id": iid(m["merged_id"]),
        "submission": _summary(this), "other": _summary(other),
    }
    if differences:
        model = model_for(db, this["form_id"], this["form_version"])
        if model is not None:
            flds = similarity.compared_fields(model, Rules().date_field)
            out["differences"] = similarity.differences(
                flds, similarity.answers_of(flds, this["data"]),
                similarity.answers_of(flds, other["data"]))
    return out


def _review_view(db: Database, r: dict) -> dict:
    dup_of = subs_q.by_id(db, r["duplicate_of"]) if r["duplicate_of"] else None
    return {"action": r["action"], "state": r["state"], "previous_state": r["previous_state"],
            "comment": r["comment"], "actor": r["actor"], "at": r["at"],
            "match_id": r["match_id"],
            "duplicate_of": dup_of["instance_id"] if dup_of else None}


def _invalid(message: str, details: dict | None = None) -> FieldsyncError:
    return FieldsyncError("validation_failed", message, details)

"""The one ingest pipeline every door ends in: JSON sync, OpenRosa, Collect
import and records forwarded by an office server.

    parse -> dedup -> validate -> score -> store -> changes feed -> outbox

``ingest`` takes records already loaded by ``sync.protocol`` (or converted from
OpenRosa XML), runs the whole batch in one transaction and returns one result
per record only after that transaction committed, so an acknowledgement always
means the record is on disk. Nothing is dropped: a record that fails
validation, names an unknown form version, conflicts with an earlier send or
edits a version that is no longer current is stored and flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from sqlite_utils import Database

from forms.model import FormModel, PerModel
from server.ingest import answers
from server import dedup
from server.entities import apply as entities  # entity lists
from server.ingest import attachments as kept_files  # an edit keeps its files
from server.forwarding import hq
from server.scores import rescore
from server.ingest.assess import Assessment, assess
from server.registry.models import model_for, spec_for
from server.store import forms as forms_q
from server.store import submissions as subs_q
from server.store import activity
from server.store import users as users_q
from server.store.clock import utcnow
from server.store.db import write_transaction
from sync.protocol import canonical_json, content_hash

DOORS = ("sync", "openrosa", "collect_import", "forward",
         "review",  # a supervisor's merge of two duplicates
         "central",  # POST /v1/.../submissions (Central's REST API)
         "public_link")  # an anonymous, revocable link to one form (server/enketo)


@dataclass
class Context:
    """Who and what a batch came from; becomes each record's provenance."""

    door: str
    user: str | None = None
    device_id: str | None = None
    batch_id: str | None = None
    office: str | None = None
    received_at: str = field(default_factory=utcnow)


def ingest(db: Database, records: list[dict], *, door: str, user: str | None = None,
           device_id: str | None = None, batch_id: str | None = None,
           office: str | None = None, blobs: dict[str, bytes] | None = None) -> list[dict]:
    """Store a batch of records in one transaction; one result per record.

    ``blobs`` (sha256 -> bytes) are attachment bytes that came with the records
    (OpenRosa media parts); they are stored in the same transaction.
    """
    if door not in DOORS:
        raise ValueError(f"unknown door {door!r}")
    ctx = Context(door=door, user=user, device_id=device_id, batch_id=batch_id,
                  office=office)
    batch = _Batch(db, ctx)
    # Validation, scoring and encoding are CPU work: done before the write lock
    # is taken, so several web workers prepare in parallel and only the writes
    # serialise.
    prepared = [_prepare(db, rec, ctx, batch) for rec in records]
    duplicates = dedup.Detector(db)
    for item in prepared:  # described in one pass: detection's tables stay warm
        item.duplicates = duplicates.describe(
            item.model, item.rec["form_id"], item.assessment.data, origin=item.origin,
            device_id=ctx.device_id, user=ctx.user, received_at=ctx.received_at)
    with write_transaction(db):
        for sha256, data in (blobs or {}).items():
            subs_q.put_blob(db, sha256, data)
        specs: dict[int, object] = {}  # the spec each model is scored with, read once
        fresh = _Fresh(db, prepared)
        results = [_ingest_one(db, item, ctx, specs, duplicates, fresh) for item in prepared]
        if batch_id and device_id:
            counts: dict[str, int] = {}
            for r in results:
                counts[r["status"]] = counts.get(r["status"], 0) + 1
            subs_q.record_batch(db, device_id, batch_id, user, counts)
        if door != "review":  # a supervisor's merge is no push from a device
            activity.note_batch(db, device_id=device_id, enumerator=user, door=door,
                                received_at=ctx.received_at,
                                results=[(item.rec.get("form_id"), r)
                                         for item, r in zip(prepared, results)])
    duplicates.close()
    return results


class _Batch:
    """What every record of a batch shares, looked up once: form models and
    states, scoring specs, and the batch's own provenance."""

    def __init__(self, db: Database, ctx: Context):
        self.db = db
        self.cache: dict = {}
        self.origin = _origin({}, ctx)
        self.origin_json = subs_q.origin_text(self.origin)

    def _get(self, key, make):
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def model(self, form_id: str, version: str) -> FormModel | None:
        return self._get(("model", form_id, version), lambda: model_for(self.db, form_id, version))

    def form_state(self, form_id: str) -> str | None:
        def state():
            form = forms_q.get_form(self.db, form_id)
            return form["state"] if form else None
        return self._get(("state", form_id), state)

    def spec(self, model: FormModel):
        return self._get(("spec", id(model)), lambda: spec_for(self.db, model))


@dataclass
class _Prepared:
    rec: dict
    content_hash: str
    model: FormModel | None
    assessment: Assessment
    origin: dict
    origin_json: str
    data_json: str               # the stored data's canonical JSON text
    findings_json: str
    scores_json: tuple[str, str] | None
    duplicates: dedup.Description | None = None  # described before the write lock


def _prepare(db: Database, rec: dict, ctx: Context, batch: _Batch) -> _Prepared:
    model = batch.model(rec["form_id"], rec["form_version"])
    assessment = _assess(db, model, rec, ctx.received_at, batch)
    sent_json = canonical_json(rec["data"])
    # Usually the data arrives in the instance's shape and normalising changes
    # nothing: the text hashed is then the text stored.
    data_json = sent_json if assessment.data == rec["data"] else canonical_json(assessment.data)
    if ctx.door == "forward" and rec.get("origin"):
        origin = _origin(rec, ctx)
        origin_json = subs_q.origin_text(origin)
    else:
        origin, origin_json = batch.origin, batch.origin_json
    return _Prepared(
        rec=rec, content_hash=content_hash(rec, sent_json), model=model,
        assessment=assessment, origin=origin, origin_json=origin_json, data_json=data_json,
        findings_json=orjson.dumps(assessment.findings).decode(),
        scores_json=rescore.scores_text(assessment.scores) if assessment.scores else None,
    )


class _Fresh:
    """The batch's records new to the store, asked once for the whole batch
    inside its transaction: a record whose instanceID the store does not hold
    (and that edits nothing) needs no lookup of earlier sends, and takes its
    change sequence number from a block taken for them all. Everything else
    (resends, conflicts, edits, an instanceID twice in the batch) is looked up
    and numbered one by one, in order, as before."""

    def __init__(self, db: Database, prepared: list[_Prepared]):
        self.known = subs_q.instances_among(db, [p.rec["instance_id"] for p in prepared])
        plain = {p.rec["instance_id"] for p in prepared
                 if not p.rec.get("deprecated_id")} - self.known
        self.seqs = iter(subs_q.take_seqs(db, len(plain)) if plain else ())
        self.plain = plain

    def earlier(self, db: Database, instance_id: str) -> list[dict]:
        """The stored rows with this instanceID (none, without a statement, for
        a record new to the store)."""
        if instance_id in self.known:
            return subs_q.by_instance(db, instance_id)
        return []

    def seq_for(self, instance_id: str) -> int | None:
        """The block's next number for a plain new record, once; None for the
        rest (the insert takes the next number itself). Marks the instanceID
        as stored from now on."""
        self.known.add(instance_id)
        if instance_id in self.plain:
            self.plain.discard(instance_id)
            return next(self.seqs)
        return None


def _ingest_one(db: Database, item: _Prepared, ctx: Context, specs: dict,
                duplicates: dedup.Detector, fresh: _Fresh) -> dict:
    rec, chash, model = item.rec, item.content_hash, item.model
    earlier = fresh.earlier(db, rec["instance_id"])
    same = next((row for row in earlier if row["content_hash"] == chash), None)
    if same is not None:
        _link_attachments(db, same["id"], rec)
        same = kept_files.settle(db, same)  # a later part brought an edit's missing file
        if ctx.door == "forward":  # an office's rescoring and review reach HQ
            same = hq.apply_forwarded_state(db, same, rec, peer=ctx.user)
        return _result(db, same, "duplicate")

    assessment = item.assessment
    row = {
        "instance_id": rec["instance_id"],
        "logical_id": rec["instance_id"],
        "form_id": rec["form_id"],
        "form_version": rec["form_version"],
        "deprecated_id": rec.get("deprecated_id"),
        "content_hash": chash,
        "data": assessment.data,
        "data_json": item.data_json,
        "raw": rec.get("raw_xml"),
        "raw_format": "xml" if rec.get("raw_xml") else "json",
        "state": "current" if model is not None else "quarantined",
        "flags": list(assessment.flags),
        "findings": assessment.findings,
        "findings_json": item.findings_json,
        "scores": assessment.scores,
        "scores_json": item.scores_json,
        "scoring_version": assessment.scoring_version,
        "review_state": rec.get("review_state") if ctx.door == "forward" else None,
        "origin": item.origin,
        "origin_json": item.origin_json,
        "device_id": ctx.device_id,
        "submitted_by": ctx.user,
        "received_at": ctx.received_at,
    }
    status = "created"
    if earlier:
        # Same instanceID, different content: keep both, flag both.
        row["state"] = "conflict"
        row["flags"].append("conflict")
        for other in earlier:
            if "conflict" not in other["flags"]:
                subs_q.update(db, other["id"], flags=other["flags"] + ["conflict"])
        status = "conflict"
    elif rec.get("deprecated_id"):
        status = _apply_edit(db, rec["deprecated_id"], row, ctx)
        rec = _keep_files(db, rec, row, model)
    # Probable duplicates: a match adds the flag "probable_duplicate" before the
    # insert; the record's key and its matches are stored once the row has an id.
    duplicates.check(row, item.duplicates)
    if status == "created" and row["flags"]:
        status = "flagged"
    row["id"], row["seq"] = subs_q.insert(db, row, fresh.seq_for(rec["instance_id"]))
    duplicates.record(row, item.duplicates)
    # The scoring store keeps the scores under their spec version too.
    if model is not None and id(model) not in specs:
        specs[id(model)] = rescore.current_spec(db, model)
    rescore.record_scores(db, row, model, specs.get(id(model)) if model else None,
                          ctx.received_at)
    if ctx.door == "forward":  # HQ keeps the office's scores, flags and review
        row.update(hq.apply_forwarded_state(db, row, rec, peer=ctx.user))
    missing = _link_attachments(db, row["id"], rec, model)
    if model is not None and row["state"] != "quarantined":
        answers.project(db, model, row["id"], row["data"])
    result = _result(db, row, status, missing)
    _apply_entity(db, item, row, ctx, result)
    return result


def _apply_entity(db: Database, item: _Prepared, row: dict, ctx: Context,
                  result: dict) -> None:
    """Entity lists (server/entities): create or update the entity a
    current record's entity block names, in the record's own transaction; the
    result says what became of it. A record waiting for its form version keeps
    its block until the version is published. Records forwarded to HQ leave the
    office's lists alone."""
    block = item.rec.get("entity")
    if not block or ctx.door == "forward" or row["state"] not in ("current", "quarantined"):
        return
    if item.model is None:
        entities.keep_waiting(db, row, block)
        return
    outcome = entities.apply_record(db, item.model, row, block, ctx.user)
    if outcome is not None:
        result["entity"] = outcome


def _keep_files(db: Database, rec: dict, row: dict, model: FormModel | None) -> dict:
    """An edit that names a file the version it replaces holds, without sending
    it again, points at the same stored file; one that no version holds is
    flagged (server/ingest/attachments.py). Returns the record to link."""
    if model is None:
        return rec
    listed = rec.get("attachments") or []
    kept, missing = kept_files.carry_forward(db, rec["deprecated_id"], listed,
                                             _binary_names(model, rec["data"]))
    kept_files.flag_missing(row, missing)
    return {**rec, "attachments": [*listed, *kept]} if kept else rec


def _apply_edit(db: Database, deprecated_id: str, row: dict, ctx: Context) -> str:
    """Make ``row`` the new version of the record it edits; returns the status."""
    previous = subs_q.by_instance(db, deprecated_id)
    if not previous:
        row["flags"].append("edit_of_unknown")
        row["logical_id"] = deprecated_id
        return "flagged"
    logical_id = previous[0]["logical_id"]
    current = subs_q.current_of_logical(db, logical_id)
    row["logical_id"] = logical_id
    if current is None or current["instance_id"] != deprecated_id:
        row["state"] = "conflict"
        row["flags"].append("edit_conflict")
        return "conflict"
    if not may_supersede(db, ctx, logical_id, current):
        row["state"] = "conflict"
        row["flags"].append(EDIT_UNAUTHORIZED)
        return "conflict"
    if row["state"] == "current":
        subs_q.update(db, current["id"], state="superseded")
    return "updated"


EDIT_UNAUTHORIZED = "edit_unauthorized"  # an edit by someone who may not make it
EDITORS = ("admin", "supervisor")


def may_supersede(db: Database, ctx: Context, logical_id: str, current: dict) -> bool:
    """Whether this batch's sender may make a new version of the record: its
    author (who sent its earliest stored version), an admin or supervisor, a
    supervisor's merge (door ``review``), or the peer that forwarded the record
    here (a peer may not supersede what reached this server any other way).
    Anyone else's edit is stored as a conflict for review, not applied."""
    if ctx.door == "review" or ctx.user is None:
        return True
    if ctx.door == "forward":
        return (current.get("origin") or {}).get("forwarded_by") == ctx.user
    versions = [r for r in subs_q.history(db, logical_id) if r["state"] != "conflict"]
    if versions and versions[0]["submitted_by"] == ctx.user:
        return True
    user = users_q.get_user(db, ctx.user)
    return user is not None and user["role"] in EDITORS


def _assess(db: Database, model: FormModel | None, rec: dict, received_at: str,
            batch: _Batch) -> Assessment:
    assessment = Assessment(data=rec["data"])
    if model is None:
        assessment.flags.append("form_version_unknown")
        return assessment
    if batch.form_state(rec["form_id"]) == "closed":
        assessment.flags.append("form_closed")
    assess(db, model, assessment, received_at, spec=batch.spec(model))
    return assessment


def reassess(db: Database, submission_id: int, model: FormModel) -> int:
    """Run the checks again on a stored row (quarantine release); returns its seq."""
    row = subs_q.by_id(db, submission_id)
    assessment = Assessment(data=row["data"])
    assess(db, model, assessment, row["received_at"])
    flags = [f for f in row["flags"] if f not in ("form_version_unknown",)]
    flags += [f for f in assessment.flags if f not in flags]
    flags = dedup.check_released(db, model, row, assessment.data, flags)
    seq = subs_q.update(
        db, submission_id, state="current", data=assessment.data,
        findings=assessment.findings, scores=assessment.scores,
        scoring_version=assessment.scoring_version, flags=flags,
    )
    # The scoring store keeps the scores under their spec version too.
    rescore.keep_scores(db, submission_id, assessment.scoring_version, assessment.scores)
    answers.project(db, model, submission_id, assessment.data)
    return seq


def release_quarantine(db: Database, form_id: str, version: str, model: FormModel) -> int:
    """Release the records that waited for this form version; returns how many."""
    rows = subs_q.quarantined(db, form_id, version)
    for row in rows:
        reassess(db, row["id"], model)
        entities.apply_waiting(db, subs_q.by_id(db, row["id"]), model)
    return len(rows)


def _origin(rec: dict, ctx: Context) -> dict:
    here = {"door": ctx.door, "device_id": ctx.device_id, "user": ctx.user,
            "office": ctx.office, "batch_id": ctx.batch_id, "received_at": ctx.received_at}
    if ctx.door == "forward" and rec.get("origin"):
        return {**rec["origin"], "forwarded_by": ctx.user,
                "forwarded_received_at": ctx.received_at}
    return {k: v for k, v in here.items() if v is not None}


def _link_attachments(db: Database, submission_id: int, rec: dict,
                      model: FormModel | None = None) -> list[str]:
    """Link the attachments a record names; returns the names not yet received."""
    listed = rec.get("attachments") or []
    named = _binary_names(model, rec["data"]) if model is not None else []
    if not listed and not named:
        return []  # most records: no photo, no audio
    for att in listed:
        subs_q.link_attachment(db, submission_id, att["name"], att.get("sha256"),
                               att.get("size"))
    held = subs_q.held_blobs(db, [a["sha256"] for a in listed if a.get("sha256")])
    missing = [a["name"] for a in listed if a.get("sha256") not in held]
    listed_names = {a["name"] for a in listed}
    for name in named:
        if name not in listed_names:
            subs_q.link_attachment(db, submission_id, name, None, None)
            missing.append(name)
    return missing


def _binary_names(model: FormModel, data: dict) -> list[str]:
    """File names the record's upload questions (photos, audio, files) refer to."""
    names: list[str] = []
    binary_paths = _binary_paths(model)
    if not binary_paths:
        return names

    def walk(node, prefix):
        if isinstance(node, list):
            for item in node:
                walk(item, prefix)
        elif isinstance(node, dict):
            for key, value in node.items():
                path = f"{prefix}{key}"
                if isinstance(value, (dict, list)):
                    walk(value, f"{path}/")
                elif path in binary_paths and isinstance(value, str) and value.strip():
                    names.append(value.strip())

    walk(data, "")
    return names


_binary_paths = PerModel(
    lambda model: {f.path for f in model.questions() if f.type == "binary"})


def _result(db: Database, row: dict, status: str, missing: list[str] | None = None) -> dict:
    if missing is None:
        missing = [a["name"] for a in subs_q.attachments(db, row["id"]) if not a["received"]]
    return {
        "instance_id": row["instance_id"],
        "status": status,
        "seq": row["seq"],
        "missing_attachments": missing,
        "flags": list(row["flags"]),
    }


def change_record(row: dict, attachments: list[dict] | None = None) -> dict:
    """A stored row as the changes feed and GET /submissions/{id} show it."""
    return {
        "seq": row["seq"],
        "instance_id": row["instance_id"],
        "logical_id": row["logical_id"],
        "form_id": row["form_id"],
        "form_version": row["form_version"],
        "deprecated_id": row["deprecated_id"],
        "state": row["state"],
        "data": row["data"],
        "content_hash": row["content_hash"],
        "received_at": row["received_at"],
        "scores": row["scores"],
        "scoring_version": row["scoring_version"],
        "flags": row["flags"],
        "findings": row["findings"],
        "review_state": row["review_state"],
        "origin": row["origin"],
        # the peer account whose claims (origin, review state, scores, flags) a
        # forwarded record carries; null for what this server received itself
        "claimed_by": (row["origin"] or {}).get("forwarded_by"),
        **({"attachments": attachments} if attachments is not None else {}),
    }

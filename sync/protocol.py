"""The sync protocol's messages: one record, a batch of records, per-record results.

Shared by the server (which loads pushes with these schemas), the device client
and the office -> HQ forwarder, so every side agrees on one shape
(docs/API.md, "Sync": a record, and ``POST /api/v1/sync/push``).
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache

import orjson
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates

from sync.errors import SyncError

STATUSES = ("created", "duplicate", "conflict", "updated", "flagged")
INSTANCE_ID_RE = re.compile(r"^uuid:[0-9A-Za-z\-]{8,64}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_BATCH = 500
MAX_DEPTH = 32  # groups and repeats nest far less deeply in any real form
MAX_ATTACHMENT_SIZE = 2**53  # bytes; beyond any file, within what every store holds


class AttachmentSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    sha256 = fields.String(required=True, validate=validate.Regexp(SHA256_RE))
    size = fields.Integer(load_default=None,
                          validate=validate.Range(min=0, max=MAX_ATTACHMENT_SIZE))
    content_type = fields.String(load_default=None)


class RecordSchema(Schema):
    """One submission record; ``origin`` and the extra keys are kept when forwarded."""

    class Meta:
        unknown = EXCLUDE

    instance_id = fields.String(required=True, validate=validate.Regexp(
        INSTANCE_ID_RE, error="instance_id must look like 'uuid:...'"))
    form_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    form_version = fields.String(required=True, validate=validate.Length(min=1, max=64))
    deprecated_id = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        INSTANCE_ID_RE, error="deprecated_id must look like 'uuid:...'"))
    data = fields.Dict(required=True)
    # The meta/entity block of a form that creates or updates entities
    # (forms.entities): dataset, id, create, update, baseVersion, label, ...
    entity = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True),
                         load_default=None, allow_none=True)
    attachments = fields.List(fields.Nested(AttachmentSchema), load_default=list)
    # Set by an office server when it forwards to HQ; devices leave them out.
    origin = fields.Dict(load_default=None, allow_none=True)
    scores = fields.Dict(load_default=None, allow_none=True)
    flags = fields.List(fields.String(), load_default=None, allow_none=True)
    review_state = fields.String(load_default=None, allow_none=True)
    received_at = fields.String(load_default=None, allow_none=True)


class BatchSchema(Schema):
    class Meta:
        unknown = RAISE

    device_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    batch_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    submissions = fields.List(fields.Dict(), required=True)

    @validates("submissions")
    def _bounded(self, value, **_kwargs):
        if len(value) > MAX_BATCH:
            raise ValidationError(f"at most {MAX_BATCH} submissions per batch")


class ResultSchema(Schema):
    instance_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    seq = fields.Integer(allow_none=True)
    missing_attachments = fields.List(fields.String(), load_default=list)
    flags = fields.List(fields.String(), load_default=list)


_RECORD = RecordSchema()  # schemas are costly to build and safe to reuse


def load_batch(payload) -> tuple[dict, list[dict]]:
    """Validate a push body; return the batch and its records, or raise SyncError.

    A batch whose envelope is invalid, or any of whose records is unusable (no
    instance_id, no data), is refused whole with the index and fields to fix, so
    the device keeps everything and can resend after fixing.
    """
    if not isinstance(payload, dict):
        raise SyncError("batch_invalid", "Send a JSON object with device_id, batch_id "
                        "and submissions.")
    if isinstance(payload.get("submissions"), list) and len(payload["submissions"]) > MAX_BATCH:
        raise SyncError("batch_too_large", f"A batch holds at most {MAX_BATCH} submissions; "
                        "split it.", {"max": MAX_BATCH})
    try:
        batch = BatchSchema().load(payload)
    except ValidationError as exc:
        raise SyncError("batch_invalid", "The batch envelope is invalid: fix the fields "
                        "listed in details.", {"fields": exc.messages}) from None
    records, problems = [], {}
    for i, raw in enumerate(batch["submissions"]):
        if isinstance(raw, dict) and _deeper_than(raw, MAX_DEPTH + 1):
            problems[str(i)] = {"data": [f"nested more than {MAX_DEPTH} levels deep; send "
                                         "the instance's groups and repeats as they are"]}
            continue
        try:
            records.append(_RECORD.load(raw))
        except ValidationError as exc:
            problems[str(i)] = exc.messages
    if problems:
        raise SyncError("record_invalid", "Some records are invalid: fix the fields listed "
                        "per record index in details; nothing in this batch was stored.",
                        {"records": problems})
    return batch, records


def _deeper_than(node, limit: int) -> bool:
    """Whether dicts and lists nest more than ``limit`` levels (walked without
    recursion, so any depth is safe to ask about)."""
    stack = [(node, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        if depth > limit:
            return True
        for value in (item.values() if type(item) is dict else item):
            kind = type(value)
            if kind is dict or kind is list:
                push((value, depth + 1))
    return False


def json_problem(value, max_depth: int = MAX_DEPTH) -> str | None:
    """What makes a decoded JSON value unfit to store, or None: nesting deeper
    than ``max_depth``, or text holding a lone UTF-16 surrogate (``"\\ud800"``
    decodes, but no UTF-8 can hold it). The answer names where."""
    stack = [(value, "$", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > max_depth:
            return f"{path} is nested more than {max_depth} levels deep"
        if isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{_printable(key)}"
                if isinstance(key, str) and _lone_surrogate(key):
                    return f"the key {where} holds a lone surrogate"
                stack.append((child, where, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
        elif isinstance(item, str) and _lone_surrogate(item):
            return f"{path} holds a lone surrogate (an unpaired \\ud800-\\udfff escape)"
    return None


def _lone_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _printable(key) -> str:
    text = str(key)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:64]


def canonical_json(value) -> str:
    """The canonical text of a JSON value: sorted keys, no spaces, UTF-8, as the
    standard library writes it (``json.dumps``); content hashes are taken of it,
    so it never changes.

    A value of texts, integers, booleans and nulls in dicts and lists (a
    record's data, nearly always) is written by orjson, faster and to the
    same text. Anything else goes to the standard library: floats
    (orjson writes ``1e16`` where it writes ``1e+16``), other types, deep
    nesting, and what orjson refuses (an integer beyond 64 bits, a lone
    surrogate, a key that is not a text)."""
    if _plain(value, 0):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        except orjson.JSONEncodeError:
            pass
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_SCALARS = frozenset((str, int, bool, type(None)))
_PLAIN_DEPTH = 64


def _plain(node, depth: int) -> bool:
    """Whether ``node`` holds only texts, integers, booleans and nulls, in dicts
    and lists nested at most ``_PLAIN_DEPTH`` deep."""
    kind = type(node)
    if kind is dict:
        items = node.values()
    elif kind is list:
        items = node
    else:
        return kind in _SCALARS
    if depth >= _PLAIN_DEPTH:
        return False
    for item in items:
        kind = type(item)
        if kind is str:
            continue
        if kind is dict or kind is list:
            if not _plain(item, depth + 1):
                return False
        elif kind not in _SCALARS:
            return False
    return True


def content_hash(record: dict, data_json: str | None = None) -> str:
    """Hash of what makes two sends the same record: form, version, edit link and
    data. Attachments are not part of it: the data names them, and their bytes
    may arrive later or in parts (OpenRosa split uploads) without making the
    record a different one.

    ``data_json`` is ``canonical_json(record["data"])`` when the caller already
    has it (ingest stores that text too): the hash is then built around it
    instead of encoding the data a second time. Same bytes, same hash.
    """
    if data_json is None:
        data_json = canonical_json(record["data"])
    # canonical_json of {"data", "deprecated_id", "form_id", "form_version"}:
    # the keys are already in sorted order.
    text = (f'{{"data":{data_json},"deprecated_id":{_part(record.get("deprecated_id"))},'
            f'"form_id":{_part(record["form_id"])},'
            f'"form_version":{_part(record["form_version"])}}}')
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _part(value) -> str:
    """``canonical_json`` of one of the hash's small parts; a form's id and
    version recur in every record of a batch, so their text is kept."""
    if value is None:
        return "null"
    return _string_json(value) if type(value) is str else canonical_json(value)


@lru_cache(maxsize=1024)
def _string_json(text: str) -> str:
    return canonical_json(text)

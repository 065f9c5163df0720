"""Helpers for forwarding tests: an office and an HQ store, RSS records, and a
requests-like session that talks to an in-process HQ app (no network)."""

from __future__ import annotations

import gzip
import json
import random
import uuid
from urllib.parse import urlsplit

import requests

from server.accounts.users import token_create, user_add
from server.app import create_app
from server.ingest.pipeline import ingest
from server.ops.serve import prepare_store
from server.store import open_db
from server.store import submissions as subs_q
from tests.helpers.rss_records import BEST, WORST, build


def rss_version(db) -> str:
    return db.execute("SELECT current_version FROM forms WHERE form_id = 'rss'").fetchone()[0]


def rss_records(n: int, version: str, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        base = BEST if rng.random() < 0.5 else WORST
        data = build(base, case_id=f"GIN-2026-{i:05d}",
                     econ_satisfaction=rng.choice(["satisfied", "dissatisfied", "neutral"]))
        out.append({"instance_id": f"uuid:{uuid.UUID(int=rng.getrandbits(128))}",
                    "form_id": "rss", "form_version": version, "data": data,
                    "attachments": []})
    return out


def office_store(path) -> object:
    prepare_store(str(path))
    return open_db(path)


def ingest_at_office(db, records, device_id="tab-1") -> list[dict]:
    return ingest(db, records, door="sync", user="enum", device_id=device_id,
                  batch_id=str(uuid.uuid4()), office="gin-conakry")


def held(db) -> dict[str, dict]:
    """instance_id -> row, for every row of a store (one per instance id expected)."""
    rows = subs_q.changes(db, 0, 10**9)
    return {r["instance_id"]: r for r in rows}


class Resp:
    def __init__(self, status: int, body: bytes):
        self.status_code = status
        self.content = body
        self.text = body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


class AppSession:
    """``session.request`` answered by a Flask app in this process.

    ``down`` makes every call fail as a refused connection; ``refuse`` holds
    instance ids whose push batch is refused as ``record_invalid`` (400).
    """

    def __init__(self, app):
        self.client = app.test_client()
        self.down = False
        self.refuse: set[str] = set()
        self.calls: list[tuple[str, str]] = []

    def request(self, method, url, params=None, data=None, headers=None, timeout=None):
        assert timeout is not None, "every request must carry a timeout"
        path = urlsplit(url).path
        self.calls.append((method, path))
        if self.down:
            raise requests.ConnectionError("connection refused (test)")
        if path.endswith("/sync/push") and self.refuse:
            body = json.loads(gzip.decompress(data))
            bad = {str(i): {"data": ["refused by test"]}
                   for i, rec in enumerate(body["submissions"])
                   if rec["instance_id"] in self.refuse}
            if bad:
                return Resp(400, json.dumps({"error": {
                    "code": "record_invalid", "message": "refused by test",
                    "details": {"records": bad}}}).encode())
        resp = self.client.open(path, method=method, query_string=params, data=data,
                                headers=headers or {})
        return Resp(resp.status_code, resp.get_data())


def hq_app(path):
    """An HQ app on its own store with a peer user; returns (app, peer token)."""
    prepare_store(str(path))
    db = open_db(path)
    try:
        user_add(db, "office-gin", "peer")
        token = token_create(db, "office-gin")
    finally:
        db.close()
    return create_app({"DATABASE": str(path), "ROLE": "hq", "OFFICE": "hq"}), token

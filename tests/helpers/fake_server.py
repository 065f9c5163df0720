"""A fake server behind a requests-like session, for unit tests of the client.

``FakeServer`` keeps records by (instance_id, content hash) the way the real
ingest does and can be told to fail the next calls: ``timeout``, ``cut`` (the
connection drops before the server stored anything), ``cut_after`` (the server
stored the batch, then the answer was lost), or an HTTP status.
"""

from __future__ import annotations

import gzip
import hashlib
import json

import requests

from sync.protocol import content_hash


class FakeResponse:
    def __init__(self, status_code: int, body=None, text: str | None = None):
        self.status_code = status_code
        self._body = body
        self.text = text if text is not None else json.dumps(body)
        self.content = self.text.encode()

    def json(self):
        return json.loads(self.text)


class FakeServer:
    def __init__(self, *, forms: dict | None = None, require_attachments: bool = False):
        self.rows: dict[str, set[str]] = {}  # instance_id -> content hashes
        self.seq = 0
        self.blobs: dict[str, bytes] = {}
        self.faults: list = []
        self.calls: list[tuple[str, str, int]] = []  # (method, path, n records)
        self.forms = forms or {}
        self.require_attachments = require_attachments
        self.invalid_ids: set[str] = set()
        self.timeouts: list = []

    # the requests.Session surface the client uses
    def request(self, method, url, *, params=None, data=None, headers=None, timeout=None):
        assert timeout is not None, "every call must carry a timeout"
        self.timeouts.append(timeout)
        path = url.split("127.0.0.1", 1)[-1].split(":8", 1)[-1]
        path = path[path.index("/"):]
        fault = self.faults.pop(0) if self.faults else None
        n = 0
        if method == "POST":
            body = json.loads(gzip.decompress(data))
            assert headers["Content-Encoding"] == "gzip"
            n = len(body["submissions"])
        self.calls.append((method, path, n))
        if fault == "timeout":
            raise requests.exceptions.ReadTimeout("read timed out")
        if fault == "cut":
            raise requests.exceptions.ConnectionError("connection reset by peer")
        if isinstance(fault, int):
            return FakeResponse(fault, {"error": {"code": "x", "message": "fault",
                                                  "details": {}}})
        if fault == "garbled":
            return FakeResponse(200, text='{"results": [')
        answer = self._handle(method, path, params, data, body if method == "POST" else None)
        if fault == "cut_after":
            raise requests.exceptions.ChunkedEncodingError("connection broken: IncompleteRead")
        return answer

    def _handle(self, method, path, params, data, body):
        if method == "POST" and path == "/api/v1/sync/push":
            bad = {str(i): {"data": ["invalid"]} for i, r in enumerate(body["submissions"])
                   if r["instance_id"] in self.invalid_ids}
            if bad:
                return FakeResponse(400, {"error": {"code": "record_invalid", "message":
                                                    "bad", "details": {"records": bad}}})
            return FakeResponse(200, {"results": [self._ingest(r)
                                                  for r in body["submissions"]]})
        if method == "PUT" and path.startswith("/api/v1/attachments/"):
            sha = path.rsplit("/", 1)[1]
            if hashlib.sha256(data).hexdigest() != sha:
                return FakeResponse(422, {"error": {"code": "attachment_hash_mismatch",
                                                    "message": "mismatch", "details": {}}})
            created = sha not in self.blobs
            self.blobs[sha] = data
            return FakeResponse(201 if created else 200, {"sha256": sha})
        if method == "GET" and path == "/api/v1/forms":
            return FakeResponse(200, {"forms": [{"form_id": f, "title": f}
                                                for f in self.forms]})
        if method == "GET" and path.count("/") == 4 and path.startswith("/api/v1/forms/"):
            form_id = path.rsplit("/", 1)[1]
            return FakeResponse(200, {"form_id": form_id, "title": form_id, "state": "open",
                                      "versions": [{"version": v, "hash": "md5:" + v}
                                                   for v in self.forms[form_id]]})
        if method == "GET" and path.endswith("/xform"):
            parts = path.split("/")
            return FakeResponse(200, text=self.forms[parts[4]][parts[6]])
        return FakeResponse(404, {"error": {"code": "not_found", "message": "no",
                                            "details": {}}})

    def _ingest(self, rec):
        digest = content_hash(rec)
        hashes = self.rows.setdefault(rec["instance_id"], set())
        if digest in hashes:
            status = "duplicate"
        else:
            status = "conflict" if hashes else "created"
            hashes.add(digest)
            self.seq += 1
        missing = [a["name"] for a in rec.get("attachments") or []
                   if self.require_attachments and a["sha256"] not in self.blobs]
        return {"instance_id": rec["instance_id"], "status": status, "seq": self.seq,
                "missing_attachments": missing}


def make_record(i: int, form_id: str = "rss", version: str = "1", **extra) -> dict:
    return {"instance_id": f"uuid:00000000-0000-4000-8000-{i:012d}", "form_id": form_id,
            "form_version": version, "deprecated_id": None,
            "data": {"case_id": f"C-{i}", "n": str(i)}, "attachments": [], **extra}

"""The push engine against a fake transport: batching, halving, retries, resume."""

from __future__ import annotations

import hashlib
import random

import pytest

from sync.client import Client, RetryPolicy
from sync.engine import iter_changes, list_form_versions, push_records
from sync.errors import SyncError
from tests.helpers.fake_server import FakeResponse, FakeServer, make_record

URL = "http://127.0.0.1:8000"


def push(server, records, **kwargs):
    acked: list[dict] = []
    sleeps: list[float] = []
    kwargs.setdefault("on_results", acked.extend)
    summary = push_records(server, URL, "tok", "dev-1", records, sleep=sleeps.append,
                           rng=random.Random(1), **kwargs)
    return summary, acked, sleeps


def test_push_sends_every_record_once_in_batches():
    server = FakeServer()
    summary, acked, _ = push(server, [make_record(i) for i in range(23)], batch_size=10)
    assert [n for _, _, n in server.calls] == [10, 10, 3]
    assert summary.by_status == {"created": 23}
    assert sorted(r["instance_id"] for r in acked) == sorted(server.rows)


def test_every_call_carries_a_timeout():
    server = FakeServer()
    push(server, [make_record(1)])
    assert server.timeouts and all(t for t in server.timeouts)


def test_failed_batch_is_halved_then_grows_back():
    server = FakeServer()
    server.faults = ["timeout", 503]
    summary, acked, sleeps = push(server, [make_record(i) for i in range(40)], batch_size=8)
    sizes = [n for _, _, n in server.calls]
    assert sizes[:5] == [8, 4, 2, 4, 8]
    assert summary.acknowledged == 40 and len(sleeps) == 2


def test_payload_too_large_halves_the_batch():
    server = FakeServer()
    server.faults = [413]
    push(server, [make_record(i) for i in range(4)], batch_size=4)
    assert [n for _, _, n in server.calls][:2] == [4, 2]


def test_answer_lost_after_commit_is_resent_and_answered_duplicate():
    server = FakeServer()
    server.faults = ["cut_after"]
    summary, acked, _ = push(server, [make_record(i) for i in range(6)], batch_size=6)
    assert summary.by_status == {"duplicate": 6}
    assert len(acked) == 6 and len(server.rows) == 6


def test_garbled_answer_is_not_taken_as_acknowledgement():
    server = FakeServer()
    server.faults = ["garbled"]
    summary, acked, _ = push(server, [make_record(1)])
    assert summary.failures == 1 and [r["status"] for r in acked] == ["created"]
    assert len(server.calls) == 2


def test_unreachable_server_raises_after_the_attempts_and_acknowledges_nothing():
    server = FakeServer()
    server.faults = ["cut"] * 10
    acked: list = []
    with pytest.raises(SyncError) as err:
        push(server, [make_record(i) for i in range(3)], attempts=4, on_results=acked.extend)
    assert err.value.code == "server_unreachable"
    assert acked == [] and len(server.calls) == 4


def test_backoff_uses_full_jitter_bounded_by_an_exponential_cap():
    policy = RetryPolicy(base=0.5, cap=4.0, rng=random.Random(3))
    delays = [[policy.delay(n) for _ in range(200)] for n in (1, 2, 3, 4, 5, 6)]
    for n, ds in zip((1, 2, 3, 4, 5, 6), delays):
        bound = min(4.0, 0.5 * 2 ** (n - 1))
        assert all(0 <= d <= bound for d in ds)
        assert max(ds) > bound * 0.8 and min(ds) < bound * 0.2


def test_a_failing_results_callback_stops_the_push():
    server = FakeServer()

    def disk_full(results):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        push(server, [make_record(i) for i in range(5)], on_results=disk_full, batch_size=2)
    assert len(server.calls) == 1


def test_missing_attachments_are_uploaded_before_the_record_counts_as_sent():
    server = FakeServer(require_attachments=True)
    blob = b"\x89PNG photo bytes"
    sha = hashlib.sha256(blob).hexdigest()
    rec = make_record(1, attachments=[{"name": "p.png", "sha256": sha, "size": len(blob)}])
    summary, acked, _ = push(server, [rec, make_record(2)],
                             read_attachment={sha: blob}.get)
    assert server.blobs == {sha: blob}
    assert {r["instance_id"] for r in acked} == {rec["instance_id"], make_record(2)["instance_id"]}
    assert all(r["missing_attachments"] == [] for r in acked)


def test_attachment_not_on_device_leaves_the_record_unsent_with_a_problem():
    server = FakeServer(require_attachments=True)
    rec = make_record(1, attachments=[{"name": "p.png", "sha256": "a" * 64, "size": 3}])
    summary, acked, _ = push(server, [rec], read_attachment=lambda sha: None)
    assert acked == []
    assert summary.problems[0]["error"].startswith("attachment_missing")


def test_invalid_records_are_set_aside_and_the_rest_is_sent():
    server = FakeServer()
    records = [make_record(i) for i in range(5)]
    server.invalid_ids = {records[2]["instance_id"]}
    summary, acked, _ = push(server, records)
    assert len(acked) == 4 and records[2]["instance_id"] not in server.rows
    assert summary.problems[0]["instance_id"] == records[2]["instance_id"]


def test_refused_token_raises_server_refused():
    server = FakeServer()
    server.faults = [401]
    with pytest.raises(SyncError) as err:
        push(server, [make_record(1)])
    assert err.value.code == "server_refused" and err.value.status == 401


def test_results_for_records_not_sent_are_ignored():
    server = FakeServer()
    real = server._handle

    def extra(*args):
        resp = real(*args)
        if resp.status_code == 200 and "results" in resp.json():
            body = resp.json()
            body["results"].append({"instance_id": "uuid:someone-elses", "status": "created",
                                    "seq": 9})
            return FakeResponse(200, body)
        return resp

    server._handle = extra
    summary, acked, _ = push(server, [make_record(1)])
    assert [r["instance_id"] for r in acked] == [make_record(1)["instance_id"]]


def test_get_retries_transient_failures():
    server = FakeServer(forms={"rss": {"1": "<x/>"}})
    server.faults = ["cut", 502]
    client = Client(server, URL, "tok", policy=RetryPolicy(sleep=lambda s: None))
    assert client.get_json("/api/v1/forms")["forms"][0]["form_id"] == "rss"


def test_list_form_versions_reads_every_version():
    server = FakeServer(forms={"rss": {"1": "<a/>", "2": "<b/>"}, "hh": {"7": "<c/>"}})
    got = list_form_versions(server, URL, "tok", sleep=lambda s: None)
    assert {(v["form_id"], v["version"]) for v in got} == {("rss", "1"), ("rss", "2"),
                                                          ("hh", "7")}


def test_iter_changes_follows_the_cursor_until_empty():
    pages = {0: ([{"seq": 1}, {"seq": 2}], 2), 2: ([{"seq": 3}], 3), 3: ([], 3)}

    class Feed:
        def request(self, method, url, *, params=None, timeout=None, **_):
            changes, nxt = pages[params["since"]]
            return FakeResponse(200, {"changes": changes, "next": nxt})

    assert [c["seq"] for c in iter_changes(Feed(), URL, "tok")] == [1, 2, 3]

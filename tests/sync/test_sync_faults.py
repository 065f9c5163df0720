"""Sync under faults, over real HTTP on 127.0.0.1 against a real server and SQLite files.

Each test states one promise of the protocol: nothing finalized on a device is
lost, nothing is stored twice, and a device marks as sent only what the server
acknowledged, whatever happens to the connection, the server or the device.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import requests

from sync import device
from sync.device_store import DeviceStore
from sync.engine import iter_changes
from sync.errors import SyncError
from tests.helpers.fault_proxy import FaultProxy
from tests.helpers.devices import device_records, make_device, push_until_done


def assert_server_holds_exactly(site, *device_dbs):
    """Every device record is on the server once, with the same content hash; no extras."""
    rows = site.rows()
    per_id = Counter(iid for iid, _, _ in rows)
    expected = {}
    for db in device_dbs:
        expected.update(device_records(db))
    mine = {iid: h for iid, h, _ in rows if iid in expected}
    assert set(mine) == set(expected), "a device record is missing on the server"
    assert all(per_id[iid] == 1 for iid in expected), "a record is stored twice"
    assert all(mine[iid] == rec["content_hash"] for iid, rec in expected.items())
    seqs = {iid: seq for iid, _, seq in rows}
    for iid, rec in expected.items():
        assert rec["state"] == "sent"
        assert rec["server_seq"] == seqs[iid]


def assert_sent_only_what_server_holds(site, db):
    held = {iid for iid, _, _ in site.rows()}
    sent = {iid for iid, rec in device_records(db).items() if rec["state"] == "sent"}
    assert sent <= held


def test_push_through_cut_connections_stores_each_record_once(site, tmp_path):
    proxy = FaultProxy(int(site.url.rsplit(":", 1)[1]), seed=11, cut_rate=0.4,
                       max_offset=1500, delay=0.003).start()
    try:
        db = make_device(tmp_path, site, 300, url=proxy.url, name="cut")
        try:  # two attempts only: this run may well give up partway
            device.push(db, batch_size=40, attempts=2, sleep=lambda s: None)
        except SyncError as exc:
            assert exc.code == "server_unreachable"
        assert_sent_only_what_server_holds(site, db)
        push_until_done(db, batch_size=40, attempts=12)
        assert proxy.stats.cuts_up > 0 and proxy.stats.cuts_down > 0, proxy.stats
    finally:
        proxy.stop()
    assert_server_holds_exactly(site, db)


def test_resend_of_everything_is_answered_duplicate_and_adds_no_row(site, tmp_path):
    db = make_device(tmp_path, site, 200, name="resend")
    first = device.push(db, batch_size=100)
    # every record lacks the RSS form's required `consent`: stored, flagged invalid
    assert first["by_status"] == {"flagged": 200}
    before = site.rows()
    with DeviceStore.open(db) as store:
        store.db.execute("UPDATE records SET state = 'queued'")
    again = device.push(db, batch_size=100)
    assert again["by_status"] == {"duplicate": 200}
    assert site.rows() == before


def test_server_killed_mid_batch_then_restarted_loses_and_duplicates_nothing(own_site,
                                                                             tmp_path):
    db = make_device(tmp_path, own_site, 400, name="kill")
    outcome: dict = {}

    def pushing():
        try:
            outcome["summary"] = device.push(db, batch_size=20, attempts=60,
                                             sleep=lambda s: time.sleep(min(s, 0.2)))
        except Exception as exc:  # noqa: BLE001 - checked below
            outcome["error"] = exc

    worker = threading.Thread(target=pushing)
    worker.start()
    deadline = time.monotonic() + 30
    while own_site.count() < 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    own_site.server.kill()
    held_at_kill = own_site.count()
    assert 0 < held_at_kill < 400, "the kill must land in the middle of the push"
    assert_sent_only_what_server_holds(own_site, db)
    own_site.server.start()
    worker.join(90)
    assert not worker.is_alive()
    # the push rode out the kill and the restart on its own retries: every record
    # acknowledged once, new ones flagged (no `consent`), and at most the one
    # batch in flight at the kill, stored but not acknowledged, answered duplicate
    assert "error" not in outcome, repr(outcome.get("error"))
    summary = outcome["summary"]
    assert summary["acknowledged"] == 400 and summary["queued"] == 0
    assert set(summary["by_status"]) <= {"flagged", "duplicate"}
    assert summary["by_status"].get("duplicate", 0) <= 20
    push_until_done(db, batch_size=20)
    assert_server_holds_exactly(own_site, db)


def test_twenty_devices_pushing_at_once_each_record_stored_once(site, tmp_path):
    dbs = [make_device(tmp_path, site, 15, name=f"crowd{i:02d}") for i in range(20)]
    errors: list = []

    def run(db):
        try:
            push_until_done(db, batch_size=5)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(db,)) for db in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert_server_holds_exactly(site, *dbs)


def test_changes_cursor_never_skips_or_repeats_while_ingesting(site, tmp_path):
    dbs = [make_device(tmp_path, site, 80, name=f"feed{i}") for i in range(4)]
    start_seq = max((seq for _, _, seq in site.rows()), default=0)
    pushing_done = threading.Event()
    seen: list[int] = []
    reader_error: list = []

    def reader():
        cursor = start_seq
        session = requests.Session()
        try:
            while True:
                finished = pushing_done.is_set()
                page = list(iter_changes(session, site.url, site.admin_token, cursor,
                                         limit=7))
                seen.extend(c["seq"] for c in page)
                if page:
                    cursor = page[-1]["seq"]
                elif finished:
                    return
        except Exception as exc:  # noqa: BLE001 - reported below
            reader_error.append(exc)

    reading = threading.Thread(target=reader)
    reading.start()
    pushers = [threading.Thread(target=push_until_done, args=(db,),
                                kwargs={"batch_size": 10}) for db in dbs]
    for t in pushers:
        t.start()
    for t in pushers:
        t.join(120)
    pushing_done.set()
    reading.join(60)
    assert reader_error == []
    assert len(seen) == len(set(seen)), "the cursor repeated a record"
    assert seen == sorted(seen)
    stored = [seq for _, _, seq in site.rows() if seq > start_seq]
    assert seen == stored, "the cursor skipped a record"
    assert_server_holds_exactly(site, *dbs)


def test_device_store_failing_to_write_marks_nothing_sent(site, tmp_path):
    db = make_device(tmp_path, site, 120, name="full")
    with DeviceStore.open(db) as store:
        store.db.execute(
            "CREATE TRIGGER disk_full BEFORE UPDATE OF state ON records "
            "WHEN NEW.state = 'sent' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    with pytest.raises(SyncError) as err:
        device.push(db, batch_size=50)
    assert err.value.code == "device_store_failed"
    assert all(r["state"] == "queued" for r in device_records(db).values())
    assert site.count() >= 50  # the server did take the first batch
    with DeviceStore.open(db) as store:
        store.db.execute("DROP TRIGGER disk_full")
    summary = device.push(db, batch_size=50)
    assert summary["by_status"].get("duplicate", 0) >= 50
    assert_server_holds_exactly(site, db)

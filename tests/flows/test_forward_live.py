"""Office -> HQ over real HTTP on 127.0.0.1: two servers, a fault-injecting proxy
between them, and `fieldsync worker` processes forwarding through HQ outages and
worker restarts. HQ must end up holding exactly the office's records, once each,
with equal scores and the office's provenance."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import requests

from server.forwarding import outbox
from server.store import open_db
from tests.helpers.fault_proxy import FaultProxy
from tests.helpers.forwarding import held, rss_records
from tests.helpers.live import LiveServer

DEADLINE = 40.0


def start_worker(db_path, log_path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "server.cli", "worker", "--db", str(db_path),
         "--interval", "0.3", "--backoff-cap", "1", "--office", "gin-conakry",
         "--timeout", "10"],
        stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc, sig=signal.SIGKILL):
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        proc.wait(10)


def push(office, token, records):
    for i in range(0, len(records), 50):
        r = requests.post(f"{office.url}/api/v1/sync/push", timeout=30,
                          headers={"Authorization": f"Bearer {token}"},
                          json={"device_id": "tab-7", "batch_id": str(uuid.uuid4()),
                                "submissions": records[i:i + 50]})
        assert r.status_code == 200, r.text


def read(path):
    db = open_db(path)
    try:
        return held(db), outbox.outbox_status(db)
    finally:
        db.close()


def wait_until_forwarded(office, hq):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        mine, status = read(office.db_path)
        theirs, _ = read(hq.db_path)
        if status["queued"] == 0 and set(theirs) >= set(mine) and all(
                theirs[i]["scores"] == mine[i]["scores"] and
                theirs[i]["review_state"] == mine[i]["review_state"] for i in mine):
            return mine, theirs
        time.sleep(0.3)
    raise AssertionError(f"not forwarded in time: {status}")


@pytest.fixture
def sites(tmp_path):
    hq = LiveServer(tmp_path / "hq.db", role="hq").start()
    office = LiveServer(tmp_path / "office.db", env={"FIELDSYNC_OFFICE": "gin-conakry"}).start()
    peer = hq.token_for("office-gin", "peer")
    enum = office.token_for("enum", "enumerator")
    proxy = FaultProxy(hq.port, seed=3, cut_rate=0.3, max_offset=2500, delay=0.001).start()
    subprocess.run([sys.executable, "-m", "server.cli", "upstream", "set", proxy.url,
                    "--token", peer, "--db", str(office.db_path)], check=True, timeout=60)
    db = office.db()
    version = db.execute("SELECT current_version FROM forms WHERE form_id='rss'").fetchone()[0]
    db.close()
    yield office, hq, enum, version, proxy
    proxy.stop()
    office.stop()
    hq.stop()


def test_hq_holds_exactly_the_office_records_after_outages_and_worker_restarts(sites,
                                                                              tmp_path):
    office, hq, enum, version, proxy = sites
    log = tmp_path / "worker.log"
    records = rss_records(300, version, seed=42)
    worker = start_worker(office.db_path, log)
    try:
        push(office, enum, records[:100])
        hq.stop()                                   # HQ outage: the office keeps ingesting
        push(office, enum, records[100:160])
        time.sleep(1.0)
        hq.start()
        stop(worker)                                # worker killed mid-flight
        push(office, enum, records[160:230])
        worker = start_worker(office.db_path, log)
        hq.kill()                                   # power cut at HQ
        push(office, enum, records[230:])
        time.sleep(0.5)
        hq.start()
        mine, theirs = wait_until_forwarded(office, hq)
    finally:
        stop(worker, signal.SIGTERM)
    assert len(mine) == 300
    rows = open_db(hq.db_path).execute("SELECT instance_id FROM submissions").fetchall()
    assert len(rows) == len({r[0] for r in rows}) == 300, "HQ holds a record twice"
    for iid, row in mine.items():
        assert theirs[iid]["content_hash"] == row["content_hash"]
        assert theirs[iid]["scores"] == row["scores"]
        assert theirs[iid]["origin"]["office"] == "gin-conakry"
        assert theirs[iid]["origin"]["received_at"] == row["received_at"]
    assert proxy.stats.cuts_up + proxy.stats.cuts_down > 0


def test_a_second_worker_on_the_same_store_stands_by_and_takes_over(sites, tmp_path):
    office, hq, enum, version, _proxy = sites
    first = start_worker(office.db_path, tmp_path / "w1.log")
    time.sleep(1.0)
    second = start_worker(office.db_path, tmp_path / "w2.log")
    try:
        push(office, enum, rss_records(40, version, seed=7))
        wait_until_forwarded(office, hq)
        _, status = read(office.db_path)
        assert status["last_run_by"].endswith(f":{first.pid}")
        assert "standby" in (tmp_path / "w2.log").read_text()
        lock = subprocess.run([sys.executable, "-m", "server.cli", "worker", "--no-wait",
                               "--db", str(office.db_path)], capture_output=True, text=True,
                              timeout=60)
        assert lock.returncode == 1 and "another" in lock.stderr
        stop(first)
        push(office, enum, rss_records(20, version, seed=8))
        wait_until_forwarded(office, hq)
        _, status = read(office.db_path)
        assert status["last_run_by"].endswith(f":{second.pid}")
    finally:
        stop(first)
        stop(second, signal.SIGTERM)

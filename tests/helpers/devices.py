"""Devices against a real server on loopback: the server (``Site``, and the
``site`` and ``own_site`` fixtures, which tests/sync and tests/cli take in their
conftest), device stores holding queued records, and what each side holds."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

import pytest
import requests

from sync import device
from sync.device_store import DeviceStore
from tests.helpers.live import LiveServer


class Site:
    """A running server with an enumerator token, an admin token and the RSS version."""

    def __init__(self, server: LiveServer):
        self.server = server
        self.url = server.url
        self.token = server.token_for(f"enum-{uuid.uuid4().hex[:6]}", "enumerator")
        self.admin_token = server.token_for(f"admin-{uuid.uuid4().hex[:6]}", "admin")
        form = requests.get(f"{self.url}/api/v1/forms/rss", timeout=10,
                            headers={"Authorization": f"Bearer {self.token}"}).json()
        self.rss_version = form["versions"][-1]["version"]

    def rows(self) -> list[tuple[str, str, int]]:
        """(instance_id, content_hash, seq) of every stored submission, read-only."""
        conn = sqlite3.connect(f"file:{self.server.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute("SELECT instance_id, content_hash, seq FROM submissions "
                                "ORDER BY seq").fetchall()
        finally:
            conn.close()

    def count(self) -> int:
        conn = sqlite3.connect(f"file:{self.server.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute("SELECT count(*) FROM submissions").fetchone()[0]
        finally:
            conn.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One server shared by the tests of a module (they use distinct devices)."""
    server = LiveServer(tmp_path_factory.mktemp("server") / "server.db", threads=8).start()
    yield Site(server)
    server.stop()


@pytest.fixture
def own_site(tmp_path):
    """A server of this test alone (for tests that kill it)."""
    server = LiveServer(tmp_path / "own-server.db", threads=8).start()
    yield Site(server)
    server.stop()


def rss_record(version: str, n: int, tag: str = "") -> dict:
    return {
        "instance_id": f"uuid:{uuid.uuid4()}",
        "form_id": "rss",
        "form_version": version,
        "deprecated_id": None,
        "data": {"case_id": f"GIN-{tag}{n:05d}", "survey_round": "baseline",
                 "interview_date": "2026-01-15", "country_of_return": "GIN",
                 "note": "é" * (n % 7)},
        "attachments": [],
    }


def make_device(folder: Path, site: Site, records: int, *, url: str | None = None,
                name: str = "dev") -> Path:
    """A device store pointed at ``url`` (default the site) holding ``records`` queued."""
    db_path = folder / f"{name}.db"
    device.init(db_path, url or site.url, site.token, folder / f"{name}-media")
    with DeviceStore.open(db_path) as store:
        for n in range(records):
            store.add_record(rss_record(site.rss_version, n, name), source="test")
    return db_path


def device_records(db_path: Path) -> dict[str, dict]:
    """instance_id -> {content_hash, state, server_status, server_seq} of a device store."""
    with DeviceStore.open(db_path) as store:
        rows = store.db.execute("SELECT instance_id, content_hash, state, server_status, "
                                "server_seq FROM records").fetchall()
    return {r[0]: {"content_hash": r[1], "state": r[2], "server_status": r[3],
                   "server_seq": r[4]} for r in rows}


def push_until_done(db_path: Path, *, url_rounds: int = 6, **options) -> list[dict]:
    """Push again after failures (as a user would) until nothing is queued."""
    options.setdefault("sleep", lambda s: time.sleep(min(s, 0.05)))
    summaries = []
    for _ in range(url_rounds):
        try:
            summaries.append(device.push(db_path, **options))
        except Exception as exc:  # noqa: BLE001 - the next round resumes
            summaries.append({"error": exc})
        with DeviceStore.open(db_path) as store:
            if store.count_queued() == 0:
                return summaries
    raise AssertionError(f"records still queued after {url_rounds} pushes: {summaries}")

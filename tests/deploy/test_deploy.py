"""deploy/ is tested, not just written: unit files name real commands and options,
systemd accepts them, gunicorn's WSGI entry serves, and a backup taken while
pushes run restores into a sound store holding every acknowledged record."""

from __future__ import annotations

import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import requests

from tests.helpers.forwarding import rss_records
from tests.helpers.live import LiveServer

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
FIELDSYNC = str(Path(sys.executable).with_name("fieldsync"))


def exec_commands(unit: Path) -> list[list[str]]:
    out = []
    for line in unit.read_text().splitlines():
        if line.startswith("ExecStart="):
            cmd = line.split("=", 1)[1]
            if cmd.startswith("/bin/sh -c "):
                cmd = shlex.split(cmd)[2].replace("exec ", "", 1)
            out.append(shlex.split(cmd.replace("%%", "%")))
    return out


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_unit_files_use_real_fieldsync_commands_and_options(unit):
    for argv in exec_commands(unit):
        assert argv[0].endswith("/fieldsync")
        command = [a for a in argv[1:] if not a.startswith("-")][0]
        helptext = subprocess.run([FIELDSYNC, command, "--help"], capture_output=True,
                                  text=True, timeout=60)
        assert helptext.returncode == 0, helptext.stderr
        for option in (a for a in argv[1:] if a.startswith("--")):
            assert option in helptext.stdout, f"{unit.name}: {option} unknown to {command}"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text().replace("/opt/fieldsync/.venv/bin/fieldsync", FIELDSYNC)
        text = re.sub(r"^(User|Group)=.*$", r"\1=root", text, flags=re.M)
        (tmp_path / unit.name).write_text(text)
    units = [str(p) for p in sorted(tmp_path.iterdir())]
    out = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True,
                         text=True, timeout=120)
    problems = [line for line in out.stderr.splitlines()
                if str(tmp_path) in line or "fieldsync" in line]
    assert out.returncode == 0 and not problems, out.stderr


def test_gunicorn_config_serves_the_wsgi_app(tmp_path):
    from tests.helpers.live import free_port

    port = free_port()
    env = {"FIELDSYNC_DB": str(tmp_path / "g.db"), "FIELDSYNC_BIND": f"127.0.0.1:{port}",
           "PATH": str(Path(sys.executable).parent)}  # the shipped worker count
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c",
                             str(DEPLOY / "gunicorn.conf.py"), "server.wsgi:app"],
                            env=env, cwd=str(DEPLOY.parent), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            try:  # a worker still starting may accept the connection and answer late
                r = requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                if proc.poll() is not None:
                    raise AssertionError(proc.stderr.read().decode())
                threading.Event().wait(0.1)
        assert r.json() == {"status": "ok"}
        conn = sqlite3.connect(tmp_path / "g.db")
        assert conn.execute("SELECT count(*) FROM forms").fetchone()[0] >= 1  # migrated
        conn.close()
    finally:
        proc.terminate()
        stderr = proc.communicate(timeout=20)[1].decode()
    # a new store: the first admin's token and console password, printed once
    assert "First start: created user 'admin'" in stderr
    assert "Its password for the web console" in stderr


def test_backup_during_pushes_restores_every_acknowledged_record(tmp_path):
    server = LiveServer(tmp_path / "live.db", threads=4).start()
    try:
        token = server.token_for("enum", "enumerator")
        db = server.db()
        version = db.execute("SELECT current_version FROM forms WHERE form_id='rss'"
                             ).fetchone()[0]
        db.close()
        acked: list[tuple[float, str]] = []
        stop = threading.Event()
        clock = iter(range(10**9))

        def pusher(seed):
            s = requests.Session()
            i = 0
            while not stop.is_set():
                batch = rss_records(10, version, seed=seed * 10_000 + i)
                r = s.post(f"{server.url}/api/v1/sync/push", timeout=30, json={
                    "device_id": f"tab-{seed}", "batch_id": str(uuid.uuid4()),
                    "submissions": batch}, headers={"Authorization": f"Bearer {token}"})
                if r.status_code == 200:
                    done = next(clock)
                    acked.extend((done, x["instance_id"]) for x in r.json()["results"])
                i += 1

        threads = [threading.Thread(target=pusher, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        while len(acked) < 150:
            threading.Event().wait(0.05)
        mark = next(clock)  # everything acknowledged before this is in the backup
        before = {iid for n, iid in list(acked) if n < mark}
        out = subprocess.run([FIELDSYNC, "backup", str(tmp_path / "b.db"), "--db",
                              str(server.db_path)], capture_output=True, text=True,
                             timeout=120)
        stop.set()
        for t in threads:
            t.join()
        assert out.returncode == 0, out.stderr
        during = len(acked)
    finally:
        server.stop()
    restored = tmp_path / "restored.db"
    out = subprocess.run([FIELDSYNC, "restore", str(tmp_path / "b.db"), "--db", str(restored)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    conn = sqlite3.connect(restored)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        held = {r[0] for r in conn.execute("SELECT instance_id FROM submissions")}
    finally:
        conn.close()
    assert before <= held, f"{len(before - held)} acknowledged records missing"
    assert during > len(before)  # pushes really ran during the backup


def test_restore_refuses_a_file_that_is_not_a_sound_store(tmp_path):
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    out = subprocess.run([FIELDSYNC, "restore", str(tmp_path / "junk.db"), "--db",
                          str(tmp_path / "x.db")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "fieldsync: error:" in out.stderr
    assert not (tmp_path / "x.db").exists()


def test_restore_over_an_existing_store_needs_force_and_keeps_the_old_one(tmp_path):
    from server.ops.serve import prepare_store

    prepare_store(str(tmp_path / "a.db"))
    prepare_store(str(tmp_path / "cur.db"))
    assert subprocess.run([FIELDSYNC, "backup", str(tmp_path / "a.bak"), "--db",
                           str(tmp_path / "a.db")], timeout=60).returncode == 0
    refused = subprocess.run([FIELDSYNC, "restore", str(tmp_path / "a.bak"), "--db",
                              str(tmp_path / "cur.db")], capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 1 and "--force" in refused.stderr
    forced = subprocess.run([FIELDSYNC, "restore", str(tmp_path / "a.bak"), "--db",
                             str(tmp_path / "cur.db"), "--force"], timeout=60)
    assert forced.returncode == 0
    assert (tmp_path / "cur.db.before-restore").exists()

"""Does sign-in throttling slow an honest office? Twenty tablets syncing at once.

    .venv/bin/python bench/login_throttle.py [--tablets 20] [--records 15] [--runs 5]

Starts two `fieldsync serve` (their default workers and threads) on fresh
stores, one with sign-in throttling on (the default) and one with it off
(``FIELDSYNC_LOGIN_THROTTLE=false``), each with one enumerator account per
tablet. A sync is what ODK Collect does when a tablet comes back to the office:
``GET /formList``, ``HEAD /submission``, then each finalized record POSTed to
``/submission``; half the tablets sign in with Digest (requests'
HTTPDigestAuth: the server's nonce with a growing nc, each use recorded in the
store), half with Basic. All tablets sync at once; the two servers are driven
in turn, ``--runs`` times each, and the median rates and their ratio (on / off)
are printed, with the median of each run's own on/off ratio (the two halves of
a run are seconds apart, so a shared machine's drift weighs less on it).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from requests.auth import HTTPDigestAuth

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from openrosa import free_port, rss_xml  # noqa: E402
from server.accounts.users import user_add  # noqa: E402
from server.registry.publish import model_get  # noqa: E402
from server.store import open_db  # noqa: E402

PASSWORD = "tablet-password-1"


def start(db_path: Path, port: int, throttle: bool):
    import subprocess

    fieldsync = Path(sys.executable).with_name("fieldsync")
    proc = subprocess.Popen(
        [str(fieldsync), "serve", "--db", str(db_path), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "FIELDSYNC_LOG_LEVEL": "WARNING",
             "FIELDSYNC_LOGIN_THROTTLE": "true" if throttle else "false"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit("fieldsync serve did not start")


def sync_all(url: str, tablets: int, shares: list[list[bytes]]) -> float:
    """Every tablet syncs its share at once; returns submissions/s."""
    failures: list[str] = []

    def tablet(i: int, share: list[bytes]):
        s = requests.Session()
        s.auth = HTTPDigestAuth(f"tab{i:02d}", PASSWORD) if i % 2 == 0 \
            else (f"tab{i:02d}", PASSWORD)
        for path, method in (("/formList", "GET"), ("/submission", "HEAD")):
            r = s.request(method, url + path, timeout=60)
            if r.status_code not in (200, 204):
                failures.append(f"{method} {path} {r.status_code}")
        for xml in share:
            r = s.post(f"{url}/submission", timeout=60,
                       files={"xml_submission_file": ("submission.xml", xml, "text/xml")})
            if r.status_code != 201:
                failures.append(f"POST {r.status_code}")

    threads = [threading.Thread(target=tablet, args=(i, shares[i])) for i in range(tablets)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed: {sorted(set(failures))[:5]}")
    return sum(len(share) for share in shares) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tablets", type=int, default=20)
    parser.add_argument("--records", type=int, default=15, help="records per tablet per sync")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"on": [], "off": []}
    with tempfile.TemporaryDirectory() as tmp:
        servers, procs = {}, []
        try:
            for name in ("on", "off"):
                db_path = Path(tmp) / f"{name}.db"
                port = free_port()
                procs.append(start(db_path, port, throttle=name == "on"))
                db = open_db(db_path)
                for i in range(args.tablets):
                    user_add(db, f"tab{i:02d}", "enumerator", PASSWORD)
                version = db.execute("SELECT current_version FROM forms "
                                     "WHERE form_id = 'rss'").fetchone()[0]
                model = model_get(db, "rss", version)
                db.close()
                servers[name] = f"http://127.0.0.1:{port}"
            rng = random.Random(19)

            def shares():
                return [[rss_xml(model, rng) for _ in range(args.records)]
                        for _ in range(args.tablets)]

            for url in servers.values():  # warm up: workers loaded, hashes cached
                sync_all(url, args.tablets, [share[:2] for share in shares()])
            for i in range(args.runs):
                order = ("on", "off") if i % 2 == 0 else ("off", "on")
                for name in order:
                    rates[name].append(sync_all(servers[name], args.tablets, shares()))
                print(f"run {i + 1}: on {rates['on'][-1]:.0f}/s, off {rates['off'][-1]:.0f}/s",
                      flush=True)
        finally:
            for proc in procs:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(15)
    on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
    paired = statistics.median(a / b for a, b in zip(rates["on"], rates["off"]))
    print(f"{args.tablets} tablets syncing at once ({args.records} records each, half "
          f"Digest, half Basic), median of {args.runs} runs:")
    print(f"  throttling on {on:.0f} records/s   off {off:.0f} records/s   "
          f"ratio on/off {on / off:.2f} (median of each run's on/off: {paired:.2f})")


if __name__ == "__main__":
    main()

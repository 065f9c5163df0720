"""OpenRosa single-record submissions per second, as ODK Collect sends them.

    .venv/bin/python bench/openrosa.py [--records 400] [--clients 4] [--runs 5]

Starts `fieldsync serve` (gunicorn, its default workers and threads) on a fresh
SQLite file in a temporary directory, creates an enumerator with a password and
a bearer token, builds seeded RSS instances (one instanceID each), and POSTs
them to /submission, one record per HTTP request (multipart
``xml_submission_file``), from ``--clients`` concurrent devices. Each run is
timed twice: with Digest authentication (requests' HTTPDigestAuth, which
reuses the server's nonce with a growing nc, as Collect does) and with a bearer
token. Prints the median rate of each and the ratio digest / token.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from requests.auth import HTTPDigestAuth

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forms.instance import record_to_instance  # noqa: E402
from server.accounts.users import token_create, user_add  # noqa: E402
from server.registry.publish import model_get  # noqa: E402
from server.store import open_db  # noqa: E402

PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_path: Path, port: int) -> subprocess.Popen:
    fieldsync = Path(sys.executable).with_name("fieldsync")
    proc = subprocess.Popen(
        [str(fieldsync), "serve", "--db", str(db_path), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "FIELDSYNC_LOG_LEVEL": "WARNING"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit("fieldsync serve did not start")


def rss_xml(model, rng: random.Random) -> bytes:
    def pick(path):
        return rng.choice([c.name for c in model.choices[model.fields[path].list_name]])

    case_id = f"GIN-2024-{rng.randint(1, 99999):05d}"
    round_ = pick("survey_round")
    data = {"start": "2026-03-10T09:12:00.000Z", "end": "2026-03-10T09:41:00.000Z",
            "today": "2026-03-10", "deviceid": "collect:bench", "username": "enum",
            "case_id": case_id, "survey_round": round_, "interview_date": "2026-03-10",
            "return_date": "2025-11-02", "country_of_return": "GIN",
            "country_of_migration": "LBY", "sex": pick("sex"),
            "age": str(rng.randint(18, 60)), "consent": "yes"}
    for group in ("econ", "social", "psycho"):
        data[group] = {f.name: pick(f.path) for f in model.fields.values()
                       if f.parent == group and f.control == "select1" and not f.relevant}
    data["econ"]["productive_assets"] = "land livestock"
    data["respondent_key"] = f"{case_id}|{round_}"
    data["scoring_spec"] = "rss-v1"
    record = {"instance_id": f"uuid:{uuid.UUID(int=rng.getrandbits(128))}",
              "form_id": model.form_id, "form_version": model.version, "data": data}
    return record_to_instance(record, model)


def run(url: str, xmls: list[bytes], clients: int, make_session) -> float:
    """Submit every instance once over ``clients`` threads; returns records/s."""
    sessions = [make_session() for _ in range(clients)]
    for s in sessions:  # the first request of a device takes the Digest challenge
        assert s.head(f"{url}/submission", timeout=30).status_code == 204
    shares = [xmls[i::clients] for i in range(clients)]
    failures: list[int] = []

    def device(session, share):
        for xml in share:
            r = session.post(f"{url}/submission", timeout=60,
                             files={"xml_submission_file": ("submission.xml", xml, "text/xml")})
            if r.status_code != 201:
                failures.append(r.status_code)

    threads = [threading.Thread(target=device, args=(s, sh)) for s, sh in zip(sessions, shares)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} submissions failed: {sorted(set(failures))}")
    return len(xmls) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=400, help="submissions per timed run")
    parser.add_argument("--clients", type=int, default=4, help="concurrent devices")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        port = free_port()
        proc = start_server(db_path, port)
        try:
            db = open_db(db_path)
            user_add(db, "enum", "enumerator", PASSWORD)
            token = token_create(db, "enum")
            model = model_get(db, "rss", db.execute(
                "SELECT current_version FROM forms WHERE form_id = 'rss'").fetchone()[0])
            db.close()
            rng = random.Random(7)
            url = f"http://127.0.0.1:{port}"

            def digest_session():
                s = requests.Session()
                s.auth = HTTPDigestAuth("enum", PASSWORD)
                return s

            def token_session():
                s = requests.Session()
                s.headers["Authorization"] = f"Bearer {token}"
                return s

            rates: dict[str, list[float]] = {"digest": [], "token": []}
            run(url, [rss_xml(model, rng) for _ in range(50)], args.clients, token_session)
            for i in range(args.runs):
                for name, factory in (("digest", digest_session), ("token", token_session)):
                    xmls = [rss_xml(model, rng) for _ in range(args.records)]
                    rates[name].append(run(url, xmls, args.clients, factory))
                print(f"run {i + 1}: digest {rates['digest'][-1]:.0f}/s, "
                      f"token {rates['token'][-1]:.0f}/s", flush=True)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
    digest, token_rate = (statistics.median(rates[k]) for k in ("digest", "token"))
    print(f"OpenRosa single-record submissions, {args.clients} clients, median of "
          f"{args.runs} runs x {args.records} records:")
    print(f"  digest {digest:.0f}/s   bearer token {token_rate:.0f}/s   "
          f"ratio {digest / token_rate:.2f}")


if __name__ == "__main__":
    main()

"""The web console's pages beside the JSON API calls that return the same data.

    .venv/bin/python bench/console.py --records 1000000 --loads 50

With N records stored (the store is built once into bench/.data/console-N.db,
uncommitted, and reused; --fresh rebuilds it), `fieldsync serve` runs on it
(127.0.0.1, one worker) and each console page is loaded --loads times beside
the JSON API calls that return the data it shows (one call for most pages;
the calls in turn, summed, where a page shows what several calls return),
alternating page and API, each over one keep-alive HTTP connection:
the time a browser (signed in with the console's cookie) and a script (with a
bearer token) wait for the whole answer. Printed per page: median and p95
milliseconds of the page and of the API call, and the ratio of the medians.
The target: every page under 3x its API call.

Setup: bench/export.py's generator writes the rows (the RSS form, 64 records
validated and scored through ingest, then cycled with fresh ids through the
store layer), the console's activity tables are recounted from them, then one
planted duplicate pair and one invalid record go through ingest.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.live import LiveServer  # noqa: E402

PASSWORD = "bench-password"


def build(path: Path, n: int) -> None:
    from bench.export import generate
    from server.accounts.users import user_add
    from server.ingest.pipeline import ingest
    from server.store import activity, open_db
    from tests.helpers.forwarding import rss_version
    from tests.helpers.rss_records import BEST, build as record

    generate(path, n)
    db = open_db(path)
    try:
        activity.rebuild(db)
        version = rss_version(db)

        def rec(**changes):
            return {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
                    "form_version": version, "data": record(BEST, **changes)}

        ingest(db, [rec(case_id="BEN-2026-99999", survey_round="12m")], door="sync",
               user="enum", device_id="tab-x", batch_id="p1")
        ingest(db, [rec(case_id="ben-2026-99999", survey_round="12m",
                        econ_satisfaction="satisfied"), rec(consent="perhaps")],
               door="sync", user="enum2", device_id="tab-y", batch_id="p2")
        user_add(db, "bench-admin", "admin", PASSWORD)
    finally:
        db.close()


def pairs(db) -> list[tuple[str, str, list[str]]]:
    """(page, console URL, the JSON API calls returning the data the page shows)."""
    iid = db.execute("SELECT instance_id FROM submissions ORDER BY id DESC LIMIT 1"
                     ).fetchone()[0]
    match, one, other = db.execute(
        "SELECT m.id, a.instance_id, b.instance_id FROM duplicate_matches m "
        "JOIN submissions a ON a.id = m.submission_id "
        "JOIN submissions b ON b.id = m.other_id ORDER BY m.id DESC LIMIT 1").fetchone()
    version = db.execute("SELECT current_version FROM forms WHERE form_id = 'rss'"
                         ).fetchone()[0]
    trends = "form_id=rss&by=country,quarter&threshold=0.5"
    return [
        ("overview", "/", ["/api/v1/overview", "/api/v1/devices"]),
        ("devices", "/devices", ["/api/v1/devices"]),
        ("forms", "/forms", ["/api/v1/forms"]),
        ("form", "/forms/rss", ["/api/v1/forms/rss",
                                f"/api/v1/forms/rss/versions/{version}/media",
                                "/api/v1/scoring/specs?form_id=rss", "/api/v1/users"]),
        ("submissions", "/forms/rss/submissions", ["/api/v1/forms/rss/records"]),
        ("flagged", "/forms/rss/submissions?flagged=yes&state=all",
         ["/api/v1/forms/rss/records?flagged=yes&state=all"]),
        ("record", f"/submissions/{iid}", [f"/api/v1/submissions/{iid}",
                                           f"/api/v1/review/submissions/{iid}"]),
        ("review", "/review?kind=flagged", ["/api/v1/review/queue?kind=flagged"]),
        ("duplicates", "/duplicates", ["/api/v1/duplicates"]),
        ("duplicate", f"/duplicates/{match}", [f"/api/v1/duplicates/{match}",
                                                f"/api/v1/submissions/{one}",
                                                f"/api/v1/submissions/{other}"]),
        ("scores", f"/scores?{trends}", [f"/api/v1/scores/trends?{trends}"]),
        ("users", "/users", ["/api/v1/users", "/api/v1/audit"]),
        ("outbox", "/outbox", ["/api/v1/outbox"]),
    ]


def timed(session, url) -> float:
    start = time.perf_counter()
    r = session.get(url, timeout=300)
    elapsed = (time.perf_counter() - start) * 1000
    if r.status_code != 200:
        raise SystemExit(f"{url}: {r.status_code} {r.text[:300]!r}")
    return elapsed


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--loads", type=int, default=50)
    parser.add_argument("--dir", default=str(ROOT / "bench" / ".data"))
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--only", default="", help="measure only these pages "
                        "(comma-separated names as printed, e.g. review,users)")
    args = parser.parse_args()

    from server.accounts.users import token_create
    from server.store import open_db

    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"console-{args.records}.db"
    if args.fresh or not path.exists():
        for suffix in ("", "-wal", "-shm", ".key"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        print(f"building {path} with {args.records} records ...", file=sys.stderr)
        build(path, args.records)
    db = open_db(path, migrate=True)
    token = token_create(db, "bench-admin")
    rows = db.execute("SELECT count(*) FROM submissions").fetchone()[0]
    todo = pairs(db)
    if args.only:
        wanted = {n.strip() for n in args.only.split(",")}
        todo = [p for p in todo if p[0] in wanted]
    db.close()

    live = LiveServer(path, workers=1, threads=2).start(timeout=120)
    try:
        return measure(live, token, rows, todo, args.loads)
    finally:
        live.stop()


def measure(live, token: str, rows: int, todo, loads: int) -> int:
    page = requests.Session()
    form = page.get(f"{live.url}/login", timeout=30).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    signed = page.post(f"{live.url}/login", data={"username": "bench-admin",
                       "password": PASSWORD, "csrf_token": csrf}, allow_redirects=False)
    assert signed.status_code == 302, signed.text[:300]
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    base = live.url

    print(f"{rows} submissions stored; {loads} loads each, alternating page and API")
    print(f"{'page':<22} {'page ms':>16} {'API ms':>16} {'ratio':>6}")
    print(f"{'':<22} {'median':>7} {'p95':>8} {'median':>7} {'p95':>8}")
    worst = 0.0
    for name, page_url, api_urls in todo:
        timed(page, base + page_url)
        for url in api_urls:
            timed(api, base + url)
        page_ms, api_ms = [], []
        for _ in range(loads):
            page_ms.append(timed(page, base + page_url))
            api_ms.append(sum(timed(api, base + url) for url in api_urls))
        ratio = statistics.median(page_ms) / statistics.median(api_ms)
        worst = max(worst, ratio)
        print(f"{name:<22} {statistics.median(page_ms):7.1f} {p95(page_ms):8.1f} "
              f"{statistics.median(api_ms):7.1f} {p95(api_ms):8.1f} {ratio:6.2f}", flush=True)
    verdict = "met" if worst < 3 else "NOT met"
    print(f"worst ratio {worst:.2f}: target (every page under 3x its API call) {verdict}")
    return 0 if worst < 3 else 1


if __name__ == "__main__":
    sys.exit(main())

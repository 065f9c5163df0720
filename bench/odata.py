"""OData paging throughput and memory: `Submissions` paged in full vs fieldsync's CSV export.

    .venv/bin/python bench/odata.py --records 1000000 --runs 3 --page 10000

Setup (once, kept in --dir and reused; minutes for 1M): the store of
bench/export.py (the RSS form, N scored records written through the store
layer, ``generate``) plus an analyst and a bearer token.

Each trial runs in its own process and reports rows, wall and CPU seconds and
its peak RSS (VmHWM):
- odata: the app in-process (Flask test client, unbuffered): GET
  ``/v1/projects/1/forms/rss.svc/Submissions?$top=PAGE``, then each
  ``@odata.nextLink`` until there is none, every page's bytes written to a file
  (rows counted by their ``__id``);
- csv: ``server.exports.stream`` to CSV, the same form in the same store (what
  ``GET /api/v1/forms/rss/submissions?format=csv`` serves).
The two kinds alternate in order between runs; rates are medians over --runs
and the ratio is odata rows/s over csv rows/s (target >= 0.5). The store file is
not part of the repository.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NEXT = re.compile(rb'"@odata\.nextLink":"([^"]+)"\}$')


def _export_bench():
    spec = importlib.util.spec_from_file_location("bench_export", ROOT / "bench" / "export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def setup(db_path: Path, n: int) -> str:
    """Build the store if needed; returns an analyst's token (kept beside it)."""
    from server.accounts.users import token_create, user_add
    from server.store import open_db

    token_file = db_path.with_suffix(".token")
    if not db_path.exists():
        _export_bench().generate(db_path, n)
        token_file.unlink(missing_ok=True)
    db = open_db(db_path, migrate=True)
    try:
        if not token_file.exists():
            user_add(db, "bench_analyst", "analyst")
            token_file.write_text(token_create(db, "bench_analyst"))
    finally:
        db.close()
    return token_file.read_text().strip()


def trial(kind: str, db_path: Path, out: Path, token: str, page: int) -> dict:
    started, cpu_started = time.perf_counter(), time.process_time()
    rows = 0
    pages = 0
    with open(out, "wb") as fh:
        if kind == "odata":
            from server.app import create_app

            client = create_app({"DATABASE": str(db_path), "LOG_LEVEL": "WARNING"}).test_client()
            url = "/v1/projects/1/forms/rss.svc/Submissions" + (f"?$top={page}" if page else "")
            headers = {"Authorization": f"Bearer {token}"}
            while url:
                response = client.get(url, headers=headers, buffered=False)
                assert response.status_code == 200, response.get_data()[:500]
                tail = b""
                for chunk in response.response:
                    fh.write(chunk)
                    rows += chunk.count(b'{"__id":')
                    tail = (tail + chunk)[-4096:]
                response.close()
                pages += 1
                match = NEXT.search(tail)
                url = match.group(1).decode().replace("http://localhost", "") if match else None
        else:
            from server.exports.stream import ExportOptions, export_plan, stream
            from server.store import open_db

            db = open_db(db_path)
            plan = export_plan(db, "rss", ExportOptions())
            n = {"rows": 0}
            for chunk in stream(db, plan, "csv", on_rows=lambda k: n.__setitem__("rows", k)):
                fh.write(chunk)
            rows = n["rows"]
            db.close()
    return {"kind": kind, "rows": rows, "pages": pages,
            "seconds": time.perf_counter() - started,
            "cpu_seconds": time.process_time() - cpu_started, "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--page", type=int, default=10_000,
                    help="$top of each page (0: every row in one response, as pyodk reads)")
    ap.add_argument("--dir", default="/tmp/fieldsync-bench-odata")
    ap.add_argument("--fresh", action="store_true", help="rebuild the store")
    ap.add_argument("--trial", choices=["odata", "csv"], help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--token", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = Path(args.dir)
    if args.trial:
        print(json.dumps(trial(args.trial, Path(args.db), work / f"{args.trial}.out",
                               args.token, args.page)))
        return
    work.mkdir(parents=True, exist_ok=True)
    db_path = work / f"rss-{args.records}.db"
    if args.fresh:
        for stale in work.glob(db_path.name + "*"):
            stale.unlink()
    t0 = time.perf_counter()
    token = setup(db_path, args.records)
    print(f"setup: {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    load_before = os.getloadavg()
    results: dict[str, list[dict]] = {"odata": [], "csv": []}
    for run in range(args.runs):
        for kind in (("csv", "odata") if run % 2 == 0 else ("odata", "csv")):
            (work / f"{kind}.out").unlink(missing_ok=True)
            os.sync()
            out = subprocess.run([sys.executable, __file__, "--trial", kind, "--db",
                                  str(db_path), "--dir", str(work), "--token", token,
                                  "--page", str(args.page)],
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            results[kind].append(json.loads(out.stdout.strip().splitlines()[-1]))
        o, c = results["odata"][-1], results["csv"][-1]
        print(f"run {run + 1}: odata {o['rows'] / o['seconds']:,.0f} rows/s in {o['pages']} "
              f"pages ({o['cpu_seconds']:.1f} s CPU, {o['peak_rss_mb']:.0f} MB), csv "
              f"{c['rows'] / c['seconds']:,.0f} rows/s ({c['cpu_seconds']:.1f} s CPU), ratio "
              f"{c['seconds'] / o['seconds']:.2f}", file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    summary = {}
    for kind, trials in results.items():
        summary[kind] = {
            "rows": trials[0]["rows"],
            "rows_per_s": round(statistics.median(t["rows"] / t["seconds"] for t in trials)),
            "rows_per_cpu_s": round(statistics.median(t["rows"] / t["cpu_seconds"]
                                                      for t in trials)),
            "peak_rss_mb": round(max(t["peak_rss_mb"] for t in trials), 1)}
    ratio = summary["odata"]["rows_per_s"] / summary["csv"]["rows_per_s"]
    cpu_ratio = summary["odata"]["rows_per_cpu_s"] / summary["csv"]["rows_per_cpu_s"]
    print(f"records: {args.records}, page: {args.page}, runs: {args.runs} (median rate); "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    for kind in ("odata", "csv"):
        s = summary[kind]
        print(f"{kind:6s} {s['rows']:>9d} rows  {s['rows_per_s']:>8d} rows/s  "
              f"({s['rows_per_cpu_s']} rows per CPU second)  peak RSS {s['peak_rss_mb']:.1f} MB")
    print(f"odata / csv: {ratio:.2f} wall, {cpu_ratio:.2f} CPU (target >= 0.5); "
          f"odata peak RSS {summary['odata']['peak_rss_mb']:.0f} MB (target <= 200 MB); "
          f"same rows: {summary['odata']['rows'] == summary['csv']['rows']}")
    for kind in ("odata", "csv"):
        (work / f"{kind}.out").unlink(missing_ok=True)


if __name__ == "__main__":
    main()

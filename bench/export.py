"""Export throughput and memory: `fieldsync export` (server.exports.stream) vs a plain baseline.

    .venv/bin/python bench/export.py --records 1000000 --runs 3

Setup (honest, through the store layer; about 4 minutes for 1M on 2 cores): the
RSS form is published into a new store; 64 distinct RSS records are validated
and scored once through the real pipeline (server.ingest.pipeline); then N submissions are
written through the store layer (``server.store.submissions.insert`` +
``server.store.answers.project``) by cycling those 64 with fresh instance ids and
case ids, in transactions of 20,000: the same rows and flat answers table ingest
would write, without re-running validation and scoring a million times. The
baseline table is then filled from the export's own rows. The store is kept in
--dir and reused by later runs (--fresh rebuilds it).

Each trial runs in its own process and reports rows, wall seconds, CPU seconds
and its peak RSS (VmHWM):
- export:   server.exports.stream to CSV (SQL over the flat answers table joined with
            submissions, scores by json_extract, select_multiple split, streamed)
- baseline: a plain ``SELECT *`` of a flat table holding the same values,
            written with the csv module.
Before each trial the previous output is deleted and dirty pages are flushed
(``os.sync``), so no trial pays for the last one's writeback; the order of the
two alternates between runs. The rate is the median over --runs trials; the
ratio is the median export rate over the median baseline rate (each run's ratio
is printed too). At the end the two CSV files are checked to hold the same rows.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def generate(db_path: Path, n: int) -> None:
    from server.registry.models import model_for
    from server.ingest.pipeline import ingest
    from server.ops.serve import prepare_store
    from server.store import answers as answers_q
    from server.store import open_db
    from server.store import submissions as subs_q
    from sync.protocol import canonical_json
    from tests.helpers.forwarding import rss_records, rss_version

    prepare_store(str(db_path))
    db = open_db(db_path)
    db.execute("PRAGMA synchronous = OFF")
    version = rss_version(db)
    ingest(db, rss_records(64, version, seed=1), door="sync", user="enum", device_id="b",
           office="bench")
    templates = subs_q.changes(db, 0, 64)
    model = model_for(db, "rss", version)
    rng = random.Random(7)
    done, step = 64, 20_000
    while done < n:
        with db.atomic():
            for i in range(done, min(n, done + step)):
                t = templates[i % 64]
                data = {**t["data"], "case_id": f"GIN-{i:07d}"}  # only read below
                iid = f"uuid:{uuid.UUID(int=rng.getrandbits(128))}"
                row = {**t, "instance_id": iid, "logical_id": iid,
                       "content_hash": f"{i:064x}", "data_json": canonical_json(data)}
                sub_id, _ = subs_q.insert(db, row)
                answers_q.project(db, model, sub_id, data)
        done = min(n, done + step)
        print(f"  generated {done}", file=sys.stderr, flush=True)
    db.close()


def make_baseline_table(db_path: Path) -> None:
    """The export's values, materialised once into a plain flat table."""
    from server.exports.stream import ExportOptions, export_plan, rows
    from server.store import exports as exports_q
    from server.store import open_db

    db = open_db(db_path)
    db.execute("DROP TABLE IF EXISTS bench_flat")
    plan = export_plan(db, "rss", ExportOptions())
    cols = ", ".join(f'"c{i}"' for i in range(len(plan.headers)))
    out = open_db(db_path)
    out.execute(f"CREATE TABLE bench_flat ({cols})")
    marks = ", ".join("?" * len(plan.headers))
    with out.atomic():
        out.conn.executemany(f"INSERT INTO bench_flat VALUES ({marks})", rows(plan))
    exports_q.close_snapshot(db)
    out.close()
    db.close()


def trial(kind: str, db_path: Path, out: Path) -> dict:
    started, cpu_started = time.perf_counter(), time.process_time()
    if kind == "export":
        from server.exports.stream import ExportOptions, export_plan, stream
        from server.store import open_db

        db = open_db(db_path)
        plan = export_plan(db, "rss", ExportOptions())
        n = {"rows": 0}
        with open(out, "wb") as fh:
            for chunk in stream(db, plan, "csv", on_rows=lambda k: n.__setitem__("rows", k)):
                fh.write(chunk)
        count = n["rows"]
    else:
        import sqlite3

        conn = sqlite3.connect(db_path)
        cur = conn.execute("SELECT * FROM bench_flat")
        count = 0
        with open(out, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\r\n")
            w.writerow([d[0] for d in cur.description])
            for row in cur:
                w.writerow(row)
                count += 1
    seconds = time.perf_counter() - started
    return {"kind": kind, "rows": count, "seconds": seconds,
            "cpu_seconds": time.process_time() - cpu_started, "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    """VmHWM of this process (ru_maxrss would carry the parent's peak across exec)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/fieldsync-bench-export")
    ap.add_argument("--fresh", action="store_true", help="rebuild the store")
    ap.add_argument("--trial", choices=["export", "baseline"], help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.trial:
        print(json.dumps(trial(args.trial, Path(args.db), Path(args.dir) / f"{args.trial}.csv")))
        return
    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    db_path = work / f"rss-{args.records}.db"
    if args.fresh and db_path.exists():
        for stale in work.glob(db_path.name + "*"):
            stale.unlink()
    if not db_path.exists():
        t0 = time.perf_counter()
        generate(db_path, args.records)
        make_baseline_table(db_path)
        print(f"setup: {args.records} records in {time.perf_counter() - t0:.0f}s",
              file=sys.stderr)
    load_before = os.getloadavg()
    results = {"export": [], "baseline": []}
    for run in range(args.runs):
        for kind in (("baseline", "export") if run % 2 == 0 else ("export", "baseline")):
            (work / f"{kind}.csv").unlink(missing_ok=True)
            os.sync()
            out = subprocess.run([sys.executable, __file__, "--trial", kind, "--db",
                                  str(db_path), "--dir", str(work)],
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            results[kind].append(json.loads(out.stdout))
        e, b = results["export"][-1], results["baseline"][-1]
        print(f"run {run + 1}: export {e['rows'] / e['seconds']:,.0f} rows/s "
              f"({e['cpu_seconds']:.1f} s CPU), baseline {b['rows'] / b['seconds']:,.0f} "
              f"rows/s ({b['cpu_seconds']:.1f} s CPU), ratio "
              f"{b['seconds'] / e['seconds']:.0%}", file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    summary = {}
    for kind, trials in results.items():
        rate = statistics.median(t["rows"] / t["seconds"] for t in trials)
        cpu_rate = statistics.median(t["rows"] / t["cpu_seconds"] for t in trials)
        summary[kind] = {"rows": trials[0]["rows"], "rows_per_s": round(rate),
                         "rows_per_cpu_s": round(cpu_rate),
                         "peak_rss_mb": round(max(t["peak_rss_mb"] for t in trials), 1)}
    ratio = summary["export"]["rows_per_s"] / summary["baseline"]["rows_per_s"]
    cpu_ratio = summary["export"]["rows_per_cpu_s"] / summary["baseline"]["rows_per_cpu_s"]
    cols = open(work / "export.csv", encoding="utf-8").readline().count(",") + 1
    same = _same_rows(work / "export.csv", work / "baseline.csv")
    print(f"records: {args.records}, columns: {cols}, runs: {args.runs} (median rate); "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    for kind in ("export", "baseline"):
        s = summary[kind]
        print(f"{kind:9s} {s['rows']:>9d} rows  {s['rows_per_s']:>8d} rows/s  "
              f"({s['rows_per_cpu_s']} rows per CPU second)  "
              f"peak RSS {s['peak_rss_mb']:.1f} MB")
    print(f"export / baseline: {ratio:.0%} wall, {cpu_ratio:.0%} CPU (target >= 60%); "
          f"export peak RSS target <= 200 MB; same rows in both files: {same}")
    for kind in ("export", "baseline"):
        (work / f"{kind}.csv").unlink(missing_ok=True)


def _same_rows(a: Path, b: Path) -> bool:
    """The two CSV files hold the same rows (their header lines differ)."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        fa.readline(), fb.readline()
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


if __name__ == "__main__":
    main()

"""Benchmark: the instructions ingest runs per RSS record, counted by valgrind
(callgrind), on a fresh store: ``bench/ingest.py``'s work without HTTP.

    .venv/bin/python bench/ingest_instructions.py [--records 2000] [--batch 250]

Why: ``bench/ingest.py``'s rate on a shared machine varies from one minute to
the next, and so does its raw-insert baseline; a change worth a few percent
cannot be seen in it. Instructions executed repeat to 0.1%, so
two versions of the code are compared on the same records exactly. They count
the process's own work: validation, scoring, duplicate detection, encoding,
SQLite's statements. Not the disk's sync at each commit, nor HTTP (schema
load, JSON parsing, gunicorn), nor waits for memory; ``bench/ingest.py``
measures those.

The records are ``bench/ingest.py``'s (seed 7): a warm-up of ``--warm``
records uncounted, then ``--records`` counted, in batches of ``--batch``, one
tablet and enumerator per batch, each batch decoded from its JSON text as
the server does. Without valgrind installed it says so and measures nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dedup_instructions as counter  # noqa: E402  (bench/dedup_instructions.py)
from ingest import convert_xlsform, ingest, open_db, prepare_store, rss_records  # noqa: E402
from server.ops.serve import settle_worker  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--warm", type=int, default=500)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # inside valgrind
    args = ap.parse_args()
    if args.measure:
        _measure(args)
        return
    command = counter.callgrind_command(__file__, sys.argv[1:])
    if command is None:
        return
    run = subprocess.run([*command, "--measure"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    if run.returncode != 0 or not run.stdout.strip():
        sys.exit(f"the measurement failed (exit {run.returncode})")
    print(run.stdout.strip())


def _measure(args) -> None:
    if not counter.under_callgrind():
        sys.exit("--measure runs under valgrind --tool=callgrind --instr-atstart=no")
    model = convert_xlsform((ROOT / "forms/builtin/rss.md").read_bytes(), "rss.md").model
    total = args.warm + args.records
    records = rss_records(model, total, seed=7)
    bodies = [json.dumps(records[i:i + args.batch]) for i in range(0, total, args.batch)]
    warm = -(-args.warm // args.batch)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bench.db")
        prepare_store(path)
        db = open_db(path)
        settle_worker()  # as a server's worker does once it has loaded the app

        def push(batches, first):
            for k, body in enumerate(batches, first):
                ingest(db, json.loads(body), door="sync", device_id=f"tablet-{k}",
                       user=f"enumerator-{k}")

        push(bodies[:warm], 0)
        counter.instrument(True)
        counter.zero_counts()
        push(bodies[warm:], warm)
        counted = counter.instructions_counted()
        counter.instrument(False)
        db.close()
    done = total - min(total, warm * args.batch)
    print(f"ingest, fresh store, batches of {args.batch}: {done:,} records counted, "
          f"{counted / done / 1e6:.4f}M instructions a record")


if __name__ == "__main__":
    main()

"""Benchmark: two versions of fieldsync pushed the same batches in turn, to tell
a change of a few percent from the machine's own drift.

    git worktree add /tmp/base <commit>
    .venv/bin/python bench/ingest_ab.py /tmp/base . [--runs 8] [--records 3000]

Why: on a shared machine ``bench/ingest.py``'s rate moves from
one minute to the next, so two benches run one after the other compare the
minutes more than the code. Here two servers (``fieldsync serve``, gunicorn,
2 workers, as deployed), each started from its own checkout on a fresh
store, take every batch in turn (250 RSS records, one tablet and
enumerator per batch, as ``bench/ingest.py``), the order swapped at each
batch; each side's rate counts only its own requests. A run is ``--records``
records; the ratio of the two rates is printed per run, then the medians.

A store that grows, against an empty one, measured the same way:

    .venv/bin/python bench/ingest_ab.py . . --fill /tmp/m1m.db --stored 1000000
    .venv/bin/python bench/ingest_ab.py . . --new-store /tmp/m1m.db

``--fill`` builds the store once (``bench/ingest.py``'s prefill: interviews
over the five years before the measured ones, in time order; some 8 minutes
for a million) and measures nothing; ``--new-store`` (or ``--base-store``)
starts that side's server on a copy of it. The first runs warm the big
store's caches: the medians are printed with and without the first two.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import convert_xlsform, prefill, rss_records  # noqa: E402  (bench/ingest.py)
from server.ops.serve import prepare_store  # noqa: E402
from tests.helpers.live import LiveServer  # noqa: E402


def build(path: Path, model, stored: int) -> None:
    """A store of ``stored`` records for ``--new-store``/``--base-store``, its
    WAL folded in, so a copy of the one file is the whole store."""
    start_at = time.perf_counter()
    prepare_store(str(path))
    prefill(path, model, stored)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    print(f"{path}: {stored:,} records stored in {time.perf_counter() - start_at:,.0f} s")


def start(checkout: Path, db_path: Path, store: Path | None = None) -> LiveServer:
    """A server running ``checkout``'s code on a store that checkout prepares
    (from a copy of ``store`` when given)."""
    if store is not None:
        shutil.copyfile(store, db_path)
    subprocess.run([sys.executable, "-c", "import sys; from server.ops.serve import "
                    "prepare_store; prepare_store(sys.argv[1])", str(db_path)],
                   cwd=checkout, check=True, stdout=subprocess.DEVNULL)
    here = os.getcwd()
    os.chdir(checkout)  # `python -m server.cli` imports the code of the directory it starts in
    try:
        return LiveServer(db_path, workers=2).start()
    finally:
        os.chdir(here)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", type=Path, help="checkout of the version compared against")
    ap.add_argument("new", type=Path, help="checkout of the version measured")
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--records", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--base-store", type=Path, help="the base side starts on a copy of this store")
    ap.add_argument("--new-store", type=Path, help="the new side starts on a copy of this store")
    ap.add_argument("--fill", type=Path, help="build a store of --stored records here, then stop")
    ap.add_argument("--stored", type=int, default=1_000_000)
    args = ap.parse_args()
    model = convert_xlsform((ROOT / "forms/builtin/rss.md").read_bytes(), "rss.md").model
    if args.fill:
        build(args.fill, model, args.stored)
        return
    stores = {"base": args.base_store, "new": args.new_store}
    sides = {"base": args.base.resolve(), "new": args.new.resolve()}
    rates: dict[str, list[float]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory() as tmp:
        servers = {side: start(path, Path(tmp) / f"{side}.db", stores[side])
                   for side, path in sides.items()}
        try:
            for run in range(args.runs):
                records = rss_records(model, args.records, seed=run)
                chunks = [records[i:i + args.batch] for i in range(0, len(records), args.batch)]
                spent = dict.fromkeys(servers, 0.0)
                for i, chunk in enumerate(chunks):
                    order = list(servers) if i % 2 == 0 else list(reversed(servers))
                    for side in order:
                        server = servers[side]
                        session = server.session(
                            server.token_for(f"enumerator-{run}-{i}", "enumerator"))
                        body = {"device_id": f"tablet-{run}-{i}", "batch_id": str(uuid.uuid4()),
                                "submissions": chunk}
                        began = time.perf_counter()
                        r = session.post(f"{server.url}/api/v1/sync/push", json=body,
                                         timeout=300)
                        spent[side] += time.perf_counter() - began
                        r.raise_for_status()
                for side in servers:
                    rates[side].append(len(records) / spent[side])
                print(f"  run {run + 1}: base {rates['base'][-1]:,.0f}/s, "
                      f"new {rates['new'][-1]:,.0f}/s, "
                      f"new/base {rates['new'][-1] / rates['base'][-1]:.3f}", file=sys.stderr)
        finally:
            for server in servers.values():
                server.stop()
    ratios = [n / b for b, n in zip(rates["base"], rates["new"])]
    print(f"{args.runs} runs of {args.records:,} records in batches of {args.batch}, "
          f"each batch to both servers in turn; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"base {sides['base']}: {statistics.median(rates['base']):,.0f} records/s (median)")
    print(f"new  {sides['new']}: {statistics.median(rates['new']):,.0f} records/s (median)")
    print(f"new / base, median of the runs' ratios: {statistics.median(ratios):.3f} "
          f"(runs {min(ratios):.3f} to {max(ratios):.3f})")
    if len(ratios) > 4:
        print(f"without the first two runs (caches warming): "
              f"{statistics.median(ratios[2:]):.3f}")


if __name__ == "__main__":
    main()

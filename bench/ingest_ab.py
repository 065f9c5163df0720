"""Benchmark: two versions of fieldsync pushed the same batches in turn, to tell
a change of a few percent from the machine's own drift.

    git worktree add /tmp/base <commit>
    .venv/bin/python bench/ingest_ab.py /tmp/base . [--runs 8] [--records 3000]

Why: on this shared machine ``bench/ingest.py``'s rate moves by a third from
one minute to the next, so two benches run one after the other compare the
minutes more than the code. Here two servers (``fieldsync serve``, gunicorn,
2 workers, as deployed), each started from its own checkout on a fresh
store, take every batch in turn (250 RSS records, one tablet and
enumerator per batch, as ``bench/ingest.py``), the order swapped at each
batch; each side's rate counts only its own requests. A run is ``--records``
records; the ratio of the two rates is printed per run, then the medians.
"""

from __future__ import annotations

import argparse
import os
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

from ingest import convert_xlsform, rss_records  # noqa: E402  (bench/ingest.py)
from tests.helpers.live import LiveServer  # noqa: E402


def start(checkout: Path, db_path: Path) -> LiveServer:
    """A server running ``checkout``'s code on a store that checkout prepares."""
    subprocess.run([sys.executable, "-c", "import sys; from server.serve import "
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
    args = ap.parse_args()
    model = convert_xlsform((ROOT / "forms/builtin/rss.md").read_bytes(), "rss.md").model
    sides = {"base": args.base.resolve(), "new": args.new.resolve()}
    rates: dict[str, list[float]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory() as tmp:
        servers = {side: start(path, Path(tmp) / f"{side}.db") for side, path in sides.items()}
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


if __name__ == "__main__":
    main()

"""Benchmark: the instructions ingest runs per record with duplicate detection on
and off, counted by valgrind (callgrind), on the store ``bench/dedup.py`` fills.

    .venv/bin/python bench/dedup_instructions.py [--store /tmp/fieldsync-dedup100k.db]
                                                 [--set NAME=VALUE ...]

Why: on a shared machine the rate of the same code varies from one minute to
the next more than a change to detection moves it. Instructions executed do not vary (0.1% from run to run), so two
versions of the code can be compared on the same records exactly. They count
the work of the process only: not the time the disk takes to sync, nor the
kernel's time writing pages, nor waits for memory, which ``bench/dedup.py``
measures.

The first run builds the store at ``--store`` (``--stored`` records of
``bench/dedup.py``'s time-ordered stream, detection on; a minute or two) and
keeps it. Then two processes under callgrind, detection on and off, each copy
it, push 400 records of the stream's next weeks uncounted (the caches warm),
then ``--records`` counted, one push per tablet; this prints the
instructions per record of each and their ratio. Without valgrind installed
it says so and measures nothing. ``--set NAME=VALUE`` changes a duplicate
rule for the counted pushes, as in ``bench/dedup.py`` (e.g. ``--set
case_id_typo=false``).
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dedup as bench  # noqa: E402  (bench/dedup.py: the same stream and pushes)

from server.dedup import typo_map  # noqa: E402
from server.registry.models import model_for  # noqa: E402
from server.registry.publish import publish_builtin_rss  # noqa: E402
from server.review.actions import review_rules  # noqa: E402
from server.store import open_db  # noqa: E402

WARM = 400
STREAM_AFTER = 40_000  # the stream's records after the stored ones: the same stream whatever --records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=str(Path(tempfile.gettempdir())
                                           / "fieldsync-dedup100k.db"),
                    help="the filled store, built if missing")
    ap.add_argument("--stored", type=int, default=100_000)
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--devices", type=int, default=25)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a duplicate rule for the counted pushes (repeatable)")
    ap.add_argument("--side", choices=("on", "off"), help=argparse.SUPPRESS)  # one measurement
    args = ap.parse_args()
    args.rules = bench.rule_settings(ap, args.set)
    if WARM + args.records > STREAM_AFTER:
        sys.exit(f"--records at most {STREAM_AFTER - WARM:,}")
    if args.side:
        _measure(args)
        return
    command = callgrind_command(__file__, sys.argv[1:])
    if command is None:
        return
    store = Path(args.store)
    if not store.exists():
        with tempfile.TemporaryDirectory() as tmp:
            _build(store, _stream(args, Path(tmp))[:args.stored])
    # The two sides at once: instructions do not depend on what else runs.
    runs = {side: subprocess.Popen([*command, "--side", side], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
            for side in ("on", "off")}
    counts = {}
    for side, run in runs.items():
        out, _ = run.communicate()
        if run.returncode != 0 or not out.strip():
            sys.exit(f"the measurement with detection {side} failed (exit {run.returncode})")
        print(out.strip())
        counts[side] = float(re.search(r"([\d.]+)M instructions", out).group(1))
    print(f"stored before: {args.stored:,} records; {args.records:,} records counted; "
          "rules: " + (", ".join(args.set) or "defaults"))
    print(f"ratio on / off, as rates (instructions a record off / on): "
          f"{counts['off'] / counts['on']:.3f}")


def _stream(args, tmp: Path) -> list[dict]:
    """``bench/dedup.py``'s time-ordered stream: the stored records, then the later ones."""
    probe = open_db(tmp / "model.db", migrate=True)
    model = model_for(probe, "rss", publish_builtin_rss(probe)["version"])
    probe.close()
    return bench.stream(model, args.stored + STREAM_AFTER, args.devices)


def _measure(args) -> None:
    """One side, inside callgrind: the counted pushes, printed as one line."""
    if not under_callgrind():
        sys.exit("--side runs under valgrind --tool=callgrind --instr-atstart=no")
    with tempfile.TemporaryDirectory() as tmp:
        later = _stream(args, Path(tmp))[args.stored:]
        db_path = Path(tmp) / "run.db"
        shutil.copy(args.store, db_path)
        db = open_db(db_path, migrate=True)
        gc.collect()
        gc.freeze()
        review_rules(db, "rss", {**args.rules, "enabled": args.side == "on"}, actor="bench")
        bench.push_all(db, later[:WARM])
        instrument(True)
        zero_counts()
        done, flagged = bench.push_all(db, later[WARM:WARM + args.records])
        counted = instructions_counted()
        instrument(False)
        db.close()
    print(f"detection {args.side}: {done:,} records ({flagged} flagged), "
          f"{counted / done / 1e6:.3f}M instructions a record")


def _build(store: Path, items: list[dict]) -> None:
    print(f"building {store} ({len(items):,} records)", file=sys.stderr)
    partial = store.with_name(store.name + ".building")
    db = open_db(partial, migrate=True)
    publish_builtin_rss(db)
    bench.prefill(db, items)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    typo_map.forget()  # its reader connection too
    for suffix in ("-wal", "-shm"):  # emptied by the checkpoint
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    os.replace(partial, store)


def callgrind_command(script: str, arguments: list[str]) -> list[str] | None:
    """The command running ``script`` with ``arguments`` under callgrind, which
    counts only between the script's own switches (``instrument``); None, once
    it has said so, when valgrind is not installed."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("valgrind is not installed: nothing measured (apt install valgrind)")
        return None
    return [valgrind, "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null",
            sys.executable, script, *arguments]


def under_callgrind() -> bool:
    try:
        out = subprocess.run(["callgrind_control", "-s", str(os.getpid())],
                             capture_output=True, text=True).stdout
    except FileNotFoundError:  # valgrind is not installed
        return False
    return f"PID {os.getpid()}" in out


def instrument(on: bool) -> None:
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                   check=True, capture_output=True)


def zero_counts() -> None:
    subprocess.run(["callgrind_control", "-z", str(os.getpid())], check=True,
                   capture_output=True)


def instructions_counted() -> int:
    """Instructions counted so far in this process, all threads
    (``callgrind_control -e``: a line "Th <n> <count>" per thread)."""
    out = subprocess.run(["callgrind_control", "-e", str(os.getpid())], check=True,
                         capture_output=True, text=True).stdout
    counts = re.findall(r"^\s*Th\s+\d+\s+([\d,]+)", out, re.MULTILINE)
    if not counts:
        sys.exit(f"could not read the instruction count from callgrind_control:\n{out}")
    return sum(int(c.replace(",", "")) for c in counts)


if __name__ == "__main__":
    main()

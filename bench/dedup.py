"""Benchmark: ingest rate with probable-duplicate detection on and off, on a full store.

    .venv/bin/python bench/dedup.py [--stored 100000] [--records 2000] [--runs 5]
                                    [--devices 25] [--order time|scattered]
                                    [--set NAME=VALUE ...]

Fills a fresh store with ``--stored`` synthetic RSS records (dense case ids,
1-4 rounds per respondent months apart, ``--devices`` tablets each doing a few
interviews a day, planted duplicates) through the one ingest function with
detection on, so the respondent-key, device/day and typo indexes are full.
Then, in the same run and on the same store, alternates: ingest ``--records``
new records with detection on, then as many with it off (``fieldsync review
rules --set enabled=false``), one push per tablet (``server.ingest.pipeline.ingest``,
in-process: validation, scoring, answers projection, durable commits with
synchronous=FULL). Prints records/s of each run and the median of each side
and their ratio.

``--order time`` (the default) is a deployment's stream: returnees get case
ids as they come back, each is interviewed in 1-4 rounds months apart, and
records arrive in interview order; the store holds the first ``--stored`` of
them and each run the next ``--records`` (new respondents' baselines and older
ones' follow-ups, about three weeks of interviews). ``--order scattered`` is a
backlog: each run a new population whose interviews span the whole two years
of the store, its respondents' every round in one run.

``--set NAME=VALUE`` changes a duplicate rule for the measured runs (as
``fieldsync review rules --set`` does), e.g. ``--set case_id_typo=false``
for the rate without the typo rule; the store is filled with the defaults.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.dedup import FLAG, Rules  # noqa: E402
from server.registry.models import model_for  # noqa: E402
from server.ingest.pipeline import ingest  # noqa: E402
from server.registry.publish import publish_builtin_rss  # noqa: E402
from server.review.actions import review_rules  # noqa: E402
from server.store import open_db  # noqa: E402
from tests.helpers.dedup_population import batches, population  # noqa: E402

ROUNDS_PER_RESPONDENT = 2.5  # mean of 1-4


def people(model, records: int, devices: int, seed: int, first_id: int) -> list[dict]:
    n = max(1, int(records / ROUNDS_PER_RESPONDENT))
    return population(model, respondents=n, devices=devices, seed=seed, first_id=first_id,
                      planted_each=max(1, records // 200))


def rule_settings(ap: argparse.ArgumentParser, items: list[str]) -> dict:
    """``--set NAME=VALUE`` items as duplicate rules, refused (by ``ap.error``)
    before minutes of filling, not after."""
    settings = dict(item.split("=", 1) for item in items if "=" in item)
    if len(settings) != len(items):
        ap.error("--set takes NAME=VALUE")
    try:
        Rules.from_dict(settings)
    except ValueError as exc:
        ap.error(str(exc))
    return settings


def push_all(db, items: list[dict], chunk: int = 1000) -> tuple[int, int]:
    """Ingest items one push per tablet (grouped within chunks); (records, flagged)."""
    done = flagged = 0
    for start in range(0, len(items), chunk):
        part = sorted(items[start:start + chunk], key=lambda it: it["device"])
        for group in batches(part):
            results = ingest(db, [it["rec"] for it in group], door="sync",
                             device_id=group[0]["device"], user=group[0]["user"])
            done += len(results)
            flagged += sum(FLAG in r["flags"] for r in results)
    return done, flagged


def stream(model, total: int, devices: int) -> list[dict]:
    """``total`` records of one population in interview order (``--order time``):
    about 47 returnees a day, so some 100 interviews a day by 25 tablets, the
    population a quarter larger than needed so that its last records, the
    follow-ups of the last returnees alone, are not used."""
    respondents = int(total / ROUNDS_PER_RESPONDENT * 1.25) + 1
    items = population(model, respondents=respondents, devices=devices, seed=1,
                       planted_each=max(1, total // 200), span_days=respondents // 47,
                       ids_by_return=True)
    return items[:total]


def prefill(db, items: list[dict]) -> None:
    db.conn.execute("PRAGMA synchronous = OFF")  # filling only; measured runs use FULL
    start = time.perf_counter()
    step = 10_000
    for i in range(0, len(items), step):
        push_all(db, items[i:i + step])
        print(f"  stored {min(i + step, len(items)):,}/{len(items):,} "
              f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    db.conn.execute("PRAGMA synchronous = FULL")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stored", type=int, default=100_000)
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--devices", type=int, default=25)
    ap.add_argument("--order", choices=("time", "scattered"), default="time")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a duplicate rule for the measured runs (repeatable)")
    args = ap.parse_args()
    settings = rule_settings(ap, args.set)
    load_start = _load()
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "bench.db", migrate=True)
        model = model_for(db, "rss", publish_builtin_rss(db)["version"])
        if args.order == "time":
            items = stream(model, args.stored + 2 * args.runs * args.records, args.devices)
            later = items[args.stored:]
            prefill(db, items[:args.stored])
        else:
            prefill(db, people(model, args.stored, args.devices, seed=1,
                               first_id=1)[:args.stored])
        # The prefill's garbage is this process's, not a web worker's: keep the
        # cyclic collector from walking it during the measured runs (it would
        # make some runs far slower than others).
        gc.collect()
        gc.freeze()
        if settings:
            review_rules(db, "rss", settings, actor="bench")
        held = db.execute("SELECT count(*) FROM respondent_keys").fetchone()[0]
        print(f"store: {held:,} records indexed", file=sys.stderr)
        on, off = [], []
        next_id = int(args.stored / ROUNDS_PER_RESPONDENT) + 1  # ids continue densely
        for run in range(args.runs):
            for enabled, rates in ((True, on), (False, off)):
                if args.order == "time":  # the next weeks of the stream
                    items, later = later[:args.records], later[args.records:]
                else:
                    items = people(model, args.records, args.devices,
                                   seed=100 + 2 * run + enabled, first_id=next_id)[:args.records]
                    next_id += int(args.records / ROUNDS_PER_RESPONDENT)
                review_rules(db, "rss", {"enabled": enabled}, actor="bench")
                start = time.perf_counter()
                done, flagged = push_all(db, items)
                rates.append(done / (time.perf_counter() - start))
                print(f"  run {run + 1} detection {'on ' if enabled else 'off'}: "
                      f"{rates[-1]:,.0f} records/s ({flagged} flagged)", file=sys.stderr)
        db.close()
    m_on, m_off = statistics.median(on), statistics.median(off)
    print(f"stored before runs: {args.stored:,} records ({args.order} order); "
          f"{args.records:,} records per run, median of {args.runs} runs")
    print("rules for the runs: " + (", ".join(f"{k}={v}" for k, v in settings.items())
                                    or "defaults"))
    print(f"load average at start / end: {load_start} / {_load()} "
          "(other processes share the machine)")
    print(f"ingest with duplicate detection on:  {m_on:,.0f} records/s")
    print(f"ingest with duplicate detection off: {m_off:,.0f} records/s")
    print(f"ratio on / off: {m_on / m_off:.2f}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()

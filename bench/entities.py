"""Benchmark: entity lists at ingest and on the way to tablets.

    .venv/bin/python bench/entities.py [--records 5000] [--batch 250] [--runs 3]
                                       [--entities 100000]

1. Ingest: the same RSS follow-up records, in batches of one tablet's outbox,
   through ``server.ingest.pipeline.ingest`` (validation, duplicate detection,
   scoring and the answers projection on, synchronous=FULL), into two stores
   that hold the same returnees list: once with each record's entity block
   (an update of its returnee from the version the tablet saw) and once without.
   Prints both rates (medians; the two alternate run by run) and their ratio.
2. Lists: a list of ``--entities`` returnees (imported from CSV, the import
   timed), served by ``fieldsync serve`` on loopback: the time of the OpenRosa
   manifest and of the list file's download (the whole list, as a supervisor's
   tablet receives it, and one enumerator's part), and the Python memory the
   list file's writing peaks at for the whole list and for a tenth of it (flat:
   the file is written a page of rows at a time).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest import rss_records  # noqa: E402  (bench/ingest.py)

from forms.xlsform import convert_xlsform  # noqa: E402
from server.entities import imports, lists  # noqa: E402
from server.ingest.pipeline import ingest  # noqa: E402
from server.ops.serve import prepare_store  # noqa: E402
from server.store import open_db  # noqa: E402
from tests.helpers.live import LiveServer  # noqa: E402

ENUMERATORS = 40  # the list's cases are shared among this many enumerators


def returnees_csv(n: int, offset: int = 0) -> bytes:
    lines = ["name,case_id,label,return_date,country_of_return,sex,assignee"]
    for i in range(offset, offset + n):
        lines.append(f"{uuid.UUID(int=i + 1)},RET-{i:07d},RET-{i:07d},2025-0{1 + i % 9}-15,"
                     f"GIN,{'female' if i % 2 else 'male'},enum{i % ENUMERATORS}")
    return ("\n".join(lines) + "\n").encode()


def store_with_list(folder: Path, name: str, n: int) -> Path:
    path = folder / f"{name}.db"
    prepare_store(str(path))
    db = open_db(path)
    imports.entities_import(db, "returnees", returnees_csv(n), key="case_id", dry_run=False)
    db.close()
    return path


def follow_ups(model, n: int, seed: int, offset: int) -> tuple[list[dict], list[dict]]:
    """The same records twice: with an entity block updating returnee ``offset + i``
    from version 1, and without one."""
    with_block, without = [], []
    for i, rec in enumerate(rss_records(model, n, seed=seed)):
        entity_id = str(uuid.UUID(int=offset + i + 1))
        rec["data"].update(case_id=f"RET-{offset + i:07d}", survey_round="6m",
                           returnee=entity_id)
        plain = copy.deepcopy(rec)
        rec["entity"] = {"dataset": "returnees", "id": entity_id, "create": "0",
                         "update": "1", "baseVersion": "1", "trunkVersion": "",
                         "branchId": "", "label": rec["data"]["case_id"]}
        with_block.append(rec)
        without.append(plain)
    return with_block, without


def ingest_rate(path: Path, records: list[dict], batch: int,
                expect_entity: bool) -> tuple[float, float]:
    """Records per second of wall-clock time and of this process's CPU time (on a
    shared machine the second moves less with the other processes' load)."""
    db = open_db(path)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(records), batch):
        results = ingest(db, records[i:i + batch], door="sync", device_id=f"tab-{i}",
                         user=f"enum{i // batch % ENUMERATORS}")
        if expect_entity:
            assert {r["entity"]["outcome"] for r in results} == {"updated"}, results[0]
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    db.close()
    return len(records) / elapsed, len(records) / cpu


def timed_get(session, url: str) -> tuple[float, int]:
    start = time.perf_counter()
    size = 0
    with session.get(url, stream=True, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_content(65536):
            size += len(chunk)
    return time.perf_counter() - start, size


def peak_kib(db, assignees) -> tuple[float, int]:
    tracemalloc.start()
    rows = sum(chunk.count(b"\n") for chunk in lists.stream_csv(db, "returnees", assignees))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1024, rows - 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--entities", type=int, default=100_000)
    args = ap.parse_args()
    model = convert_xlsform((ROOT / "forms/builtin/rss.md").read_bytes(), "rss.md").model
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        size = args.records * args.runs
        with_path = store_with_list(folder, "with", size)
        without_path = store_with_list(folder, "without", size)
        rates_with, rates_without = [], []
        for run in range(args.runs):
            records, plain = follow_ups(model, args.records, seed=run,
                                        offset=run * args.records)
            # the two alternate which goes first, so neither has the warmer machine
            if run % 2:
                rates_with.append(ingest_rate(with_path, records, args.batch, True))
                rates_without.append(ingest_rate(without_path, plain, args.batch, False))
            else:
                rates_without.append(ingest_rate(without_path, plain, args.batch, False))
                rates_with.append(ingest_rate(with_path, records, args.batch, True))
            print(f"  run {run + 1}: with entity updates {rates_with[-1][0]:,.0f}/s "
                  f"({rates_with[-1][1]:,.0f}/CPU s), without {rates_without[-1][0]:,.0f}/s "
                  f"({rates_without[-1][1]:,.0f}/CPU s)", file=sys.stderr)
        w = statistics.median(r[0] for r in rates_with)
        wo = statistics.median(r[0] for r in rates_without)
        wc = statistics.median(r[1] for r in rates_with)
        woc = statistics.median(r[1] for r in rates_without)

        list_path = folder / "list.db"
        prepare_store(str(list_path))
        db = open_db(list_path)
        start = time.perf_counter()
        imports.entities_import(db, "returnees", returnees_csv(args.entities), key="case_id",
                                dry_run=False)
        imported = time.perf_counter() - start
        whole_kib, whole_rows = peak_kib(db, None)
        tenth = folder / "tenth.db"
        prepare_store(str(tenth))
        small = open_db(tenth)
        imports.entities_import(small, "returnees", returnees_csv(args.entities // 10),
                                key="case_id", dry_run=False)
        tenth_kib, tenth_rows = peak_kib(small, None)
        small.close()
        db.close()
        server = LiveServer(list_path, workers=1).start()
        try:
            sup = server.session(server.token_for("sup", "supervisor"))
            enum = server.session(server.token_for("enum0", "enumerator"))
            version = sup.get(f"{server.url}/api/v1/forms/rss").json()["current_version"]
            base = f"{server.url}/forms/rss/versions/{version}"
            manifest_s, _ = timed_get(sup, f"{base}/manifest")
            whole_s, whole_bytes = timed_get(sup, f"{base}/media/returnees.csv")
            part_s, part_bytes = timed_get(enum, f"{base}/media/returnees.csv")
        finally:
            server.stop()
    print(f"{args.records:,} RSS follow-ups x {args.runs} runs in batches of {args.batch}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"ingest with entity updates:    {w:,.0f} records/s, {wc:,.0f} per CPU second "
          "(medians)")
    print(f"ingest without entities:       {wo:,.0f} records/s, {woc:,.0f} per CPU second; "
          f"ratio {w / wo:.2f} (wall clock), {wc / woc:.2f} (CPU)")
    print(f"import of {args.entities:,} returnees from CSV: {imported:.1f} s "
          f"({args.entities / imported:,.0f}/s)")
    print(f"manifest of the RSS (list hash): {manifest_s * 1000:.0f} ms")
    print(f"list file, whole list ({whole_rows:,} rows, {whole_bytes / 1e6:.1f} MB): "
          f"{whole_s:.2f} s ({whole_rows / whole_s:,.0f} rows/s)")
    print(f"list file, one enumerator's part ({part_bytes / 1e3:.0f} kB): {part_s:.2f} s")
    print(f"Python memory peak writing the list: {whole_kib:,.0f} KiB for {whole_rows:,} rows, "
          f"{tenth_kib:,.0f} KiB for {tenth_rows:,} rows")


if __name__ == "__main__":
    main()

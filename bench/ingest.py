"""Benchmark: push RSS records over HTTP in batches, beside raw SQLite inserts.

    .venv/bin/python bench/ingest.py [--records 5000] [--batch 250] [--runs 3]
                                     [--prefill 0]

Starts `fieldsync serve` (gunicorn, as deployed) on a free loopback port with a
fresh store, pushes N synthetic RSS records through POST /api/v1/sync/push
(validation, dedup, scoring and the flat answers projection all on), and prints
records/s as the median of several runs. Each batch is one tablet's outbox,
pushed with its enumerator's own account (about five interviews a day each,
as in the field). In the same run it inserts the same records as flat rows
(one column per RSS field, WAL, synchronous=FULL, one transaction per batch)
into a bare table, two ways, as baselines: with sqlite-utils' ``insert_all``
(the stack's bulk insert) and with a hand-written prepared INSERT per
row (the floor), and prints both ratios. --clients N pushes N tablets'
batches at once, as when a supervisor syncs several tablets at the office.

With --prefill K the store first receives K records through the same ingest
function in-process (large batches, no HTTP), interviewed over the five years
before the measured ones, then the HTTP rate is measured on top of it, to show
how the rate holds as the store grows.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlite_utils  # noqa: E402

from score import make_records  # noqa: E402  (bench/score.py)

from forms.xlsform import convert_xlsform  # noqa: E402
from server.ingest.pipeline import ingest  # noqa: E402
from server.store import open_db  # noqa: E402
from server.ops.serve import prepare_store  # noqa: E402
from tests.helpers.live import LiveServer  # noqa: E402


MEASURED_FROM = datetime.date(2026, 9, 1)  # the pushes' interviews: eight weeks from here
STORED_YEARS = 5  # --prefill: the store's interviews, over the years before them


def rss_records(model, n: int, seed: int, start: datetime.date = MEASURED_FROM,
                days: int = 56) -> list[dict]:
    """N RSS records as tablets send them: interviews spread over ``days`` days
    from ``start`` (eight weeks by default)."""
    version = model.version
    rng = random.Random(seed)
    out = []
    for rec in make_records(model, n, seed=seed):
        rec["data"]["case_id"] = f"GIN-{seed:02d}-{rng.randrange(10**8):08d}"
        rec["data"]["interview_date"] = str(start + datetime.timedelta(days=rng.randrange(days)))
        out.append({"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
                    "form_version": version, "deprecated_id": None, "data": rec["data"],
                    "attachments": []})
    return out


def flat_row(record: dict, paths: list[str]) -> list:
    """A record as one flat row: instance_id, then one value per field path."""
    values = [record["instance_id"]]
    for path in paths:
        node = record["data"]
        for part in path.split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        values.append(node)
    return values


def sqlite_utils_rate(records: list[dict], paths: list[str], batch: int, folder: Path) -> float:
    """The same rows into a bare flat table with sqlite-utils' ``insert_all``, one
    call (one transaction) per batch, WAL and synchronous=FULL: a raw insert as
    this stack writes one."""
    db = sqlite_utils.Database(folder / f"su-{uuid.uuid4().hex}.db")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    columns = ["instance_id", *paths]
    db["rss"].create({c: str for c in columns}, pk="instance_id")
    rows = [dict(zip(columns, flat_row(r, paths))) for r in records]
    table = db["rss"]
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        table.insert_all(rows[i:i + batch], batch_size=batch)
    elapsed = time.perf_counter() - start
    db.close()
    return len(records) / elapsed


def raw_insert_rate(records: list[dict], paths: list[str], batch: int, folder: Path) -> float:
    """The same rows into a bare flat table (one column per RSS field), one INSERT
    per row and one transaction per batch, WAL and synchronous=FULL: the floor
    any durable ingest of these rows pays."""
    path = folder / f"raw-{uuid.uuid4().hex}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    columns = ", ".join(f'"{p}"' for p in paths)
    conn.execute(f"CREATE TABLE rss (instance_id TEXT PRIMARY KEY, {columns})")
    sql = f"INSERT INTO rss VALUES ({', '.join('?' * (len(paths) + 1))})"
    start = time.perf_counter()
    for i in range(0, len(records), batch):
        conn.execute("BEGIN")
        for record in records[i:i + batch]:
            conn.execute(sql, flat_row(record, paths))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(records) / elapsed


def http_rate(server: LiveServer, tablets: list[tuple[str, str]], records: list[dict],
              batch: int, clients: int) -> float:
    """Each batch is one tablet's outbox, pushed with its enumerator's token
    (``tablets``: (device id, token) per batch); ``clients`` tablets push at once."""
    chunks = [records[i:i + batch] for i in range(0, len(records), batch)]

    def push(index_chunk):
        index, chunk = index_chunk
        device_id, token = tablets[index]
        session = server.session(token)
        body = {"device_id": device_id, "batch_id": str(uuid.uuid4()),
                "submissions": chunk}
        r = session.post(f"{server.url}/api/v1/sync/push", json=body, timeout=300)
        r.raise_for_status()
        statuses = {x["status"] for x in r.json()["results"]}
        assert statuses <= {"created", "flagged"}, statuses

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(push, enumerate(chunks)))
    return len(records) / (time.perf_counter() - start)


def prefill(db_path: Path, model, count: int) -> None:
    """Fill the store through the same ingest function (durability off while
    filling only; the measured pushes run with synchronous=FULL), one tablet
    and enumerator per 250 records, as the measured pushes; their interviews
    spread over the ``STORED_YEARS`` years before the measured ones, in time
    order (a deployment's history: a million records is some 550 interviews a
    day)."""
    first = MEASURED_FROM - datetime.timedelta(days=365 * STORED_YEARS)
    db = open_db(db_path)
    db.conn.execute("PRAGMA synchronous = OFF")
    done, step, tablet = 0, 2000, 250
    while done < count:
        n = min(step, count - done)
        span = 365 * STORED_YEARS  # the history arrives in time order, as it did
        records = rss_records(model, n, seed=10_000 + done,
                              start=first + datetime.timedelta(days=span * done // count),
                              days=max(1, span * n // count))
        for i in range(0, n, tablet):
            k = (done + i) // tablet
            ingest(db, records[i:i + tablet], door="sync", device_id=f"prefill-{k}",
                   user=f"prefill-enumerator-{k}")
        done += n
        if done % 50_000 == 0 or done == count:
            print(f"  prefilled {done:,}/{count:,}", file=sys.stderr)
    print(file=sys.stderr)
    db.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--prefill", type=int, default=0)
    ap.add_argument("--clients", type=int, default=1, help="tablets pushing at once")
    args = ap.parse_args()
    model = convert_xlsform((ROOT / "forms/builtin/rss.md").read_bytes(), "rss.md").model
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db_path = folder / "bench.db"
        prepare_store(str(db_path))
        if args.prefill:
            prefill(db_path, model, args.prefill)
        server = LiveServer(db_path, workers=2).start()
        try:
            per_run = -(-args.records // args.batch)
            paths = [f.path for f in model.questions() if f.repeat is None]
            fieldsync, raw, su = [], [], []
            for run in range(args.runs):
                records = rss_records(model, args.records, seed=run)
                # Each run is another team's tablets: a tablet's density of
                # interviews a day stays what it is in the field.
                tablets = [(f"tablet-{run}-{i}",
                            server.token_for(f"enumerator-{run}-{i}", "enumerator"))
                           for i in range(per_run)]
                su.append(sqlite_utils_rate(records, paths, args.batch, folder))
                raw.append(raw_insert_rate(records, paths, args.batch, folder))
                fieldsync.append(http_rate(server, tablets, records, args.batch, args.clients))
                print(f"  run {run + 1}: fieldsync {fieldsync[-1]:,.0f}/s, "
                      f"sqlite-utils {su[-1]:,.0f}/s, prepared {raw[-1]:,.0f}/s",
                      file=sys.stderr)
        finally:
            server.stop()
    f, r, u = statistics.median(fieldsync), statistics.median(raw), statistics.median(su)
    print(f"stored before: {args.prefill:,} records; pushed {args.records:,} x {args.runs} "
          f"runs in batches of {args.batch} from {args.clients} client(s); "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"fieldsync push over HTTP:          {f:,.0f} records/s (median)")
    print(f"raw insert, sqlite-utils insert_all: {u:,.0f} rows/s (median), ratio {f / u:.2f}")
    print(f"raw insert, prepared INSERT loop:    {r:,.0f} rows/s (median), ratio {f / r:.2f}")


if __name__ == "__main__":
    main()

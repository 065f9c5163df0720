"""Benchmark: rescore N stored RSS records from the store with ``rescore_pending``.

    .venv/bin/python bench/rescore.py [N]

Ingests N synthetic RSS records (``bench/score.py``'s ``make_records``) into a
temporary store through the ingest pipeline, then, per run, publishes a new
spec version (rss-v1's codings under a new label, so every record changes) and
times ``server.scores.rescore.rescore_pending``: reading each record's answers from the
flat answers table, scoring it, keeping the scores under the new version and
updating the submission row with a new seq, in committed batches of 1,000.
Baseline, same store, same run: one transaction that SELECTs the same rows'
``scores`` column and UPDATEs it back (a JSON column rewritten, no scoring).
Prints records/s (median of the runs) for both and their ratio.
Figures go to docs/PERFORMANCE.md, section "Rescoring from the store".
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.score import make_records  # noqa: E402
from server.registry.models import model_for  # noqa: E402
from server.ingest.pipeline import ingest  # noqa: E402
from server.registry.publish import publish_builtin_rss  # noqa: E402
from server.scores.rescore import rescore_pending  # noqa: E402
from server.scores.specs import install_builtin_specs, scoring_publish  # noqa: E402
from server.store import open_db  # noqa: E402
from server.store.db import write_transaction  # noqa: E402

RUNS = 5
INGEST_BATCH = 500


def prepare(path: Path, n: int):
    db = open_db(path, migrate=True)
    version = publish_builtin_rss(db)["version"]
    install_builtin_specs(db)
    model = model_for(db, "rss", version)
    for i in range(0, n, INGEST_BATCH):
        chunk = make_records(model, min(INGEST_BATCH, n - i), seed=i)
        records = [{"instance_id": f"uuid:bench-{i + j}", "form_id": "rss",
                    "form_version": version,
                    "data": {**r["data"], "case_id": f"GIN-{i + j:06d}",
                             "interview_date": "2026-03-02"}}
                   for j, r in enumerate(chunk)]
        ingest(db, records, door="sync")
    return db


def rescore_run(db, label: str) -> float:
    doc = json.loads((ROOT / "scoring" / "specs" / "rss-v1.json").read_text())
    doc["version"] = label
    scoring_publish(db, doc, actor="bench")
    start = time.perf_counter()
    summary = rescore_pending(db, batch=1000)
    elapsed = time.perf_counter() - start
    assert summary["failed"] == 0 and summary["rescored"] > 0, summary
    return summary["rescored"] / elapsed


def baseline_run(db) -> float:
    start = time.perf_counter()
    with write_transaction(db):
        rows = db.execute("SELECT id, scores FROM submissions WHERE form_id = 'rss' "
                          "ORDER BY id").fetchall()
        db.conn.executemany("UPDATE submissions SET scores = ? WHERE id = ?",
                            [(scores, sid) for sid, scores in rows])
    return len(rows) / (time.perf_counter() - start)


def main(n: int = 20000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        db = prepare(Path(tmp) / "bench.db", n)
        ingest_s = time.perf_counter() - start
        rescored, baseline = [], []
        for run in range(RUNS):
            baseline.append(baseline_run(db))
            rescored.append(rescore_run(db, f"rss-bench-{run}"))
        db.close()
    r, b = statistics.median(rescored), statistics.median(baseline)
    print(f"python {platform.python_version()} on {platform.machine()}, {n} records "
          f"(ingested in {ingest_s:.0f} s), median of {RUNS} runs")
    print(f"rescore_pending (rss-v1 codings, batches of 1000): {r:,.0f} records/s "
          f"(runs: {', '.join(f'{x:,.0f}' for x in rescored)})")
    print(f"baseline SELECT + UPDATE of the scores column, one transaction: {b:,.0f} records/s")
    print(f"ratio rescoring / baseline: {r / b:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)

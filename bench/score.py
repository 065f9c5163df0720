"""Benchmark: score N synthetic RSS records in memory through the scoring API.

    .venv/bin/python bench/score.py [N]

Prints records/s (median of 5 runs) for ``scoring.score_many`` over nested RSS
records, beside a baseline (``json.loads`` of the same records, one per line) and
their ratio. The store-backed rescoring benchmark can reuse ``make_records``.
Figures go to docs/PERFORMANCE.md, section "Scoring (bench/score.py)".
"""

from __future__ import annotations

import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forms.xlsform import convert_xlsform  # noqa: E402
from scoring import load_spec, score_many  # noqa: E402

RUNS = 5


def make_records(model, n: int, seed: int = 7) -> list[dict]:
    """N nested RSS records with random answers (some missing), as ingest stores them."""
    rng = random.Random(seed)
    groups = ("econ", "social", "psycho")
    records = []
    for i in range(n):
        data = {"case_id": f"GIN-{i:06d}", "survey_round": rng.choice(["baseline", "6m"]),
                "country_of_return": rng.choice(["GIN", "SEN", "ETH"]), "consent": "yes"}
        for fld in model.questions():
            if fld.parent not in groups or not fld.list_name or rng.random() < 0.05:
                continue
            names = [c.name for c in model.choices[fld.list_name]]
            answer = " ".join(rng.sample(names[:6], 2)) if fld.is_select_multiple else rng.choice(names)
            data.setdefault(fld.parent, {})[fld.name] = answer
        records.append({"instance_id": f"uuid:{i}", "data": data})
    return records


def rate(fn, n: int) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return n / statistics.median(times)


def main(n: int = 20000) -> None:
    form = convert_xlsform((ROOT / "forms" / "builtin" / "rss.md").read_bytes(), "rss.md")
    model, spec = form.model, load_spec("rss-v1")
    records = make_records(model, n)
    lines = [json.dumps(r) for r in records]
    list(score_many(spec, model, records[:10]))  # compile and cache the plan
    scored = rate(lambda: list(score_many(spec, model, records)), n)
    baseline = rate(lambda: [json.loads(line) for line in lines], n)
    print(f"python {platform.python_version()} on {platform.machine()}, {n} records, "
          f"median of {RUNS} runs")
    print(f"score_many (rss-v1, 31 indicators): {scored:,.0f} records/s")
    print(f"baseline json.loads of the same records: {baseline:,.0f} records/s")
    print(f"ratio scoring / json.loads: {scored / baseline:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)

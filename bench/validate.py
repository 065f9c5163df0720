"""Validations per second of RSS-form records on one core.

    .venv/bin/python bench/validate.py [--records 2000] [--runs 7]

Builds seeded, varied RSS records (mostly complete, some with refused consent,
wrong codes or bad dates), then times ``validate_record`` over all of them,
several runs, and prints the median rate. Baseline, same run and same records:
``json.loads`` of each record's JSON plus a plain walk over its fields.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forms.validate import validate_record  # noqa: E402
from forms.xlsform import convert_xlsform  # noqa: E402

RSS_MD = ROOT / "forms" / "builtin" / "rss.md"
RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)


def make_records(model, count: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(count):
        consent = "no" if rng.random() < 0.05 else "yes"
        day = 1 + i % 28
        data = {
            "start": f"2024-05-{day:02d}T09:00:00.000+00:00",
            "end": f"2024-05-{day:02d}T09:45:00.000+00:00",
            "today": f"2024-05-{day:02d}", "deviceid": f"collect:{i % 40}", "username": "enum",
            "case_id": f"GIN-2024-{i:05d}", "survey_round": rng.choice(["baseline", "6m", "12m"]),
            "interview_date": f"2024-05-{day:02d}", "return_date": "2023-11-01",
            "country_of_return": rng.choice(["GIN", "SEN", "ETH", "gin"]),
            "country_of_migration": "LBY", "sex": rng.choice(["female", "male"]),
            "age": str(rng.randint(16, 70)), "consent": consent,
        }
        data["respondent_key"] = f"{data['case_id']}|{data['survey_round']}"
        data["scoring_spec"] = "rss-v1"
        if consent == "yes":
            for f in model.fields.values():
                if f.parent in ("econ", "social", "psycho") and f.list_name:
                    names = [c.name for c in model.choices[f.list_name]]
                    if rng.random() < 0.03:
                        continue
                    value = rng.choice(names)
                    if f.control == "select":
                        value = " ".join(rng.sample(names[:5], rng.randint(1, 2)))
                    data.setdefault(f.parent, {})[f.name] = value
        records.append(data)
    return records


def walk(value) -> int:
    if isinstance(value, dict):
        return sum(walk(v) for v in value.values())
    if isinstance(value, list):
        return sum(walk(v) for v in value)
    return 1


def timed(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    model = convert_xlsform(RSS_MD.read_bytes(), "rss.md").model
    records = make_records(model, args.records)
    texts = [json.dumps(r) for r in records]
    findings = sum(len(validate_record(model, r, now=RECEIVED)) for r in records)

    rates, base = [], []
    for _ in range(args.runs):
        rates.append(timed(lambda r: validate_record(model, r, now=RECEIVED), records))
        base.append(timed(lambda t: walk(json.loads(t)), texts))
    rate, baseline = statistics.median(rates), statistics.median(base)
    print(f"form: {RSS_MD.relative_to(ROOT)} ({len(model.fields)} fields), "
          f"records: {len(records)}, findings: {findings}, runs: {args.runs}")
    print(f"validate_record: {rate:,.0f} records/s (median)")
    print(f"baseline json.loads + field walk: {baseline:,.0f} records/s (median)")
    print(f"ratio baseline/validate: {baseline / rate:.1f}x")


if __name__ == "__main__":
    main()

"""Builders for the scoring-in-the-server tests: RSS records, spec versions, pushes."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

from tests.helpers.records import batch
from tests.helpers.rss_records import WORST, build

RSS_V1 = Path(__file__).resolve().parents[2] / "scoring" / "specs" / "rss-v1.json"

# rss-v1 codings; WORST answers with econ_satisfaction at this choice give a
# composite of 0.05 x value in rss-v1 and 0.10 x value in rss-v2 (economic: 0.15 x value).
SATISFACTION = {"very_satisfied": 1, "satisfied": 0.75, "neutral": 0.5,
                "dissatisfied": 0.25, "very_dissatisfied": 0}


def spec_doc(version: str = "rss-v2") -> dict:
    """rss-v1 with econ_satisfaction's composite weight 0.05 -> 0.10 and
    food_reduction's 0.08 -> 0.03 (the composite weights still sum to 1)."""
    doc = json.loads(RSS_V1.read_text(encoding="utf-8"))
    doc["version"] = version
    for ind in doc["indicators"]:
        if ind["name"] == "econ_satisfaction":
            ind["weights"]["composite"] = 0.10
        elif ind["name"] == "food_reduction":
            ind["weights"]["composite"] = 0.03
    return doc


def satisfaction_record(choice: str, *, country: str = "GIN", interview: str = "2026-02-10",
                        round_: str = "6m", case_id: str | None = None) -> dict:
    """WORST answers except econ_satisfaction; a unique case_id unless given."""
    data = build(WORST, econ_satisfaction=choice)
    data.update(case_id=case_id or f"{country}-{uuid.uuid4().hex[:8]}",
                country_of_return=country, interview_date=interview,
                return_date="2025-09-01", survey_round=round_)
    return data


def envelope(data: dict, version: str, instance_id: str | None = None, **extra) -> dict:
    return {"instance_id": instance_id or f"uuid:{uuid.uuid4()}", "form_id": "rss",
            "form_version": version, "data": copy.deepcopy(data), **extra}


def push(srv, session, records: list[dict]) -> list[dict]:
    r = session.post(f"{srv.url}/api/v1/sync/push", json=batch(records), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["results"]

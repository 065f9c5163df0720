"""Trends: groups with n, mean, median and a 95% interval of each score."""

from __future__ import annotations

import math
import statistics

import pytest

from scoring import summarise
from scoring.trends import months_between, t975


def row(country, interview, returned, rnd, composite, **scores):
    return {"country_of_return": country, "interview_date": interview, "return_date": returned,
            "survey_round": rnd, "scores": {"composite": composite, **scores}}


ROWS = [
    row("GIN", "2026-01-15", "2025-12-01", "baseline", 0.5),
    row("GIN", "2026-02-20", "2025-06-10", "6m", 0.7),
    row("SEN", "2026-04-02", "2025-03-01", "12m", 0.6),
    row("SEN", "2026-05-30", "2024-01-01", "12m", None),
]


def test_groups_by_country_with_n_mean_median_and_t_interval():
    groups = summarise(ROWS, by=["country"])
    gin = groups[0]
    assert gin["group"] == {"country_of_return": "GIN"}
    composite = gin["scores"]["composite"]
    half = 12.706 * statistics.stdev([0.5, 0.7]) / math.sqrt(2)
    assert composite["n"] == 2
    assert composite["mean"] == pytest.approx(0.6)
    assert composite["median"] == pytest.approx(0.6)
    assert composite["ci95"] == pytest.approx([0.6 - half, 0.6 + half], abs=1e-6)


def test_unscored_rows_count_in_the_group_but_not_in_the_score():
    sen = summarise(ROWS, by=["country"])[1]
    assert sen["n"] == 2
    assert sen["scores"]["composite"]["n"] == 1
    assert sen["scores"]["composite"]["ci95"] is None
    assert sen["scores"]["economic"] == {"n": 0, "mean": None, "median": None, "ci95": None}


def test_groups_by_quarter_of_interview_and_round():
    groups = summarise(ROWS, by=["quarter", "round"])
    assert [g["group"] for g in groups] == [
        {"quarter": "2026-Q1", "survey_round": "6m"},
        {"quarter": "2026-Q1", "survey_round": "baseline"},
        {"quarter": "2026-Q2", "survey_round": "12m"},
    ]


def test_groups_by_months_since_return_in_six_month_bands():
    groups = summarise(ROWS, by=["months_since_return"])
    assert {g["group"]["months_since_return"]: g["n"] for g in groups} == {
        "0-5": 1, "6-11": 1, "12-17": 1, "24+": 1}


def test_rows_without_dates_group_under_none():
    groups = summarise([{"scores": {"composite": 0.4}}], by=["quarter", "months_since_return"])
    assert groups[0]["group"] == {"quarter": None, "months_since_return": None}


def test_scores_may_be_top_level_keys_and_context_may_sit_in_data():
    rows = [{"data": {"country_of_return": "ETH"}, "composite": 0.3},
            {"data": {"country_of_return": "ETH"}, "composite": 0.5}]
    [eth] = summarise(rows, by=["country"], scores=["composite"])
    assert eth["group"] == {"country_of_return": "ETH"}
    assert eth["scores"]["composite"]["mean"] == pytest.approx(0.4)


def test_large_groups_use_the_normal_quantile():
    values = [i / 200 for i in range(200)]
    [group] = summarise([{"scores": {"composite": v}} for v in values], by=[],
                        scores=["composite"])
    stats = group["scores"]["composite"]
    half = 1.959964 * statistics.stdev(values) / math.sqrt(200)
    assert stats["ci95"] == pytest.approx([stats["mean"] - half, stats["mean"] + half],
                                          abs=1e-5)


def test_t_quantiles_match_the_table_and_interpolate():
    assert t975(1) == 12.706
    assert t975(30) == 2.042
    assert 2.000 < t975(45) < 2.021
    assert t975(1000) == pytest.approx(1.959964, abs=1e-6)


def test_months_between_counts_whole_months():
    from datetime import date

    assert months_between(date(2025, 9, 15), date(2026, 3, 14)) == 5
    assert months_between(date(2025, 9, 15), date(2026, 3, 15)) == 6


def test_unknown_grouping_is_refused():
    with pytest.raises(ValueError, match="unknown grouping 'district'"):
        summarise(ROWS, by=["district"])

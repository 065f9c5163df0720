"""The compiled plan: remembered answers never change a result, rounding, fallbacks."""

from __future__ import annotations

import json

import pytest

from scoring import parse_spec, score_record
from scoring.engine import _MAX_MEMO, plan_for
from scoring.spec import SPECS_DIR

from tests.helpers.rss_records import BEST, WORST, build


@pytest.fixture
def fresh_spec():
    """rss-v1 parsed anew, so its plan starts with nothing remembered."""
    return parse_spec(json.loads((SPECS_DIR / "rss-v1.json").read_text(encoding="utf-8")))


def test_a_record_scores_the_same_before_and_after_its_answers_are_remembered(
        fresh_spec, model):
    records = [
        build(BEST), build(WORST), build(BEST, econ_satisfaction="ecstatic"),
        build(BEST, productive_assets="land ufo"), build(BEST, access_health="  bon "),
        build(WORST, has_debt="no", debt_vs_spending=None), build(BEST, consent="no"),
    ]
    first = [json.dumps(score_record(fresh_spec, model, d)) for d in records]
    again = [json.dumps(score_record(fresh_spec, model, d)) for d in records]
    assert again == first


def test_a_remembered_unknown_answer_still_warns_every_time(fresh_spec, model):
    data = build(BEST, econ_satisfaction="ecstatic")
    for _ in range(3):
        assert score_record(fresh_spec, model, data)["warnings"] == [
            "econ_satisfaction: answer 'ecstatic' has no value; scored as missing"]


def test_an_unanswered_item_is_not_remembered_as_not_asked(fresh_spec, model):
    not_asked = build(BEST, has_debt="no", debt_vs_spending="")
    missing = build(BEST, has_debt="yes", debt_vs_spending="")
    values = [score_record(fresh_spec, model, d)["indicators"]["debt_vs_spending"]
              for d in (not_asked, missing, not_asked)]
    assert values == [1, 0.5, 1]


def test_free_text_answers_do_not_pile_up(fresh_spec, model):
    for i in range(_MAX_MEMO * 2):
        result = score_record(fresh_spec, model, build(BEST, econ_satisfaction=f"text {i}"))
        assert result["warnings"] == [
            f"econ_satisfaction: answer 'text {i}' has no value; scored as missing"]
    plan = plan_for(fresh_spec, model)
    assert all(len(memo) <= _MAX_MEMO for _, memo, *_ in plan.steps if memo is not None)


def test_item_values_with_more_than_six_decimals_are_reported_rounded(model):
    doc = json.loads((SPECS_DIR / "rss-v1.json").read_text(encoding="utf-8"))
    doc["value_sets"][0]["values"]["satisfied"] = 1 / 3
    spec = parse_spec(doc)
    result = score_record(spec, model, build(BEST, econ_satisfaction="satisfied"))
    assert not plan_for(spec, model).items_rounded
    assert result["indicators"]["econ_satisfaction"] == 0.333333
    assert result["scores"]["economic"] == round(0.85 + 0.15 / 3, 6)


def test_a_group_that_is_not_an_object_falls_back_to_flat_keys(spec, model):
    data = {"consent": "yes", "econ": "oops", "econ/can_borrow": "no", "food_reduction": "never"}
    indicators = score_record(spec, model, data)["indicators"]
    assert (indicators["econ_satisfaction"], indicators["can_borrow"],
            indicators["food_reduction"]) == (0.5, 0, 1)

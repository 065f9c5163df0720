"""Hand-computed rss-v1 scores for edge-case respondents."""

from __future__ import annotations

import pytest

from scoring import score_record

from tests.helpers.rss_records import BEST, WORST, build


def scores(spec, model, data):
    return score_record(spec, model, data)["scores"]


def indicators(spec, model, data):
    return score_record(spec, model, data)["indicators"]


def approx(**expected):
    return pytest.approx(expected, abs=1e-6)


def test_all_best_answers_score_one_everywhere(spec, model):
    assert scores(spec, model, build(BEST)) == approx(
        economic=1, social=1, psychosocial=1, composite=1
    )


def test_all_worst_answers_score_zero_everywhere(spec, model):
    assert scores(spec, model, build(WORST)) == approx(
        economic=0, social=0, psychosocial=0, composite=0
    )


def test_all_dont_know_or_refused_scores_half_except_remigration(spec, model):
    data = build({
        "econ": {
            "econ_satisfaction": "refused", "food_reduction": "refused",
            "can_borrow": "dont_know", "borrow_frequency": "refused", "has_debt": "refused",
            "access_employment": "dont_know", "currently_working": "refused",
            "productive_assets": "dont_know", "looking_for_job": "dont_know",
        },
        "social": {
            name: "dont_know" for name in BEST["social"]
            if name not in ("children_in_school", "has_id_document")
        },
        "psycho": {
            "support_network": "dont_know", "community_belonging": "refused",
            "physical_safety": "refused", "family_conflict": "refused",
            "discrimination": "refused", "distress": "refused",
            "wants_psych_support": "dont_know", "able_to_stay": "dont_know",
        },
    })
    # able_to_stay dont_know -> 0 (reference coding), reason_to_leave missing -> 0,
    # so remigration = 0; psychosocial = 0.85 * 0.5; composite = 0.165 + 0.165 + 0.24 * 0.5.
    assert scores(spec, model, data) == approx(
        economic=0.5, social=0.5, psychosocial=0.425, composite=0.45
    )


def test_all_refused_including_able_to_stay_scores_half(spec, model):
    data = build({}, able_to_stay="refused")
    assert scores(spec, model, data) == approx(
        economic=0.5, social=0.5, psychosocial=0.5, composite=0.5
    )


def test_no_answers_at_all_score_half_as_missing(spec, model):
    result = score_record(spec, model, {"consent": "yes"})
    assert result["scores"] == approx(economic=0.5, social=0.5, psychosocial=0.5, composite=0.5)
    assert result["indicators"]["reason_to_leave"] == 0
    assert result["indicators"]["remigration"] == 0.5


@pytest.mark.parametrize(
    ("has_debt", "debt_vs_spending", "value", "economic", "composite"),
    [
        ("yes", "spending_larger", 1, 1, 1),
        ("yes", "debt_larger", 0, 0.92, 0.96),
        ("yes", "refused", 0.5, 0.96, 0.98),
        ("yes", None, 0.5, 0.96, 0.98),
        ("no", None, 1, 1, 1),
        ("refused", None, 0.5, 0.96, 0.98),
        (None, None, 0.5, 0.96, 0.98),
    ],
    ids=["spending_larger", "debt_larger", "debt_refused", "debt_unanswered",
         "no_debt_not_asked_is_one", "has_debt_refused_is_missing", "has_debt_missing"],
)
def test_debt_paths(spec, model, has_debt, debt_vs_spending, value, economic, composite):
    data = build(BEST, has_debt=has_debt, debt_vs_spending=debt_vs_spending)
    result = score_record(spec, model, data)
    assert result["indicators"]["debt_vs_spending"] == value
    assert result["scores"]["economic"] == pytest.approx(economic)
    assert result["scores"]["composite"] == pytest.approx(composite)


def test_an_answer_given_despite_no_debt_is_scored_as_given(spec, model):
    data = build(BEST, has_debt="no", debt_vs_spending="debt_larger")
    assert indicators(spec, model, data)["debt_vs_spending"] == 0


@pytest.mark.parametrize(
    ("able_to_stay", "reason_to_leave", "remigration"),
    [
        ("yes", None, 1),
        ("no", "wish_to_leave", 1),
        ("no", "need_to_leave", 0),
        ("no", None, 0),
        ("dont_know", "wish_to_leave", 1),
        ("dont_know", "need_to_leave", 0),
        ("dont_know", None, 0),
        ("refused", "wish_to_leave", 1),
        ("refused", "need_to_leave", 0.5),
        ("refused", None, 0.5),
        (None, None, 0.5),
    ],
)
def test_remigration_paths(spec, model, able_to_stay, reason_to_leave, remigration):
    data = build(BEST, able_to_stay=able_to_stay, reason_to_leave=reason_to_leave)
    result = score_record(spec, model, data)
    assert result["indicators"]["remigration"] == remigration
    assert result["scores"]["psychosocial"] == pytest.approx(0.85 + 0.15 * remigration)
    assert result["scores"]["composite"] == pytest.approx(0.90 + 0.10 * remigration)


def test_wish_to_leave_with_refused_stay_is_capped_at_one(spec, model):
    data = build(BEST, able_to_stay="refused", reason_to_leave="wish_to_leave")
    result = score_record(spec, model, data)["indicators"]
    assert (result["able_to_stay"], result["reason_to_leave"], result["remigration"]) == (
        0.5, 1, 1)


@pytest.mark.parametrize(
    ("assets", "value"),
    [
        ("none", 0),
        ("dont_know", 0.5),
        ("refused", 0.5),
        ("land vehicle other", 1),
        ("business_premises", 1),
        ("land dont_know", 1),
        (None, 0.5),
    ],
    ids=["none", "dont_know_alone", "refused_alone", "several", "one", "asset_and_dont_know",
         "missing"],
)
def test_productive_assets_any_of(spec, model, assets, value):
    result = score_record(spec, model, build(BEST, productive_assets=assets))
    assert result["indicators"]["productive_assets"] == value
    assert result["scores"]["economic"] == pytest.approx(1 - 0.11 * (1 - value))
    assert result["scores"]["composite"] == pytest.approx(1 - 0.03 * (1 - value))


def test_productive_assets_accepts_a_json_list(spec, model):
    data = build(BEST, productive_assets=["land", "vehicle"])
    assert indicators(spec, model, data)["productive_assets"] == 1


def test_no_school_age_children_scores_half(spec, model):
    result = score_record(spec, model, build(BEST, children_in_school="no_school_age_children"))
    assert result["indicators"]["children_in_school"] == 0.5
    assert result["scores"]["social"] == pytest.approx(1 - 0.07 * 0.5)
    assert result["scores"]["composite"] == pytest.approx(1 - 0.02 * 0.5)


@pytest.mark.parametrize(("answer", "value"), [("all", 1), ("some", 0.5), ("none", 0)])
def test_children_in_school_codings(spec, model, answer, value):
    assert indicators(spec, model, build(BEST, children_in_school=answer))[
        "children_in_school"] == value


def test_zero_weight_items_feed_services_access_only(spec, model):
    result = score_record(spec, model, build(BEST, access_water="very_poor"))
    assert result["indicators"]["access_water"] == 0
    assert result["indicators"]["services_access"] == pytest.approx(5 / 6, abs=1e-6)
    assert result["scores"]["social"] == pytest.approx(1 - 0.08 / 6, abs=1e-6)
    assert result["scores"]["composite"] == pytest.approx(1 - 0.04 / 6, abs=1e-6)
    assert result["scores"]["economic"] == 1


def test_discrimination_counts_in_psychosocial_but_not_composite(spec, model):
    result = score_record(spec, model, build(BEST, discrimination="all_the_time"))
    assert result["scores"]["psychosocial"] == pytest.approx(0.89)
    assert result["scores"]["composite"] == 1


@pytest.mark.parametrize(
    ("field", "answer", "value"),
    [
        ("econ_satisfaction", "satisfied", 0.75), ("econ_satisfaction", "neutral", 0.5),
        ("econ_satisfaction", "dissatisfied", 0.25), ("food_reduction", "rarely", 0.75),
        ("food_reduction", "sometimes", 0.5), ("food_reduction", "often", 0.25),
        ("social_activities", "often", 0.75), ("social_activities", "rarely", 0.25),
        ("access_health", "good", 0.75), ("access_health", "fair", 0.5),
        ("access_health", "poor", 0.25), ("community_belonging", "agree", 0.75),
        ("community_belonging", "disagree", 0.25), ("physical_safety", "mostly_safe", 0.75),
        ("physical_safety", "mostly_unsafe", 0.25), ("discrimination", "rarely", 0.75),
        ("discrimination", "sometimes", 0.5), ("discrimination", "very_often", 0.25),
        ("currently_working", "not_applicable", 0.5), ("looking_for_job", "dont_know", 0.5),
        ("can_borrow", "refused", 0.5),
    ],
)
def test_five_point_and_item_codings(spec, model, field, answer, value):
    assert indicators(spec, model, build(BEST, **{field: answer}))[field] == value


def test_no_consent_is_not_scored(spec, model):
    result = score_record(spec, model, build(BEST, consent="no"))
    assert result["scores"] == dict.fromkeys(
        ["economic", "social", "psychosocial", "composite"])
    assert result["indicators"] == {}
    assert "consent" in result["warnings"][0]


def test_missing_consent_is_still_scored(spec, model):
    data = build(BEST, consent=None)
    assert scores(spec, model, data)["composite"] == 1


def test_fields_keyed_by_bare_name_or_path_score_like_nested(spec, model):
    nested = build(WORST, econ_satisfaction="satisfied", able_to_stay="refused")
    flat_names = {k: v for g in ("econ", "social", "psycho") for k, v in nested[g].items()}
    flat_paths = {f"{g}/{k}": v for g in ("econ", "social", "psycho")
                  for k, v in nested[g].items()}
    expected = score_record(spec, model, nested)
    assert score_record(spec, model, {"consent": "yes", **flat_names}) == expected
    assert score_record(spec, model, {"consent": "yes", **flat_paths}) == expected


def test_choice_labels_in_any_language_map_back_to_names(spec, model):
    data = build(BEST, econ_satisfaction="Satisfied", access_health="  bon ",
                 productive_assets="Aucun")
    result = indicators(spec, model, data)
    assert (result["econ_satisfaction"], result["access_health"],
            result["productive_assets"]) == (0.75, 0.75, 0)


def test_an_answer_that_is_not_a_choice_is_scored_missing_with_a_warning(spec, model):
    result = score_record(spec, model, build(BEST, econ_satisfaction="ecstatic"))
    assert result["indicators"]["econ_satisfaction"] == 0.5
    assert result["warnings"] == [
        "econ_satisfaction: answer 'ecstatic' has no value; scored as missing"]


def test_result_names_the_spec_version(spec, model):
    assert score_record(spec, model, build(BEST))["scoring_version"] == "rss-v1"

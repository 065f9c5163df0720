"""RSS test records: all-best and all-worst answers and a builder (not a test module)."""

from __future__ import annotations

import copy

BEST = {
    "econ": {
        "econ_satisfaction": "very_satisfied", "food_reduction": "never", "can_borrow": "yes",
        "borrow_frequency": "never", "has_debt": "no", "access_employment": "very_good",
        "currently_working": "yes", "productive_assets": "land livestock",
        "looking_for_job": "no",
    },
    "social": {
        "access_housing": "very_good", "housing_condition": "very_good",
        "access_education": "very_good", "children_in_school": "all",
        "access_justice": "very_good", "has_id_document": "yes",
        "access_documentation": "very_good", "access_water": "very_good",
        "access_health": "very_good", "health_quality": "very_good",
    },
    "psycho": {
        "social_activities": "very_often", "support_network": "very_good",
        "community_belonging": "strongly_agree", "physical_safety": "very_safe",
        "family_conflict": "never", "discrimination": "never", "distress": "never",
        "wants_psych_support": "no", "able_to_stay": "yes",
    },
}
WORST = {
    "econ": {
        "econ_satisfaction": "very_dissatisfied", "food_reduction": "very_often",
        "can_borrow": "no", "borrow_frequency": "very_often", "has_debt": "yes",
        "debt_vs_spending": "debt_larger", "access_employment": "very_poor",
        "currently_working": "no", "productive_assets": "none", "looking_for_job": "yes",
    },
    "social": {
        "access_housing": "very_poor", "housing_condition": "very_poor",
        "access_education": "very_poor", "children_in_school": "none",
        "access_justice": "very_poor", "has_id_document": "no",
        "access_documentation": "very_poor", "access_water": "very_poor",
        "access_health": "very_poor", "health_quality": "very_poor",
    },
    "psycho": {
        "social_activities": "never", "support_network": "very_poor",
        "community_belonging": "strongly_disagree", "physical_safety": "very_unsafe",
        "family_conflict": "very_often", "discrimination": "all_the_time",
        "distress": "very_often", "wants_psych_support": "yes", "able_to_stay": "no",
        "reason_to_leave": "need_to_leave",
    },
}


def build(base: dict, **changes) -> dict:
    """A nested RSS record: consent yes, context fields, ``base`` answers, then changes.

    ``changes`` key fields by bare name; ``None`` removes the answer.
    """
    data = {
        "case_id": "GIN-2026-00017", "survey_round": "6m", "interview_date": "2026-03-02",
        "return_date": "2025-09-01", "country_of_return": "GIN", "consent": "yes",
        **copy.deepcopy(base),
    }
    for name, value in changes.items():
        group = next((g for g in ("econ", "social", "psycho") if name in _GROUP_OF[g]), None)
        target = data.setdefault(group, {}) if group else data
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value
    return data


_GROUP_OF = {g: set(BEST[g]) | set(WORST[g]) for g in ("econ", "social", "psycho")}

"""Validation of records of the built-in RSS form (forms/builtin/rss.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from forms.expressions import check_form
from forms.validate import evaluate_calculates, validate_record
from forms.xlsform import convert_xlsform

RSS_MD = Path(__file__).resolve().parents[2] / "forms" / "builtin" / "rss.md"


@pytest.fixture(scope="module")
def rss():
    return convert_xlsform(RSS_MD.read_bytes(), "rss.md").model


def rss_record(model, **top):
    """A complete consenting interview: the first choice of every scored question."""
    data = {
        "start": "2024-05-06T09:00:00.000+00:00", "end": "2024-05-06T09:40:00.000+00:00",
        "today": "2024-05-06", "deviceid": "collect:abc", "username": "enum1",
        "case_id": "GIN-2024-00017", "survey_round": "baseline", "interview_date": "2024-05-06",
        "return_date": "2023-11-01", "country_of_return": "GIN", "country_of_migration": "LBY",
        "sex": "female", "age": "29", "consent": "yes",
        "respondent_key": "GIN-2024-00017|baseline", "scoring_spec": "rss-v1",
    }
    for f in model.fields.values():
        if f.parent in ("econ", "social", "psycho") and f.list_name and not f.relevant:
            data.setdefault(f.parent, {})[f.name] = model.choices[f.list_name][0].name
    data["econ"]["has_debt"] = "yes"
    data["econ"]["debt_vs_spending"] = model.choices["debt_vs_spending"][0].name
    data["psycho"]["able_to_stay"] = "no"
    data["psycho"]["reason_to_leave"] = model.choices["reason_to_leave"][0].name
    data.update(top)
    return data


def codes(findings):
    return [(f.path, f.code) for f in findings]


def test_rss_form_expressions_are_all_supported(rss):
    assert check_form(rss) == []


def test_complete_rss_interview_has_no_findings(rss):
    assert validate_record(rss, rss_record(rss)) == []


def test_rss_record_keyed_by_bare_names_validates_like_the_nested_one(rss):
    nested = rss_record(rss)
    flat = {k: v for k, v in nested.items() if not isinstance(v, dict)}
    for group in ("econ", "social", "psycho"):
        flat.update(nested[group])
    assert validate_record(rss, flat) == []


def test_refused_consent_makes_the_answered_sections_not_relevant(rss):
    findings = validate_record(rss, rss_record(rss, consent="no"))
    assert codes(findings) == [("econ", "answered_not_relevant"),
                               ("social", "answered_not_relevant"),
                               ("psycho", "answered_not_relevant")]


def test_refused_consent_with_no_answers_is_clean(rss):
    data = rss_record(rss, consent="no", no_consent="moved away")
    for group in ("econ", "social", "psycho"):
        del data[group]
    assert validate_record(rss, data) == []


@pytest.mark.parametrize(("changes", "path"), [
    ({"country_of_return": "gin"}, "country_of_return"),
    ({"country_of_migration": "Libya"}, "country_of_migration"),
    ({"interview_date": "2024-05-07"}, "interview_date"),
    ({"return_date": "2024-06-01"}, "return_date"),
    ({"age": "130"}, "age"),
    ({"case_id": "   "}, "case_id"),
])
def test_rss_constraints_are_enforced(rss, changes, path):
    assert (path, "constraint_failed") in codes(validate_record(rss, rss_record(rss, **changes)))


def test_productive_assets_none_cannot_be_combined_with_an_asset(rss):
    data = rss_record(rss)
    data["econ"]["productive_assets"] = "none land"
    assert codes(validate_record(rss, data)) == [("econ/productive_assets", "constraint_failed")]


def test_debt_question_answered_without_debt_is_not_relevant(rss):
    data = rss_record(rss)
    data["econ"]["has_debt"] = "no"
    assert codes(validate_record(rss, data)) == [("econ/debt_vs_spending",
                                                  "answered_not_relevant")]


def test_respondent_key_is_recomputed_and_a_wrong_one_is_flagged(rss):
    data = rss_record(rss, respondent_key="GIN-2024-00017|6m")
    assert codes(validate_record(rss, data)) == [("respondent_key", "calculate_mismatch")]
    assert evaluate_calculates(rss, data)["respondent_key"] == "GIN-2024-00017|baseline"

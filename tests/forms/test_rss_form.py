"""The built-in RSS XLSForm: converts cleanly and asks what the RSS reference asks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from forms.xlsform import convert_xlsform

RSS_MD = Path(__file__).resolve().parents[2] / "forms" / "builtin" / "rss.md"

SCORED_FIELDS = {
    "econ": [
        "econ_satisfaction", "food_reduction", "can_borrow", "borrow_frequency", "has_debt",
        "debt_vs_spending", "access_employment", "currently_working", "productive_assets",
        "looking_for_job",
    ],
    "social": [
        "access_housing", "housing_condition", "access_education", "children_in_school",
        "access_justice", "has_id_document", "access_documentation", "access_water",
        "access_health", "health_quality",
    ],
    "psycho": [
        "social_activities", "support_network", "community_belonging", "physical_safety",
        "family_conflict", "discrimination", "distress", "wants_psych_support",
        "able_to_stay", "reason_to_leave",
    ],
}
LISTS = {
    "satisfaction5": ["very_satisfied", "satisfied", "neutral", "dissatisfied",
                      "very_dissatisfied", "refused"],
    "frequency5": ["never", "rarely", "sometimes", "often", "very_often", "refused"],
    "participation5": ["very_often", "often", "sometimes", "rarely", "never"],
    "rating5": ["very_good", "good", "fair", "poor", "very_poor", "dont_know", "refused"],
    "agreement5": ["strongly_agree", "agree", "neutral", "disagree", "strongly_disagree",
                   "dont_know", "refused"],
    "safety5": ["very_safe", "mostly_safe", "neutral", "mostly_unsafe", "very_unsafe",
                "refused"],
    "discrimination5": ["never", "rarely", "sometimes", "very_often", "all_the_time",
                        "refused"],
    "productive_assets": ["land", "livestock", "tools_equipment", "vehicle",
                          "business_premises", "other", "none", "dont_know", "refused"],
    "survey_round": ["baseline", "6m", "12m", "18m"],
}


@pytest.fixture(scope="module")
def compiled():
    return convert_xlsform(RSS_MD.read_bytes(), "rss.md")


def test_rss_form_converts_without_warnings(compiled):
    assert compiled.warnings == []
    assert compiled.form_id == "rss"
    assert compiled.version.isdigit() and len(compiled.version) == 10
    assert compiled.model.languages == ["English (en)", "French (fr)"]


def test_every_canonical_field_is_in_its_group(compiled):
    for group, names in SCORED_FIELDS.items():
        assert compiled.model.field(group).kind == "group"
        for name in names:
            field = compiled.model.field(f"{group}/{name}")
            assert field is not None, name
            assert compiled.model.resolve(name) is field
            assert field.labels.keys() == {"English (en)", "French (fr)"}, name


def test_choice_lists_have_exactly_the_reference_choices(compiled):
    for list_name, names in LISTS.items():
        assert [c.name for c in compiled.model.choices[list_name]] == names


def test_productive_assets_is_select_multiple(compiled):
    assert compiled.model.resolve("productive_assets").is_select_multiple


def test_context_fields_are_present_with_types(compiled):
    m = compiled.model
    assert m.field("case_id").required == "true()"
    assert m.field("survey_round").list_name == "survey_round"
    assert m.field("interview_date").type == "date"
    assert m.field("return_date").type == "date"
    assert "regex" in m.field("country_of_return").constraint
    assert m.field("age").type == "int" and m.field("age").constraint
    for name in ("country_of_migration", "sex", "consent", "start", "end", "deviceid",
                 "username"):
        assert m.field(name) is not None, name


def test_skip_logic_gates_groups_on_consent_and_follow_ups_on_filters(compiled):
    m = compiled.model
    for group in SCORED_FIELDS:
        assert m.field(group).relevant.replace(" ", "") == "/data/consent='yes'"
    assert m.resolve("debt_vs_spending").relevant.replace(" ", "") == "/data/econ/has_debt='yes'"
    assert (
        m.resolve("reason_to_leave").relevant.replace(" ", "")
        == "/data/psycho/able_to_stay!='yes'"
    )


def test_form_declares_its_scoring_spec_and_respondent_key(compiled):
    m = compiled.model
    assert m.field("scoring_spec").calculate == "'rss-v1'"
    key = m.field("respondent_key").calculate.replace(" ", "")
    assert key == "concat(/data/case_id,'|',/data/survey_round)"


@pytest.mark.skipif(shutil.which("java") is None, reason="java not installed")
def test_rss_xform_passes_odk_validate(compiled, tmp_path):
    import pyxform.validators.odk_validate as odk

    jar = Path(odk.__file__).parent / "bin" / "ODK_Validate.jar"
    if not jar.exists():
        pytest.skip("ODK_Validate.jar not shipped with this pyxform")
    xml = tmp_path / "rss.xml"
    xml.write_text(compiled.xform, encoding="utf-8")
    run = subprocess.run(
        ["java", "-jar", str(jar), str(xml)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Xform is valid" in run.stdout


def test_a_complete_rss_record_validates_and_computes_its_respondent_key(compiled):
    from forms import validate
    data = {
        "case_id": "GIN-2026-00017", "survey_round": "6m", "interview_date": "2026-03-02",
        "return_date": "2025-09-01", "country_of_return": "GIN", "consent": "yes",
        "econ": {"has_debt": "yes", "debt_vs_spending": "debt_larger",
                 "productive_assets": "land livestock"},
        "psycho": {"able_to_stay": "no", "reason_to_leave": "need_to_leave"},
    }
    assert validate.validate_record(compiled.model, data) == []
    calcs = validate.evaluate_calculates(compiled.model, data)
    assert calcs["respondent_key"] == "GIN-2026-00017|6m"
    assert calcs["scoring_spec"] == "rss-v1"


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"country_of_return": "gin"}, "country_of_return"),
        ({"econ": {"productive_assets": "land none"}}, "econ/productive_assets"),
        ({"age": "130"}, "age"),
    ],
)
def test_rss_constraints_catch_bad_answers(compiled, changes, path):
    from forms import validate
    data = {"case_id": "X", "survey_round": "baseline", "interview_date": "2026-03-02",
            "country_of_return": "GIN", "consent": "yes", **changes}
    findings = validate.validate_record(compiled.model, data)
    assert [(f.path, f.code) for f in findings] == [(path, "constraint_failed")]

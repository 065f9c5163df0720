"""Validating records against their form version: what is reported, where, and how."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from pathlib import Path

import pytest

from forms.errors import FormsError
from forms.expressions import check_form
from forms.validate import Finding, evaluate_calculates, normalize_data, validate_record
from forms.xlsform import convert_xlsform

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)

VALID = {
    "start": "2024-05-06T09:00:00.000+02:00", "end": "2024-05-06T10:30:00.000+02:00",
    "name": "Awa", "age": "34", "weight": "61.5", "dob": "1990-03-15",
    "visit": "2024-05-06T10:30:00.000+02:00", "wake": "06:30:00", "gps": "9.5 -13.7 10 5",
    "consent": "yes", "assets": "land cow", "hh": {"size": "2", "head": "Awa"},
    "members": [
        {"m_name": "Awa", "m_age": "34", "sex": "f", "is_adult": "yes",
         "jobs": [{"job": "farmer", "hours": "20"}, {"job": "trader", "hours": "10"}]},
        {"m_name": "Ibra", "m_age": "9", "sex": "m", "school": "yes", "is_adult": "no"},
    ],
    "n_members": "2", "total_age": "43", "first_job": "trader", "country": "gn",
    "city": "conakry", "city_name": "Conakry", "age_days": "12471",
}


@pytest.fixture(scope="module")
def model():
    return convert_xlsform((FIXTURES / "household.md").read_bytes(), "household.md").model


def record(**changes):
    data = copy.deepcopy(VALID)
    for path, value in changes.items():
        target = data
        parts = path.split("__")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        last = parts[-1]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return data


def codes(findings):
    return [(f.path, f.code) for f in findings]


def test_valid_record_has_no_findings(model):
    assert validate_record(model, VALID, now=RECEIVED) == []


def test_unknown_key_is_a_warning_naming_its_path(model):
    findings = validate_record(model, record(shoe_size="42", hh__colour="red"))
    assert codes(findings) == [("shoe_size", "unknown_field"), ("hh/colour", "unknown_field")]
    assert {f.severity for f in findings} == {"warning"}


def test_bare_names_and_group_paths_are_accepted_as_keys(model):
    flat = {k: v for k, v in VALID.items() if k != "hh"}
    flat.update({"size": "2", "hh/head": "Awa"})
    assert validate_record(model, flat) == []


def test_normalize_data_nests_flat_keys_and_stringifies_json_values(model):
    got = normalize_data(model, {"hh/size": 2, "head": "Awa", "assets": ["land", "cow"],
                                 "weight": 61.5, "members": {"m_name": "Awa"}})
    assert got == {"hh": {"size": "2", "head": "Awa"}, "assets": "land cow",
                   "weight": "61.5", "members": [{"m_name": "Awa"}]}


def test_bare_name_of_a_question_inside_a_repeat_is_not_moved_into_it(model):
    findings = validate_record(model, record(m_name="Awa"))
    assert ("m_name", "unknown_field") in codes(findings)


@pytest.mark.parametrize(("key", "value"), [
    ("age", "3.5"), ("age", "thirty"), ("weight", "abc"), ("weight", "1,5"),
    ("dob", "2024-13-01"), ("dob", "15/03/1990"), ("visit", "2024-05-06"), ("wake", "25:00"),
    ("gps", "91 0"), ("gps", "9.5"), ("gps", "a b"),
])
def test_value_that_does_not_fit_its_bind_type_is_type_invalid(model, key, value):
    findings = validate_record(model, record(**{key: value}))
    assert (key, "type_invalid") in codes(findings)
    assert all(f.severity == "error" for f in findings if f.code == "type_invalid")


@pytest.mark.parametrize(("key", "value"), [
    ("age", "-3"), ("age", "+7"), ("weight", "0.5"), ("weight", "2e1"), ("dob", "2000-02-29"),
    ("visit", "2024-05-06T10:30:00Z"), ("wake", "23:59"), ("gps", "-90 180"),
])
def test_value_that_fits_its_bind_type_passes(model, key, value):
    assert not [f for f in validate_record(model, record(**{key: value})) if f.code == "type_invalid"]


def test_select_one_value_outside_its_list_is_choice_unknown(model):
    assert ("consent", "choice_unknown") in codes(validate_record(model, record(consent="maybe")))


def test_each_select_multiple_value_must_be_in_its_list(model):
    findings = validate_record(model, record(assets="land boat"))
    assert codes(findings) == [("assets", "choice_unknown")]
    assert "'boat'" in findings[0].message and "'land'" not in findings[0].message


def test_cascading_select_value_its_filter_excludes_is_reported(model):
    findings = validate_record(model, record(city="dakar", city_name="Dakar"))
    assert codes(findings) == [("city", "choice_filtered_out")]


def test_required_question_left_empty_is_required_missing(model):
    assert codes(validate_record(model, record(name=""))) == [("name", "required_missing")]
    assert codes(validate_record(model, record(name=None))) == [("name", "required_missing")]


def test_required_is_ignored_when_question_not_relevant(model):
    adult_without_school = record()
    assert "school" not in adult_without_school["members"][0]
    assert validate_record(model, adult_without_school) == []


def test_required_is_ignored_when_its_group_is_not_relevant(model):
    data = record(consent="no", assets=None, hh=None, members=None, n_members="0",
                  total_age="0", first_job=None)
    assert validate_record(model, data) == []


def test_constraint_is_not_checked_on_an_empty_answer(model):
    assert validate_record(model, record(weight="")) == []


def test_answer_failing_its_constraint_is_constraint_failed(model):
    findings = validate_record(model, record(weight="-1"))
    assert codes(findings) == [("weight", "constraint_failed")]
    assert ". > 0" in findings[0].message


def test_today_in_a_constraint_is_the_record_end_time(model):
    future = record(dob="2024-05-07", age_days="-1")
    assert ("dob", "constraint_failed") in codes(validate_record(model, future))
    later_end = record(dob="2024-05-07", end="2024-05-08T09:00:00.000+02:00", age_days="1")
    assert validate_record(model, later_end) == []


def test_without_start_or_end_today_is_the_received_time(model):
    data = record(start=None, end=None, dob="2024-05-20")
    assert ("dob", "constraint_failed") not in codes(validate_record(model, data, now=RECEIVED))
    early = datetime(2024, 5, 10, tzinfo=timezone.utc)
    assert ("dob", "constraint_failed") in codes(validate_record(model, data, now=early))


def test_answer_in_a_question_not_relevant_is_a_warning(model):
    data = record()
    data["members"][0]["school"] = "no"
    findings = validate_record(model, data)
    assert codes(findings) == [("members[1]/school", "answered_not_relevant")]
    assert findings[0].severity == "warning"


def test_answers_in_a_group_not_relevant_are_reported_once_for_the_group(model):
    data = record(consent="no", assets=None, members=None, n_members="0", total_age="0",
                  first_job=None)
    assert codes(validate_record(model, data)) == [("hh", "answered_not_relevant")]


def test_repeat_with_more_instances_than_its_count_is_repeat_count_mismatch(model):
    findings = validate_record(model, record(hh={"size": "3", "head": "Awa"}))
    assert codes(findings) == [("members", "repeat_count_mismatch")]
    assert "2 instance(s)" in findings[0].message and "is 3" in findings[0].message


def test_paths_inside_nested_repeats_carry_1_based_indexes(model):
    data = record()
    data["members"][1]["m_age"] = "x"
    data["members"][0]["jobs"][1]["hours"] = "100"
    findings = codes(validate_record(model, data))
    assert ("members[2]/m_age", "type_invalid") in findings
    assert ("members[1]/jobs[2]/hours", "constraint_failed") in findings


def test_repeat_relevance_is_evaluated_per_instance(model):
    data = record()
    data["members"][1]["jobs"] = [{"job": "child labour", "hours": "5"}]
    assert codes(validate_record(model, data)) == [("members[2]/jobs[1]", "answered_not_relevant")]


def test_device_calculate_that_differs_from_the_form_is_a_warning(model):
    findings = validate_record(model, record(total_age="40"))
    assert codes(findings) == [("total_age", "calculate_mismatch")]
    assert "'40'" in findings[0].message and "'43'" in findings[0].message
    assert findings[0].severity == "warning"


def test_calculate_numbers_compare_by_value(model):
    assert validate_record(model, record(total_age="43.0", n_members="2")) == []


def test_calculate_on_today_is_not_compared_when_the_record_carries_no_time(model):
    data = record(start=None, end=None, age_days="5")
    assert "calculate_mismatch" not in [f.code for f in validate_record(model, data, now=RECEIVED)]


def test_calculate_the_device_did_not_send_is_not_a_mismatch(model):
    assert validate_record(model, record(total_age=None, city_name=None)) == []


def test_evaluate_calculates_gives_server_values_by_indexed_path(model):
    got = evaluate_calculates(model, record(total_age="0"), RECEIVED)
    assert got == {
        "members[1]/is_adult": "yes", "members[2]/is_adult": "no", "n_members": "2",
        "total_age": "43", "first_job": "trader", "city_name": "Conakry", "age_days": "12471",
    }


def test_evaluate_calculates_gives_empty_for_calculates_not_relevant():
    md = """
| survey |
|        | type      | name  | label | relevant    | calculation |
|        | integer   | n     | N     |             |             |
|        | begin_group | g   | G     | ${n} > 1    |             |
|        | calculate | twice |       |             | ${n} * 2    |
|        | end_group |       |       |             |             |
"""
    model = convert_xlsform(md.encode(), "g.md").model
    assert evaluate_calculates(model, {"n": "1"}) == {"g/twice": ""}
    assert evaluate_calculates(model, {"n": "4"}) == {"g/twice": "8"}


def test_later_calculates_see_the_server_value_of_earlier_ones():
    md = """
| survey |
|        | type      | name  | label | calculation    |
|        | integer   | n     | N     |                |
|        | calculate | a     |       | ${n} + 1       |
|        | calculate | b     |       | ${a} * 10      |
"""
    model = convert_xlsform(md.encode(), "c.md").model
    assert evaluate_calculates(model, {"n": "1", "a": "99", "b": "990"}) == {"a": "2", "b": "20"}
    findings = validate_record(model, {"n": "1", "a": "99", "b": "990"})
    assert codes(findings) == [("a", "calculate_mismatch"), ("b", "calculate_mismatch")]


def test_wrong_shapes_are_type_invalid_not_crashes(model):
    findings = codes(validate_record(model, record(hh="x", name=["a", "b"])))
    assert ("hh", "type_invalid") in findings and ("name", "type_invalid") in findings
    data = record()
    data["members"][0] = "Awa"
    assert ("members[1]", "type_invalid") in codes(validate_record(model, data))


def test_data_that_is_not_an_object_is_refused_with_a_forms_error(model):
    with pytest.raises(FormsError) as info:
        validate_record(model, ["not", "a", "dict"])
    assert info.value.code == "submission_invalid"


def test_finding_is_a_json_ready_dict(model):
    finding = validate_record(model, record(name=""))[0]
    assert isinstance(finding, Finding)
    assert finding.to_dict() == {"path": "name", "code": "required_missing",
                                 "message": "'name' is required but empty.", "severity": "error"}


def test_validation_does_not_modify_the_record(model):
    data = record(total_age="40")
    before = copy.deepcopy(data)
    validate_record(model, data)
    evaluate_calculates(model, data)
    assert data == before


def test_check_form_accepts_a_form_whose_expressions_all_work(model):
    assert check_form(model) == []


def test_check_form_lists_only_what_a_tablet_refuses_with_its_field_and_attribute():
    md = """
| survey |
|        | type      | name  | label | constraint          | relevant            | calculation           |
|        | integer   | n     | N     | foo(.) > 1          |                     |                       |
|        | text      | t     | T     |                     | /data/nope = 'x'    |                       |
|        | calculate | d     |       |                     |                     | distance(/data/n)     |
|        | calculate | e     |       |                     |                     | int(/data/n, 0)       |
"""
    model = convert_xlsform(md.encode(), "bad.md").model
    problems = check_form(model)
    assert [(p["path"], p["attribute"]) for p in problems] == [
        ("n", "constraint"), ("e", "calculate")]
    assert "'foo()' is not an ODK XForms function" in problems[0]["message"]
    assert "'int()' takes 1 argument(s), not 2" in problems[1]["message"]


def test_check_form_refuses_a_default_or_trigger_value_a_tablet_cannot_load():
    md = """
| survey |
|        | type    | name | label | default          | trigger | calculation     |
|        | text    | a    | A     | upper-case('x')  |         |                 |
|        | integer | b    | B     |                  |         |                 |
|        | date    | c    | C     |                  | ${b}    | date(1, 2)      |
"""
    problems = check_form(convert_xlsform(md.encode(), "actions.md").model)
    assert [(p["path"], p["attribute"]) for p in problems] == [("a", "default"),
                                                              ("c", "trigger")]
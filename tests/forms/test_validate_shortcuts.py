"""The per-form shortcuts of normalize_data and validate_record give what the general
path gives: nested data copied, record-only expressions shared, calculates settled."""

from __future__ import annotations

from pathlib import Path

import pytest

from forms.expressions import record_paths
from forms.validate import evaluate_calculates, normalize_data, validate_record
from forms.xlsform import convert_xlsform

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def household():
    return convert_xlsform((FIXTURES / "household.md").read_bytes(), "household.md").model


def test_nested_data_comes_back_as_a_copy_that_shares_no_container(household):
    data = {"name": "Awa", "hh": {"size": "2", "head": "Awa"},
            "members": [{"m_name": "Awa", "jobs": [{"job": "farmer"}]}]}
    got = normalize_data(household, data)
    assert got == data and list(got) == list(data)
    assert got is not data and got["hh"] is not data["hh"]
    assert got["members"] is not data["members"]
    assert got["members"][0]["jobs"][0] is not data["members"][0]["jobs"][0]
    got["hh"]["size"] = "3"
    assert data["hh"]["size"] == "2"


@pytest.mark.parametrize("data, expected", [
    ({"hh": {"size": "2"}, "hh/head": "Awa"}, {"hh": {"size": "2", "head": "Awa"}}),
    ({"hh": {"size": 2}}, {"hh": {"size": "2"}}),
    ({"members": {"m_name": "Awa"}}, {"members": [{"m_name": "Awa"}]}),
    ({"assets": ["land", "cow"]}, {"assets": "land cow"}),
    ({"shoe_size": "42", "name": "Awa"}, {"shoe_size": "42", "name": "Awa"}),
])
def test_data_not_yet_nested_still_takes_the_general_merge(household, data, expected):
    assert normalize_data(household, data) == expected


@pytest.mark.parametrize("text, paths", [
    ("/data/consent = 'yes'", {"consent"}),
    ("concat(/data/a, '|', /data/g/b)", {"a", "g/b"}),
    ("today()", set()),
    (".", None), ("../x", None), ("current()/x = 1", None), ("/data/r[1]/x", None),
    ("string-length()", None), ("random() < 0.5", None), ("position() = 1", None),
])
def test_record_paths_knows_which_expressions_read_the_record_alone(text, paths):
    assert record_paths(text) == paths


def test_a_shared_expression_that_fails_is_reported_for_each_field():
    md = """
| survey |
|        | type        | name | label | relevant         |
|        | text        | a    | A     | count('x') > 0   |
|        | begin_group | g    | G     | count('x') > 0   |
|        | text        | b    | B     |                  |
|        | end_group   |      |       |                  |
"""
    model = convert_xlsform(md.encode(), "e.md").model
    findings = validate_record(model, {"a": "1", "g": {"b": "2"}})
    assert [(f.path, f.code) for f in findings] == [("a", "expression_error"),
                                                     ("g", "expression_error")]


def test_a_calculate_reading_a_group_with_a_later_calculate_is_settled():
    md = """
| survey |
|        | type        | name | label | calculation         |
|        | integer     | n    | N     |                     |
|        | calculate   | s    |       | concat(${g}, 'x')   |
|        | begin_group | g    | G     |                     |
|        | calculate   | c    |       | ${n} * 2            |
|        | end_group   |      |       |                     |
"""
    model = convert_xlsform(md.encode(), "s.md").model
    assert evaluate_calculates(model, {"n": "2", "g": {"c": "99"}}) == {"s": "4x", "g/c": "4"}

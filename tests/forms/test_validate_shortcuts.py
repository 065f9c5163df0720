"""The per-form shortcuts of normalize_data and validate_record give what the general
path gives: nested data copied, record-only expressions shared, the values of
expressions of a few answers kept across records, calculates settled."""

from __future__ import annotations

from pathlib import Path

import pytest

from forms import validate
from forms.expressions import record_paths, value_inputs
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


@pytest.mark.parametrize("text, inputs", [
    ("/data/consent = 'yes'", {"consent"}),
    ("regex(., '^[A-Z]{3}$') and /data/g/b != ''", {".", "g/b"}),
    ("string-length() > 2", {"."}),
    ("count('x') > 0", set()),
    (". <= today()", None), ("../x", None), ("current()/x = 1", None), ("/data/r[1]/x", None),
    ("random() < 0.5", None), ("position() = 1", None), (". = ../y", None),
])
def test_value_inputs_knows_which_expressions_follow_from_answer_texts(text, inputs):
    assert value_inputs(text) == inputs


KEPT = """
| survey |
|        | type              | name  | label | relevant      | required      | constraint                                  |
|        | select_one yn     | ok    | OK    |               |               |                                             |
|        | text              | code  | Code  | ${ok} = 'yes' | ${ok} = 'yes' | regex(., '^[A-Z]{3}$') and . != ${other}     |
|        | text              | other | Other | ${ok} = 'yes' |               | string-length() < 4                          |
|        | integer           | n     | N     |               | ${ok} = 'yes' | . < 10 or count('x') > 0                     |
|        | begin_group       | g     | G     | ${ok} != 'no' |               |                                             |
|        | text              | b     | B     |               |               | . != ${code}                                 |
|        | end_group         |       |       |               |               |                                             |
|        | text              | after | After | ${b} = 'ABC'  |               |                                             |
| choices |
|         | list_name | name | label |
|         | yn        | yes  | Yes   |
|         | yn        | no   | No    |
"""

KEPT_RECORDS = [
    {"ok": "yes", "code": "ABC", "other": "XYZ", "n": "3", "g": {"b": "ABC"}},
    {"ok": "yes", "code": "abc", "other": "ABC", "n": "12", "g": {"b": "x"}},
    {"ok": "yes", "code": "ABC", "other": "ABC", "n": "", "g": {"b": "ABC"}},
    {"ok": "no", "code": "ABC", "other": "", "n": "12", "g": {"b": "ABC"}},
    {"ok": "", "code": "", "other": "long one", "n": "3", "g": {"b": ""}},
    {"ok": "yes", "code": "", "other": "XYZ", "n": "", "g": {"b": "XYZ"}},
    {"ok": "yes", "code": "QQQ", "other": ["not", "a text"], "n": "3", "g": {"b": "Q"}},
    {"ok": "yes", "code": "ABC", "other": "", "g": {"b": "x"}, "after": "1"},
    {"ok": "yes", "code": "ABC", "other": "", "g": [{"b": "ABC"}], "after": "1"},
    {"ok": "yes", "code": "ABC", "other": "", "g": "ABC", "after": "1"},
]


def test_records_validated_one_after_another_get_what_each_gets_alone():
    # Each record alone: a model of its own, so nothing is kept from another record.
    alone = [validate_record(convert_xlsform(KEPT.encode(), "k.md").model, r)
             for r in KEPT_RECORDS]
    assert {f.code for found in alone for f in found} >= {
        "constraint_failed", "required_missing", "answered_not_relevant",
        "expression_error", "type_invalid"}
    model = convert_xlsform(KEPT.encode(), "k.md").model
    for _ in range(3):  # the answers come round again, in another order too
        assert [validate_record(model, r) for r in KEPT_RECORDS] == alone
        assert [validate_record(model, r) for r in reversed(KEPT_RECORDS)] == alone[::-1]


def test_answers_that_rarely_repeat_are_still_checked_once_no_longer_kept(monkeypatch):
    monkeypatch.setattr(validate, "KEPT_VALUES", 4)
    model = convert_xlsform(KEPT.encode(), "k.md").model
    codes = [f"{a}{b}{c}" for a in "ABC" for b in "DEF" for c in "GH1"]
    for code in codes * 2:
        found = validate_record(model, {"ok": "yes", "code": code, "other": "", "n": "1",
                                        "g": {"b": ""}})
        failed = [f.path for f in found if f.code == "constraint_failed"]
        assert failed == (["code"] if code.endswith("1") else []), code

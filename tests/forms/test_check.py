"""forms.check.check_files: a form and its submissions in, JSON-ready findings out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from forms.check import check_files
from forms.errors import FormsError
from forms.xlsform import convert_xlsform

FIXTURES = Path(__file__).resolve().parent / "fixtures"

XML_OK = """<?xml version="1.0"?>
<data id="household" version="3" xmlns:orx="http://openrosa.org/xforms">
  <start>2024-05-06T09:00:00.000+02:00</start><end>2024-05-06T10:30:00.000+02:00</end>
  <name>Awa</name><age>34</age><weight/><dob>1990-03-15</dob><visit/><wake/><gps/>
  <consent>yes</consent><empty/><assets>land</assets>
  <hh><size>1</size><head>Awa</head></hh>
  <members><m_name>Awa</m_name><m_age>34</m_age><sex>f</sex><school/><is_adult>yes</is_adult>
    <jobs><job>farmer</job><hours>20</hours></jobs></members>
  <n_members>1</n_members><total_age>34</total_age><first_job/>
  <country>gn</country><city>kankan</city><city_name>Kankan</city_name><age_days>12471</age_days>
  <orx:meta><orx:instanceID>uuid:1</orx:instanceID></orx:meta>
</data>"""


@pytest.fixture()
def form(tmp_path):
    path = tmp_path / "household.md"
    shutil.copy(FIXTURES / "household.md", path)
    return path


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_form_without_submissions_checks_clean(form):
    assert list(check_files(form, [])) == []


def test_clean_xml_instance_yields_no_findings(form, tmp_path):
    assert list(check_files(form, [write(tmp_path, "ok.xml", XML_OK)])) == []


def test_xml_instance_with_one_repeat_instance_is_read_as_a_list(form, tmp_path):
    bad = XML_OK.replace("<m_age>34</m_age>", "<m_age>x</m_age>")
    findings = list(check_files(form, [write(tmp_path, "bad.xml", bad)]))
    assert ("members[1]/m_age", "type_invalid") in [(f["path"], f["code"]) for f in findings]


def test_findings_name_their_file_and_are_json_lines(form, tmp_path):
    bad = XML_OK.replace("<age>34</age>", "<age>300</age>")
    path = write(tmp_path, "bad.xml", bad)
    findings = list(check_files(form, [path]))
    assert findings == [{"file": str(path), "path": "age", "code": "constraint_failed",
                         "message": findings[0]["message"], "severity": "error"}]
    assert json.loads(json.dumps(findings[0])) == findings[0]


def test_json_envelope_and_bare_data_are_both_checked(form, tmp_path):
    data = {"name": "", "age": "34", "consent": "no"}
    envelope = write(tmp_path, "env.json", json.dumps(
        {"instance_id": "uuid:2", "form_id": "household", "form_version": "3", "data": data}))
    bare = write(tmp_path, "bare.json", json.dumps(data))
    findings = list(check_files(form, [envelope, bare]))
    assert [(Path(f["file"]).name, f["path"], f["code"]) for f in findings] == [
        ("env.json", "name", "required_missing"), ("bare.json", "name", "required_missing")]


def test_submission_for_another_form_or_version_is_warned_and_still_checked(form, tmp_path):
    other = write(tmp_path, "o.json", json.dumps({"form_id": "rss", "data": {"age": "x"}}))
    old = write(tmp_path, "v.json", json.dumps(
        {"form_id": "household", "form_version": "2",
         "data": {"name": "a", "age": "30", "consent": "no"}}))
    codes = [(Path(f["file"]).name, f["code"]) for f in check_files(form, [other, old])]
    assert ("o.json", "form_mismatch") in codes and ("o.json", "type_invalid") in codes
    assert codes[-1] == ("v.json", "form_version_mismatch")


@pytest.mark.parametrize(("name", "text"), [
    ("broken.xml", "<data><name>"), ("entity.xml", "<!DOCTYPE x [<!ENTITY a 'b'>]><data/>"),
    ("broken.json", "{nope"), ("list.json", "[1, 2]"),
])
def test_unreadable_submission_yields_one_finding_and_the_rest_go_on(form, tmp_path, name, text):
    broken = write(tmp_path, name, text)
    good = write(tmp_path, "ok.xml", XML_OK)
    findings = list(check_files(form, [broken, good]))
    assert [(Path(f["file"]).name, f["code"]) for f in findings] == [(name, "submission_unreadable")]


def test_missing_submission_file_is_reported_not_raised(form, tmp_path):
    findings = list(check_files(form, [tmp_path / "gone.json"]))
    assert [f["code"] for f in findings] == ["submission_unreadable"]


def test_form_with_an_unsupported_expression_raises_forms_error(tmp_path):
    bad = write(tmp_path, "bad.md", """
| survey |
|        | type    | name | label | constraint     |
|        | integer | n    | N     | pulldata('x')  |
""")
    with pytest.raises(FormsError) as info:
        list(check_files(bad, []))
    assert info.value.code == "xlsform_expression_unsupported"
    assert info.value.details["errors"][0]["path"] == "n"


def test_invalid_xlsform_raises_forms_error(tmp_path):
    bad = write(tmp_path, "bad.md", "| survey |\n| | type | name |\n| | nonsense_type | x |\n")
    with pytest.raises(FormsError) as info:
        list(check_files(bad, []))
    assert info.value.code == "xlsform_invalid"


def test_xform_xml_can_be_the_form(tmp_path):
    compiled = convert_xlsform((FIXTURES / "household.md").read_bytes(), "household.md")
    xform = write(tmp_path, "household.xml", compiled.xform)
    bad = write(tmp_path, "s.xml", XML_OK.replace("<consent>yes</consent>", "<consent>maybe</consent>"))
    codes = [f["code"] for f in check_files(xform, [bad])]
    assert "choice_unknown" in codes


def test_xml_file_that_is_not_an_xform_is_refused(tmp_path):
    with pytest.raises(FormsError):
        list(check_files(write(tmp_path, "x.xml", "<data><a/></data>"), []))

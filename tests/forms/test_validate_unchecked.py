"""Validation of forms whose expressions the server leaves to the tablet, read from
media files, or depend on the time zone: a record is never flagged by an
expression the server does not evaluate, and is judged by one it does."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from forms.expressions import expression_report, not_checked_finding
from forms.media import FormMedia
from forms.validate import evaluate_calculates, validate_record
from forms.xlsform import convert_xlsform
from tests.conftest import CORPUS

RECEIVED = datetime(2024, 6, 1, 23, 30, tzinfo=timezone.utc)

UNCHECKED = """
| survey |
|        | type         | name    | label   | required | relevant                 | constraint            | calculation             |
|        | text         | phone_q | Phone   |          |                          | . = property('phonenumber') |                   |
|        | integer      | kids    | Kids    |          |                          |                       |                         |
|        | begin_group  | school  | School  |          | property('deviceid') != '' |                     |                         |
|        | text         | teacher | Teacher | yes      |                          |                       |                         |
|        | end_group    |         |         |          |                          |                       |                         |
|        | text         | why     | Why     | yes      | count(ancestor::*) > 0   |                       |                         |
|        | calculate    | dev     |         |          |                          |                       | property('deviceid')    |
|        | integer      | n       | N       |          |                          | . < 10                |                         |
"""


@pytest.fixture(scope="module")
def unchecked():
    return convert_xlsform(UNCHECKED.encode(), "unchecked_form.md").model


def test_record_is_never_flagged_by_an_expression_the_server_leaves_to_the_tablet(unchecked):
    data = {"phone_q": "123", "kids": "2", "dev": "collect:abc", "school": {}}
    assert validate_record(unchecked, data) == []


def test_expressions_the_server_evaluates_still_flag_the_record(unchecked):
    findings = validate_record(unchecked, {"n": "12", "dev": "x"})
    assert [(f.path, f.code) for f in findings] == [("n", "constraint_failed")]


def test_the_form_version_has_one_finding_naming_field_attribute_and_function(unchecked):
    finding = not_checked_finding(unchecked)
    assert finding["code"] == "expression_not_checked"
    assert [(e["field"], e["attribute"], e["function"]) for e in finding["expressions"]] == [
        ("phone_q", "constraint", "property()"), ("school", "relevant", "property()"),
        ("school/teacher", "required", "property()"), ("why", "relevant", "ancestor::"),
        ("why", "required", "ancestor::"), ("dev", "calculate", "property()")]
    assert "6 expression(s)" in finding["message"]
    assert "where 'school' is relevant" in finding["expressions"][2]["reason"]


def test_the_report_lists_every_expression_checked_or_not(unchecked):
    report = expression_report(unchecked)
    assert [(e["path"], e["attribute"], e["checked"]) for e in report] == [
        ("phone_q", "constraint", False), ("school", "relevant", False),
        ("school/teacher", "required", False), ("why", "relevant", False),
        ("why", "required", False),
        ("dev", "calculate", False), ("n", "constraint", True)]


@pytest.fixture(scope="module")
def external(corpus):
    return corpus["external.md"].model


def media():
    return FormMedia({name: (CORPUS / name).read_bytes()
                      for name in ("households.csv", "towns.csv", "zones.xml")})


def test_an_expression_reading_media_judges_the_record_once_the_file_is_at_hand(external):
    data = {"hh_id": "H001", "hh_head": "Awa Diallo", "hh_size": "4", "members": "12"}
    findings = validate_record(external, data, media=media())
    assert [(f.path, f.code) for f in findings] == [("members", "constraint_failed")]


def test_without_its_media_file_an_expression_is_left_unchecked(external):
    data = {"hh_id": "H001", "hh_head": "someone else", "hh_size": "4", "members": "5"}
    assert validate_record(external, data) == []
    report = expression_report(external, frozenset())
    assert [(e["path"], e["reason"]) for e in report if not e["checked"]][0] == (
        "hh_head", "its media file(s) households.csv are not at hand")


def test_calculates_from_pulldata_are_compared_with_the_devices(external):
    data = {"hh_id": "H002", "hh_head": "Awa Diallo", "hh_size": "7", "town": "conakry",
            "region": "west"}
    findings = validate_record(external, data, media=media())
    assert [(f.path, f.code) for f in findings] == [("hh_head", "calculate_mismatch")]
    assert "Ibrahima Sow" in findings[0].message
    assert evaluate_calculates(external, data, media=media())["region"] == "west"


def test_a_choice_from_a_file_is_checked_against_the_file_and_its_filter(external):
    data = {"town": "conakry", "region": "west", "zone": "z2"}
    findings = validate_record(external, data, media=media())
    assert [(f.path, f.code) for f in findings] == [("zone", "choice_filtered_out")]
    findings = validate_record(external, {"town": "labe"}, media=media())
    assert [(f.path, f.code) for f in findings] == [("town", "choice_unknown")]
    assert validate_record(external, {"town": "labe"}) == []  # no file: not checked


TIMED = """
| survey |
|        | type      | name    | label | calculation                         |
|        | start     | start   |       |                                     |
|        | end       | end     |       |                                     |
|        | date      | day     | Day   |                                     |
|        | calculate | dday    |       | decimal-date-time(${day})           |
|        | calculate | today_c |       | today()                             |
"""


@pytest.fixture(scope="module")
def timed():
    return convert_xlsform(TIMED.encode(), "timed.md").model


def test_a_record_is_evaluated_in_the_offset_its_tablet_wrote(timed):
    data = {"end": "2024-05-06T23:30:00.000-07:00", "day": "1970-01-02",
            "dday": "1.2916666666666667", "today_c": "2024-05-06"}
    assert validate_record(timed, data, now=RECEIVED) == []
    assert validate_record(timed, data, now=RECEIVED, tz=timezone.utc) == []


def test_a_record_without_timestamps_is_evaluated_in_the_servers_time_zone(timed):
    from forms.xpath.values import timezone_named

    data = {"day": "1970-01-02", "dday": "1.2916666666666667"}
    assert validate_record(timed, data, now=RECEIVED, tz=timezone_named("-07:00")) == []
    findings = validate_record(timed, data, now=RECEIVED)
    assert [(f.path, f.code) for f in findings] == [("dday", "calculate_mismatch")]
    computed = evaluate_calculates(timed, {"day": "2024-06-01"}, RECEIVED,
                                   tz=timezone_named("Asia/Kolkata"))
    assert computed["today_c"] == "2024-06-02"  # 23:30 UTC is the next day in India

"""`fieldsync forms check` and `forms publish` tell, per form, which expressions the
server checks and which it leaves to the tablet (in process, through click)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from server.cli import cli
from tests.conftest import CORPUS


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env or {})


def test_forms_check_reports_expressions_left_to_the_tablet_once(tmp_path):
    result = run("forms", "check", str(CORPUS / "unchecked.md"))
    assert result.exit_code == 0, result.stderr
    [finding] = [json.loads(line) for line in result.stdout.splitlines()]
    assert finding["code"] == "expression_not_checked" and finding["path"] == ""
    assert {e["field"] for e in finding["expressions"]} == {"village", "phone", "last_vill",
                                                           "count"}
    assert "expressions: 1 checked on the server, 4 not checked" in result.stderr
    assert "not checked: the calculate of 'phone' (property())" in result.stderr


def test_forms_check_lists_every_expression_on_request(tmp_path):
    result = run("forms", "check", "--expressions", str(CORPUS / "external.md"))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(e["checked"] for e in lines) and len(lines) == 5
    assert {m for e in lines for m in e.get("media", [])} == {"households.csv", "towns.csv",
                                                            "zones.xml"}
    assert "read from media files: households.csv, towns.csv, zones.xml" in result.stderr


def test_forms_check_without_the_media_files_says_they_are_not_at_hand(tmp_path):
    result = run("forms", "check", "--media", str(tmp_path), str(CORPUS / "external.md"))
    [finding] = [json.loads(line) for line in result.stdout.splitlines()]
    assert finding["code"] == "expression_not_checked"
    assert "households.csv are not at hand" in finding["expressions"][0]["reason"]


def test_forms_check_takes_the_time_zone_of_dates_without_one(tmp_path):
    form = tmp_path / "days.md"
    form.write_text("| survey |\n| | type | name | label | calculation |\n"
                    "| | date | day | Day | |\n"
                    "| | calculate | d | | decimal-date-time(${day}) |\n")
    record = tmp_path / "r.json"
    record.write_text(json.dumps({"day": "1970-01-02", "d": "0.75"}))
    assert run("forms", "check", "--timezone", "+06:00", str(form), str(record)).stdout == ""
    drift = run("forms", "check", str(form), str(record))
    assert json.loads(drift.stdout)["code"] == "calculate_mismatch"
    assert run("forms", "check", str(form), str(record),
               env={"FIELDSYNC_TIMEZONE": "+06:00"}).stdout == ""
    bad = run("forms", "check", "--timezone", "Mars/Olympus", str(form))
    assert bad.exit_code == 1 and "Mars/Olympus" in bad.stderr


def test_forms_publish_prints_the_id_then_the_expression_summary(tmp_path):
    result = run("forms", "publish", "--db", str(tmp_path / "s.db"),
                 str(CORPUS / "Spec test settings.md"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Spec test 2023-05-02 10:43:54\n"
    assert "expressions: 0 checked on the server, 0 not checked" in result.stderr

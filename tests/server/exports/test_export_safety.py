"""Exports are safe to open: an answer never becomes a spreadsheet formula unless
a raw export is asked for, and a character XLSX cannot hold never breaks the
file. The request log tells the real end of a streamed answer."""

from __future__ import annotations

import csv
import io
import logging

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from server.cli import cli
from tests.helpers.accounts import Site
from tests.helpers.records import batch, household_record

HOSTILE = {
    "F1": '=HYPERLINK("http://evil.example","x")',
    "F2": "+1+cmd|' /C calc'!A0",
    "F3": "@SUM(1+1)",
    "F4": "\tTAB",
    "F5": "-2+3+cmd|' /C calc'!A0",
    "F6": "\rCR",
}
PLAIN = {"N1": "-12.5 45.25 0 0", "N2": "-7", "N3": "plain text", "N4": "-1.5;-2.5",
         "N5": "two\rlines"}
CONTROL = {"C1": "a\u0001b", "C2": "c\u0000d", "C3": "line\u000bfeed"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("export-safety"))
    token = site.add("exp-enum", "enumerator")
    records = [household_record(key, instance_id=None) for key in
               (*HOSTILE, *PLAIN, *CONTROL)]
    texts = {**HOSTILE, **PLAIN, **CONTROL}
    for rec in records:
        rec["data"]["case_id"] = texts[rec["data"]["case_id"]]
    r = site.call("POST", "/api/v1/sync/push", token=token,
                  json=batch(records, device_id="=cmd|' /C calc'!A0"))
    assert r.status_code == 200, r.get_data(as_text=True)
    return site


def export(site, fmt, **params):
    r = site.call("GET", "/api/v1/forms/tform/submissions", token=site.admin_token,
                  query_string={"format": fmt, **params})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_data()


def csv_cases(body: bytes) -> dict[str, dict]:
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))
    return {row["case_id"]: row for row in rows}


def test_csv_writes_formula_like_texts_with_a_leading_apostrophe(site):
    rows = csv_cases(export(site, "csv"))
    assert set(rows) >= {"'" + text for text in HOSTILE.values()}
    assert set(rows) >= set(PLAIN.values())  # numbers and geopoints are left alone
    assert {row["device_id"] for row in rows.values()} == {"'=cmd|' /C calc'!A0"}
    assert {row["econ/age"] for row in rows.values()} == {"34"}


def test_csv_raw_writes_every_text_as_received(site):
    rows = csv_cases(export(site, "csv", raw="true"))
    assert set(rows) >= set(HOSTILE.values()) | set(PLAIN.values())
    assert {row["device_id"] for row in rows.values()} == {"=cmd|' /C calc'!A0"}


def xlsx_cells(body: bytes) -> dict[str, object]:
    sheet = load_workbook(io.BytesIO(body)).active
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    column = header.index("case_id")
    return {row[column].value: row[column] for row in sheet.iter_rows(min_row=2)}


def test_xlsx_writes_every_text_as_a_text_cell_never_a_formula(site):
    cells = xlsx_cells(export(site, "xlsx"))
    formula = cells[HOSTILE["F1"]]
    assert formula.data_type == "s"
    assert all(cell.data_type == "s" for cell in cells.values())


def test_xlsx_raw_lets_a_formula_be_a_formula(site):
    cells = xlsx_cells(export(site, "xlsx", raw="true"))
    assert cells[HOSTILE["F1"]].data_type == "f"


def test_characters_xlsx_cannot_hold_are_written_escaped_and_the_file_opens(site):
    cells = xlsx_cells(export(site, "xlsx"))
    assert {"a\\x01b", "c\\x00d", "line\\x0bfeed"} <= set(cells)
    again = export(site, "xlsx")  # every later download too
    assert load_workbook(io.BytesIO(again)).active.max_row == len(cells) + 1


def test_the_command_line_exports_such_a_form_to_xlsx_and_raw_csv(site, tmp_path):
    runner = CliRunner()
    out = tmp_path / "tform.xlsx"
    done = runner.invoke(cli, ["export", "tform", "--format", "xlsx", "--out", str(out),
                               "--db", str(site.db_path)])
    assert done.exit_code == 0, done.output
    assert "a\\x01b" in xlsx_cells(out.read_bytes())
    raw = runner.invoke(cli, ["export", "tform", "--format", "csv", "--raw",
                              "--db", str(site.db_path)])
    assert raw.exit_code == 0
    assert HOSTILE["F1"] in csv_cases(raw.stdout_bytes)


def test_a_streamed_export_that_fails_part_way_is_logged_with_status_500(site, monkeypatch):
    import server.http.exports as route

    def failing(db, plan, fmt):
        yield b"seq,instance_id\n"
        raise RuntimeError("disk vanished")

    monkeypatch.setattr(route, "stream", failing)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("fieldsync.http")
    logger.addHandler(handler)
    parent = logging.getLogger("fieldsync")
    level = parent.level
    parent.setLevel(logging.INFO)
    try:
        with pytest.raises(RuntimeError):
            site.call("GET", "/api/v1/forms/tform/submissions", token=site.admin_token,
                      query_string={"format": "csv"}).get_data()
    finally:
        logger.removeHandler(handler)
        parent.setLevel(level)
    logged = [r.fields for r in records
              if getattr(r, "fields", {}).get("path") == "/api/v1/forms/tform/submissions"]
    assert [(f["status"], f.get("error"), f.get("bytes_out")) for f in logged] == [
        (500, "RuntimeError: disk vanished", len(b"seq,instance_id\n"))]


def test_a_bad_raw_value_is_refused(site):
    r = site.call("GET", "/api/v1/forms/tform/submissions", token=site.admin_token,
                  query_string={"format": "csv", "raw": "maybe"})
    assert r.status_code == 400 and "'raw' is true or false" in r.get_json()["error"]["message"]

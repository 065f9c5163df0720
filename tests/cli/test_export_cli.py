"""`fieldsync export`: file output, a summary with the next cursor on stderr, exit 1."""

from __future__ import annotations

import csv
import subprocess
import sys

from tests.helpers.forwarding import ingest_at_office, office_store, rss_records, rss_version


def run(*args):
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True,
                          text=True, timeout=120)


def test_export_writes_the_file_and_prints_the_next_seq(tmp_path):
    db = office_store(tmp_path / "s.db")
    ingest_at_office(db, rss_records(12, rss_version(db)))
    db.close()
    out = run("export", "rss", "--format", "csv", "--out", str(tmp_path / "rss.csv"),
              "--db", str(tmp_path / "s.db"))
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(open(tmp_path / "rss.csv", encoding="utf-8")))
    assert len(rows) == 12
    assert "exported 12 rows" in out.stderr and "--since" in out.stderr
    nxt = out.stderr.split("next: ")[1].split(" ")[0]
    again = run("export", "rss", "--since", nxt, "--format", "jsonl",
                "--db", str(tmp_path / "s.db"))
    assert again.returncode == 0 and again.stdout == ""


def test_export_of_an_unknown_form_is_a_one_line_error(tmp_path):
    out = run("export", "nope", "--db", str(tmp_path / "s.db"))
    assert out.returncode == 1 and "No form 'nope'" in out.stderr


def test_export_keeps_one_tablets_flagged_records_when_asked(tmp_path):
    db = office_store(tmp_path / "s.db")
    records = rss_records(6, rss_version(db), seed=4)
    bad = {**records[5], "data": {**records[5]["data"], "consent": "perhaps"}}  # invalid
    ingest_at_office(db, records[:3], device_id="tab-1")
    ingest_at_office(db, [*records[3:5], bad], device_id="tab-2")
    db.close()
    path = str(tmp_path / "s.db")
    tab2 = run("export", "rss", "--device", "tab-2", "--db", path)
    assert [r["instance_id"] for r in csv.DictReader(tab2.stdout.splitlines())] == [
        r["instance_id"] for r in records[3:6]]
    flagged = run("export", "rss", "--device", "tab-2", "--flagged", "--db", path)
    assert [r["instance_id"] for r in csv.DictReader(flagged.stdout.splitlines())] == [
        bad["instance_id"]]
    clean = run("export", "rss", "--not-flagged", "--enumerator", "enum", "--db", path)
    assert len(list(csv.DictReader(clean.stdout.splitlines()))) == 5

"""`fieldsync score --form FORM INPUT` as a user types it: JSON lines out, exit codes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from forms.xlsform import convert_xlsform
from tests.helpers.scoring import spec_doc
from tests.helpers.rss_records import BEST, WORST, build

RSS_MD = Path(__file__).resolve().parents[2] / "forms" / "builtin" / "rss.md"
GROUPS = ("econ", "social", "psycho")


def fieldsync(*args, db):
    cmd = [sys.executable, "-m", "server.cli", *map(str, args), "--db", str(db)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def lines(out) -> list[dict]:
    return [json.loads(line) for line in out.stdout.splitlines()]


@pytest.fixture(scope="module")
def model():
    return convert_xlsform(RSS_MD.read_bytes(), "rss.md").model


def write_jsonl(path, objects):
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return path


def test_score_jsonl_prints_one_json_line_per_record_with_its_composite(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [
        {"instance_id": "uuid:a", "form_id": "rss", "data": build(BEST)},
        {"instance_id": "uuid:b", "data": build(WORST)},
        {"instance_id": "uuid:c", "data": build(WORST, econ_satisfaction="satisfied")},
    ])
    out = fieldsync("score", "--form", RSS_MD, path, db=tmp_path / "none.db")
    assert out.returncode == 0, out.stderr
    got = lines(out)
    assert [g["instance_id"] for g in got] == ["uuid:a", "uuid:b", "uuid:c"]
    # rss-v1: econ_satisfaction weighs 0.05 in the composite and 0.15 in economic.
    assert [g["scores"]["composite"] for g in got] == pytest.approx([1, 0, 0.05 * 0.75])
    assert got[2]["scores"]["economic"] == pytest.approx(0.15 * 0.75)
    assert all(g["scoring_version"] == "rss-v1" for g in got)
    assert {"instance_id", "scoring_version", "scores", "indicators"} <= set(got[0])
    assert set(got[0]["scores"]) >= {"economic", "social", "psychosocial", "composite"}
    assert "scored 3 record(s) with rss-v1" in out.stderr
    assert not (tmp_path / "none.db").exists()  # a form file needs no store


def kobo_label(model, name: str, value: str) -> str:
    fld = model.resolve(name)
    choice = next((c for c in model.choices.get(fld.list_name or "", []) if c.name == value),
                  None)
    return choice.labels["English (en)"] if choice else value


def test_score_kobo_csv_export_with_labels_semicolons_and_uuid(tmp_path, model):
    fields = [(g, k) for g in GROUPS for k in sorted(set(BEST[g]) | set(WORST[g]))
              if k != "productive_assets"]
    header = (["start", "case_id", "consent"] + [f"{g}/{k}" for g, k in fields]
              + ["econ/productive_assets", "_uuid", "_submission_time"])
    best = build(BEST)
    worst = build(WORST, econ_satisfaction="satisfied")
    rows = []
    for uid, data in (("k1", best), ("k2", worst)):
        rows.append(["2026-03-02T10:00:00", data["case_id"], "Yes"]
                    + [kobo_label(model, k, data[g].get(k, "")) for g, k in fields]
                    + [data["econ"]["productive_assets"], uid, "2026-03-03T08:00:00"])
    path = tmp_path / "kobo.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(header)
        writer.writerows(rows)
    out = fieldsync("score", "--form", RSS_MD, path, db=tmp_path / "none.db")
    assert out.returncode == 0, out.stderr
    first, second = lines(out)
    assert (first["instance_id"], second["instance_id"]) == ("uuid:k1", "uuid:k2")
    assert first["scores"]["composite"] == pytest.approx(1)
    assert second["scores"]["composite"] == pytest.approx(0.05 * 0.75)
    assert second["indicators"]["econ_satisfaction"] == pytest.approx(0.75)


def test_score_a_published_form_id_uses_the_stores_current_spec(tmp_path):
    db = tmp_path / "s.db"
    assert fieldsync("forms", "publish", RSS_MD, db=db).returncode == 0
    spec = tmp_path / "rss-v2.json"
    spec.write_text(json.dumps(spec_doc("rss-v2")), encoding="utf-8")
    assert fieldsync("scoring", "publish", spec, db=db).stdout.strip() == "rss-v2 rss"
    path = write_jsonl(tmp_path / "in.jsonl",
                       [{"instance_id": "uuid:a", "data": build(WORST,
                                                                 econ_satisfaction="satisfied")}])
    [current] = lines(fieldsync("score", "--form", "rss", path, db=db))
    assert current["scoring_version"] == "rss-v2"
    assert current["scores"]["composite"] == pytest.approx(0.10 * 0.75)
    [older] = lines(fieldsync("score", "--form", "rss", "--spec", "rss-v1", path, db=db))
    assert older["scoring_version"] == "rss-v1"
    assert older["scores"]["composite"] == pytest.approx(0.05 * 0.75)


def test_score_jsonl_with_a_broken_line_exits_1_naming_the_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(build(BEST)) + "\n{oops\n", encoding="utf-8")
    out = fieldsync("score", "--form", RSS_MD, path, db=tmp_path / "none.db")
    assert out.returncode == 1
    assert len(lines(out)) == 1  # the good line before it was printed
    assert out.stderr.strip().splitlines()[-1].startswith("fieldsync: error: in.jsonl line 2")
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("name,content", [("in.xlsx", b"PK\x03\x04"), ("in.txt", b"a,b\n")])
def test_score_input_that_is_neither_jsonl_nor_csv_exits_1(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    out = fieldsync("score", "--form", RSS_MD, path, db=tmp_path / "none.db")
    assert out.returncode == 1
    assert out.stderr.startswith("fieldsync: error: ") and "neither .jsonl nor .csv" in out.stderr


def test_score_unknown_form_exits_1_saying_it_is_neither_file_nor_published(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [build(BEST)])
    out = fieldsync("score", "--form", "nosuchform", path, db=tmp_path / "none.db")
    assert out.returncode == 1
    assert "neither an XLSForm file" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_score_with_an_unknown_spec_version_exits_1(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [build(BEST)])
    out = fieldsync("score", "--form", RSS_MD, "--spec", "rss-v9", path, db=tmp_path / "x.db")
    assert out.returncode == 1 and "rss-v9" in out.stderr

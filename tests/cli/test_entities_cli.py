"""`fieldsync entities ...`, `fieldsync due ...`, `fieldsync trajectories` and
`fieldsync changes` as an office types them; one-line errors with exit 1."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from server.cli import cli
from server.ingest.pipeline import ingest
from server.registry.publish import publish_builtin_rss
from server.scores.specs import install_builtin_specs
from server.store import open_db

CASES = "case_id,label,return_date,assignee\nGIN-1,GIN-1,2025-09-01,enum1\nGIN-2,GIN-2,,\n"


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    where = tmp_path_factory.mktemp("cli") / "s.db"
    db = open_db(where, migrate=True)
    install_builtin_specs(db)
    publish_builtin_rss(db)
    db.close()
    return where


def run(path, *args, input=None):
    result = CliRunner().invoke(cli, [*args, "--db", str(path)], input=input)
    return result.exit_code, result.output


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_an_import_is_a_dry_run_until_apply_then_the_list_shows_and_exports(path, tmp_path):
    (tmp_path / "cases.csv").write_text(CASES)
    code, out = run(path, "entities", "import", "returnees", str(tmp_path / "cases.csv"),
                    "--key", "case_id")
    assert code == 0 and lines(out)[0]["created"] == 2 and "dry run" in out
    code, out = run(path, "entities", "lists")
    assert all(item["name"] != "returnees" for item in lines(out))
    code, out = run(path, "entities", "import", "returnees", str(tmp_path / "cases.csv"),
                    "--key", "case_id", "--apply")
    assert code == 0 and not lines(out)[0]["dry_run"]
    code, out = run(path, "entities", "export", "returnees", "--out",
                    str(tmp_path / "out.csv"))
    exported = (tmp_path / "out.csv").read_text().splitlines()
    assert code == 0 and exported[0].startswith("name,label,__version,")
    entity_id = exported[1].split(",")[0]
    code, out = run(path, "entities", "show", "returnees", entity_id)
    shown = lines(out)[0]
    assert shown["label"] == "GIN-1" and shown["versions"][0]["source"] == "import"


def test_a_bad_file_is_one_line_and_exit_1(path, tmp_path):
    (tmp_path / "bad.csv").write_text("name,case_id,label\nnot-a-uuid,GIN-9,X\n")
    code, out = run(path, "entities", "import", "returnees", str(tmp_path / "bad.csv"))
    assert code == 1 and out.startswith("fieldsync: error:")
    assert "row 2, column 'name': not a UUID" in out.splitlines()[0]
    code, out = run(path, "entities", "show", "nowhere")
    assert code == 1 and "No entity list 'nowhere'" in out


def test_a_conflict_is_listed_and_resolved_from_the_command_line(path):
    db = open_db(path)
    try:
        version = db.execute("SELECT current_version FROM forms WHERE form_id = 'rss'"
                             ).fetchone()[0]
        entity_id = db.execute("SELECT uuid FROM entities WHERE label = 'GIN-1'").fetchone()[0]
        for sex in ("male", "female"):
            ingest(db, [{"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
                         "form_version": version,
                         "data": {"case_id": "GIN-1", "survey_round": "6m", "sex": sex},
                         "entity": {"dataset": "returnees", "id": entity_id, "update": "1",
                                    "baseVersion": "1"}}], door="sync", user="enum1")
    finally:
        db.close()
    code, out = run(path, "entities", "conflicts", "--list", "returnees")
    [conflict] = lines(out)
    assert code == 0 and conflict["proposed"]["properties"]["sex"] == "female"
    code, out = run(path, "entities", "resolve", str(conflict["id"]), "apply",
                    "--set", "sex=female", "--comment", "checked by phone")
    assert code == 0 and lines(out)[0]["applied_version"] == 3
    code, out = run(path, "entities", "resolve", str(conflict["id"]), "dismiss")
    assert code == 1 and "already applied" in out


def test_due_list_and_schedule(path):
    code, out = run(path, "due", "list", "rss", "--on", "2026-03-10")
    header, *items = lines(out)
    assert code == 0 and sum(header["counts"].values()) == len(items) == 2
    code, out = run(path, "due", "schedule", "rss", "--rounds", "baseline=0,3m=3")
    assert code == 0 and [r["name"] for r in lines(out)[0]["rounds"]] == ["baseline", "3m"]
    code, out = run(path, "due", "schedule", "rss", "--rounds", "baseline")
    assert code == 2  # bad usage


def test_trajectories_and_changes_print_json(path):
    code, out = run(path, "trajectories", "--form", "rss", "--case-id", "GIN-1")
    assert code == 0 and lines(out)[0]["case_id"] == "GIN-1"
    code, out = run(path, "changes", "--form", "rss", "--from", "baseline", "--to", "6m",
                    "--by", "country,sex")
    assert code == 0 and lines(out)[0]["by"] == ["country_of_return", "sex"]

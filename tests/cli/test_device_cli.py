"""`fieldsync device ...` end to end against a real server on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from server.cli import cli

DOCS = Path(__file__).resolve().parents[2] / "docs" / "device.md"
COMMANDS = ("init", "pull", "fill", "push", "status", "import-collect")


def run(*args, input=None):
    """(exit code, stdout and stderr together, stdout alone)."""
    result = CliRunner().invoke(cli, ["device", *args], input=input)
    return result.exit_code, result.output, result.stdout


def test_every_device_command_is_listed_in_help_and_documented():
    code, out, _ = run("--help")
    assert code == 0 and "--db" in out and "FIELDSYNC_DEVICE_DB" in out
    docs = DOCS.read_text()
    for name in COMMANDS:
        assert name in out
        assert f"fieldsync device {name}" in docs
        sub_code, sub_out, _ = run(name, "--help")
        assert sub_code == 0 and "--db" in sub_out


def test_device_commands_before_init_fail_with_one_line(tmp_path):
    code, out, _ = run("status", "--db", str(tmp_path / "d.db"))
    assert code == 1
    assert "fieldsync device init" in out


def test_init_pull_fill_push_status_over_the_cli(site, tmp_path):
    db = str(tmp_path / "cli.db")
    code, out, _ = run("init", "--server", site.url, "--token", site.token, "--dir",
                       str(tmp_path / "media"), "--db", db)
    assert code == 0, out
    code, out, _ = run("pull", "--db", db)
    assert code == 0 and f"cached rss@{site.rss_version}" in out
    answers = "\n".join(["GIN-9", "1", "2026-01-10", "", "GIN", "", "1", "30", "2"]) + "\n"
    code, out, stdout = run("fill", "rss", "--db", db, input=answers)
    assert code == 0, out
    instance_id = stdout.strip().splitlines()[-1]
    assert instance_id.startswith("uuid:")
    code, out, _ = run("push", "--db", db)
    assert code == 0 and ("created 1" in out or "flagged 1" in out), out
    code, out, _ = run("status", "--json", "--db", db)
    status = json.loads(out)
    assert (status["queued"], status["sent"]) == (0, 1)
    assert status["last_push"] is not None
    assert instance_id in {iid for iid, _, _ in site.rows()}


def test_import_collect_cli_reports_problems_and_exit_zero(site, tmp_path):
    db = str(tmp_path / "imp.db")
    run("init", "--server", site.url, "--token", site.token, "--db", db)
    bad = tmp_path / "instances" / "bad"
    bad.mkdir(parents=True)
    (bad / "bad.xml").write_text("<data")
    code, out, _ = run("import-collect", str(tmp_path / "instances"), "--db", db)
    assert code == 0 and "queued 0" in out and "skipped" in out
    code, out, _ = run("import-collect", str(tmp_path / "nowhere"), "--db", db)
    assert code == 1 and len(out.strip().splitlines()) == 1 and "does not exist" in out

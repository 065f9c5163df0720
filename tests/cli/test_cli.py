"""The command line as a user types it: output, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import FIXTURES


def fieldsync(*args, stdin=None, db=None):
    cmd = [sys.executable, "-m", "server.cli", *args]
    if db is not None:
        cmd += ["--db", str(db)]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)


def test_token_create_prints_only_the_token(tmp_path):
    db = tmp_path / "s.db"
    assert fieldsync("user", "add", "ama", "--role", "admin", db=db).returncode == 0
    out = fieldsync("token", "create", "ama", db=db)
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert len(lines) == 1 and len(lines[0]) >= 40


def test_tokens_and_passwords_are_stored_hashed(tmp_path):
    db = tmp_path / "s.db"
    fieldsync("user", "add", "ama", "--role", "admin", "--password-stdin",
              stdin="correct horse battery\n", db=db)
    token = fieldsync("token", "create", "ama", db=db).stdout.strip()
    raw = (tmp_path / "s.db").read_bytes() + (tmp_path / "s.db-wal").read_bytes() \
        if (tmp_path / "s.db-wal").exists() else (tmp_path / "s.db").read_bytes()
    assert token.encode() not in raw
    assert b"correct horse battery" not in raw


def test_forms_publish_prints_form_id_and_version(tmp_path):
    out = fieldsync("forms", "publish", str(FIXTURES / "household.md"), db=tmp_path / "s.db")
    assert out.returncode == 0
    assert out.stdout.strip() == "tform 2026112901"


def test_forms_publish_error_is_one_line_with_the_row_and_exit_1(tmp_path):
    bad = tmp_path / "bad.md"
    bad.write_text((FIXTURES / "household.md").read_text().replace("select_one yn",
                                                                    "select_one nolist"))
    out = fieldsync("forms", "publish", str(bad), db=tmp_path / "s.db")
    assert out.returncode == 1
    assert out.stderr.startswith("fieldsync: error: ")
    assert "row 4" in out.stderr
    assert "Traceback" not in out.stderr


def test_unknown_role_is_a_usage_error_exit_2(tmp_path):
    out = fieldsync("user", "add", "x", "--role", "god", db=tmp_path / "s.db")
    assert out.returncode == 2


def test_duplicate_user_is_a_user_error_exit_1(tmp_path):
    db = tmp_path / "s.db"
    fieldsync("user", "add", "ama", "--role", "analyst", db=db)
    out = fieldsync("user", "add", "ama", "--role", "analyst", db=db)
    assert out.returncode == 1 and "already exists" in out.stderr


def test_token_for_unknown_user_says_how_to_create_it(tmp_path):
    out = fieldsync("token", "create", "ghost", db=tmp_path / "s.db")
    assert out.returncode == 1 and "fieldsync user add" in out.stderr


def test_db_defaults_to_env_var(tmp_path, monkeypatch):
    import os

    env = {**os.environ, "FIELDSYNC_DB": str(tmp_path / "env.db")}
    out = subprocess.run([sys.executable, "-m", "server.cli", "user", "add", "ama", "--role",
                          "admin"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert (tmp_path / "env.db").exists()


def test_every_command_has_help():
    from server.cli import cli

    def walk(group, prefix):
        for name, cmd in group.commands.items():
            yield prefix + [name], cmd
            if hasattr(cmd, "commands"):
                yield from walk(cmd, prefix + [name])

    for path, cmd in walk(cli, []):
        assert cmd.help or cmd.short_help, f"fieldsync {' '.join(path)} has no help text"
        if not hasattr(cmd, "commands"):
            names = {p.name for p in cmd.params}
            assert "db_path" in names, f"fieldsync {' '.join(path)} lacks --db"


def test_forms_check_prints_findings_as_json_lines_and_exits_1_on_errors(tmp_path):
    import json

    good = tmp_path / "good.json"
    good.write_text(json.dumps({"case_id": "C1", "econ": {"working": "yes", "age": "30"}}))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"econ": {"working": "maybe", "age": "300"}}))
    ok = fieldsync("forms", "check", str(FIXTURES / "household.md"), str(good))
    assert ok.returncode == 0 and ok.stdout == ""
    out = fieldsync("forms", "check", str(FIXTURES / "household.md"), str(bad))
    assert out.returncode == 1
    findings = [json.loads(line) for line in out.stdout.splitlines()]
    codes = {f["code"] for f in findings}
    assert {"required_missing", "choice_unknown", "constraint_failed"} <= codes
    assert all(f["file"].endswith("bad.json") for f in findings)

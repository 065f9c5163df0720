"""The layout rules a newcomer relies on: imports go one way, modules stay small,
every command and route is documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("forms", "scoring", "sync", "server")
# package -> top-level names it must never import
FORBIDDEN = {
    "forms": {"flask", "server", "sync", "scoring", "werkzeug"},
    "scoring": {"flask", "server", "sync", "werkzeug"},
    "sync": {"flask", "server", "scoring", "werkzeug"},
    "server": set(),
}
MAX_MODULE_LINES = 600


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_imports_go_one_way():
    broken = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for name in imports_of(path):
                if name.split(".")[0] in FORBIDDEN[package]:
                    broken.append(f"{path.relative_to(ROOT)} imports {name}")
    assert broken == []


def test_scoring_reads_forms_only_through_the_model():
    uses = set()
    for path in (ROOT / "scoring").rglob("*.py"):
        uses |= {n for n in imports_of(path) if n.startswith("forms")}
    assert uses <= {"forms.model", "forms"}


def test_modules_stay_small_enough_to_read_at_once():
    big = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            lines = len(path.read_text().splitlines())
            if lines > MAX_MODULE_LINES:
                big.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert big == []


def test_every_route_is_documented_in_api_md():
    from server.app import create_app

    doc = (ROOT / "docs" / "API.md").read_text()
    app = create_app({"DATABASE": ":memory:"})
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"OPTIONS"}):
            if method == "HEAD" and "GET" in rule.methods:
                continue
            if not re.search(rf"`{method} {re.escape(path)}[`?\[]", doc):
                missing.append(f"{method} {path}")
    assert missing == []


def test_every_cli_command_is_documented_in_cli_md():
    from server.cli import cli

    doc = (ROOT / "docs" / "CLI.md").read_text()

    def walk(group, prefix):
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                yield from walk(cmd, prefix + [name])
            else:
                yield " ".join(prefix + [name])

    missing = [c for c in walk(cli, ["fieldsync"]) if f"`{c}" not in doc]
    assert missing == []


def test_every_error_code_the_server_can_render_is_listed_in_api_md():
    from server.errors import CODES

    doc = (ROOT / "docs" / "API.md").read_text()
    assert [code for code in CODES if f"`{code}`" not in doc] == []

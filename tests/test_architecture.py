"""The layout rules a newcomer relies on: imports go one way, modules stay small,
tests mirror the packages, every command and route is documented."""

from __future__ import annotations

import ast
import re
import sys
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
# What scoring may use of forms: the compiled model (it never parses an XLSForm
# itself), the one function that reads an answer in a record, and the base
# class of every package's errors; beside that, the standard library only.
SCORING_USES_OF_FORMS = {"forms.model", "forms.record", "forms.errors"}
# The server's parts, and which other parts each may import: the folder tree
# is the architecture diagram, and this table is its arrows. A part is a
# subpackage or a root module; registry is two parts, since publishing a form
# releases its quarantined records through ingest, which reads the compiled
# models. The table has no cycle (a test checks). A new package adds its row.
SERVER_IMPORTS = {
    "errors": set(),
    "logs": set(),
    "i18n": set(),
    "store": {"errors"},
    "registry.models": {"errors", "store"},
    "accounts": {"errors", "store"},
    "dedup": {"errors", "store"},
    "forwarding": {"errors", "store"},
    "entities": {"errors", "store", "registry.models"},
    "scores": {"errors", "store", "registry.models"},
    "exports": {"errors", "store", "registry.models"},
    "ingest": {"errors", "store", "registry.models", "dedup", "entities", "forwarding",
               "scores"},
    "registry.publish": {"errors", "store", "registry.models", "ingest", "scores"},
    "review": {"errors", "store", "registry.models", "registry.publish", "dedup",
               "exports", "ingest"},
    "enketo": {"errors", "store", "registry.models", "registry.publish", "accounts",
               "review"},
    # the outer layer: the doors and faces, and what starts them
    "http": {"errors", "store", "exports"},
    "openrosa": {"errors", "store", "registry.models", "registry.publish", "accounts",
                 "entities", "ingest"},
    "central": {"errors", "store", "registry.models", "accounts", "ingest", "openrosa",
                "review"},
    "routes": {"errors", "store", "registry.models", "registry.publish", "accounts",
               "central", "enketo", "entities", "exports", "forwarding", "http", "i18n",
               "ingest", "openrosa", "review", "scores"},
    "console": {"errors", "store", "registry.models", "registry.publish", "accounts",
                "enketo", "forwarding", "http", "i18n", "openrosa", "review", "scores"},
    "app": {"errors", "logs", "store", "accounts", "console", "http", "i18n", "ingest",
            "routes"},
    "ops": {"errors", "logs", "store", "registry.publish", "accounts", "forwarding",
            "scores", "app"},
    "cli": {"errors", "store", "registry.models", "registry.publish", "accounts",
            "enketo", "entities", "exports", "forwarding", "ingest", "review", "scores",
            "ops"},
    "wsgi": {"app"},
}
MAX_MODULE_LINES = 600


def imports_of(path: Path) -> set[str]:
    """The modules ``path`` imports (``from a import b`` gives ``a`` and, when
    ``a.b`` is a module of this repository, ``a.b``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                if (ROOT / sub.replace(".", "/")).with_suffix(".py").exists() \
                        or (ROOT / sub.replace(".", "/")).is_dir():
                    names.add(sub)
    return names


def server_part(module: str) -> str | None:
    """The part of the server (``SERVER_IMPORTS``) a module ``server.x...`` is in."""
    parts = module.split(".")
    if parts[0] != "server" or len(parts) < 2:
        return None
    if parts[1] == "registry":
        return f"registry.{parts[2]}" if len(parts) > 2 else None
    return parts[1]


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def test_imports_go_one_way():
    broken = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for name in imports_of(path):
                if name.split(".")[0] in FORBIDDEN[package]:
                    broken.append(f"{path.relative_to(ROOT)} imports {name}")
    assert broken == []


def test_scoring_uses_forms_only_through_the_model_the_answer_reader_and_errors():
    broken = []
    for path in (ROOT / "scoring").rglob("*.py"):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top == "forms":
                if name != "forms" and name not in SCORING_USES_OF_FORMS:
                    broken.append(f"{path.relative_to(ROOT)} imports {name}")
            elif top not in sys.stdlib_module_names and top != "scoring":
                broken.append(f"{path.relative_to(ROOT)} imports {name}")
    assert broken == []


def test_each_part_of_the_server_imports_only_the_parts_below_it():
    broken = []
    for path in (ROOT / "server").rglob("*.py"):
        part = server_part(module_name(path))
        if part is None:
            continue  # server/__init__.py, server/registry/__init__.py
        if part not in SERVER_IMPORTS:
            broken.append(f"{path.relative_to(ROOT)}: add server/{part} to SERVER_IMPORTS "
                          "in tests/test_architecture.py")
            continue
        for name in imports_of(path):
            other = server_part(name)
            if other and other != part and other not in SERVER_IMPORTS[part]:
                broken.append(f"{path.relative_to(ROOT)} ({part}) imports {name}")
    assert broken == []


def test_the_parts_of_the_server_import_each_other_without_a_cycle():
    done: set[str] = set()

    def visit(part: str, path: tuple[str, ...]) -> None:
        assert part not in path, " -> ".join(path + (part,))
        if part not in done:
            for other in SERVER_IMPORTS[part]:
                visit(other, path + (part,))
            done.add(part)

    for part in SERVER_IMPORTS:
        visit(part, ())


def test_the_store_imports_nothing_of_the_server_but_its_errors():
    assert SERVER_IMPORTS["store"] == {"errors"}
    outer = {"http", "openrosa", "central", "routes", "console", "app", "ops", "cli", "wsgi"}
    assert not any(outer & SERVER_IMPORTS[p] for p in SERVER_IMPORTS.keys() - outer)


def test_tests_mirror_the_packages():
    """tests/server/X is server/X; tests/cli holds the CLI's tests."""
    strays = [d.name for d in (ROOT / "tests" / "server").iterdir()
              if d.is_dir() and d.name != "__pycache__"
              and not (ROOT / "server" / d.name).is_dir()]
    assert strays == []
    loose = [p.name for p in (ROOT / "tests" / "server").glob("test_*.py")]
    assert loose == []


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

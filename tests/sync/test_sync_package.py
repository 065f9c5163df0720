"""The sync package's boundaries: no Flask, no server, a declared public surface."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import sync

SYNC = Path(sync.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_sync_never_imports_flask_or_the_server():
    for path in SYNC.glob("*.py"):
        assert not imported_modules(path) & {"flask", "werkzeug", "server", "scoring"}, path


def test_every_public_name_of_the_device_modules_exists():
    for name in ("client", "engine", "device", "device_store", "fill", "collect_import"):
        module = importlib.import_module(f"sync.{name}")
        assert module.__all__ and all(hasattr(module, n) for n in module.__all__)

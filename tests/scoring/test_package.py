"""The scoring package's public surface and import boundary."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import scoring

PACKAGE = Path(scoring.__file__).parent


def test_public_names_are_exported():
    for name in scoring.__all__:
        assert hasattr(scoring, name), name


def test_scoring_imports_only_forms_model_and_the_standard_library():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert (
                    top in sys.stdlib_module_names or top == "scoring"
                    or name == "forms.model"
                ), f"{path.name} imports {name}"


def test_specs_ship_inside_the_package():
    assert (PACKAGE / "specs" / "rss-v1.json").is_file()

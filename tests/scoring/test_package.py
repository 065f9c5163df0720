"""The scoring package's public surface (its import boundary: tests/test_architecture.py)."""

from __future__ import annotations

from pathlib import Path

import scoring

PACKAGE = Path(scoring.__file__).parent


def test_public_names_are_exported():
    for name in scoring.__all__:
        assert hasattr(scoring, name), name


def test_specs_ship_inside_the_package():
    assert (PACKAGE / "specs" / "rss-v1.json").is_file()

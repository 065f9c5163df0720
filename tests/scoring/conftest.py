"""Shared fixtures: the built-in RSS form model and the rss-v1 spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from forms.xlsform import convert_xlsform
from scoring import load_spec

RSS_MD = Path(__file__).resolve().parents[2] / "forms" / "builtin" / "rss.md"


@pytest.fixture(scope="session")
def rss_form():
    return convert_xlsform(RSS_MD.read_bytes(), "rss.md")


@pytest.fixture(scope="session")
def model(rss_form):
    return rss_form.model


@pytest.fixture(scope="session")
def spec():
    return load_spec("rss-v1")

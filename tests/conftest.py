"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.store import open_db
from tests.helpers.live import LiveServer

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "corpus"


@pytest.fixture(scope="session")
def corpus():
    """Every XLSForm of tests/fixtures/corpus converted once per session:
    {file name: CompiledForm}. The media files they read sit beside them."""
    from forms.xlsform import convert_xlsform

    return {path.name: convert_xlsform(path.read_bytes(), path.name)
            for path in sorted(CORPUS.glob("*.md"))}


@pytest.fixture
def db(tmp_path):
    """A fresh, migrated store in a temporary file."""
    database = open_db(tmp_path / "store.db", migrate=True)
    yield database
    database.close()


@pytest.fixture
def live_server(tmp_path):
    """A running server on 127.0.0.1 with a fresh store; stopped after the test."""
    server = LiveServer(tmp_path / "server.db").start()
    yield server
    server.stop()


@pytest.fixture
def admin(live_server):
    """A requests session authenticated as an admin of ``live_server``."""
    return live_server.session(live_server.token_for("ama", "admin"))

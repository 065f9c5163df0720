"""Fixtures for the server tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def rss(live_server, admin):
    """A live server with the built-in RSS form: ``.admin`` and ``.device`` (an
    enumerator's session) and ``.version`` (the form's current version). Modules
    that need the RSS form on an in-process store define their own ``rss``."""
    live_server.admin = admin
    live_server.version = admin.get(f"{live_server.url}/api/v1/forms/rss").json()[
        "current_version"]
    live_server.device = live_server.session(live_server.token_for("enum", "enumerator"))
    return live_server

"""The console tests' store: the RSS form, one account per role, and a few
records from two tablets."""

from __future__ import annotations

import pytest

from tests.helpers.console import Console
from tests.helpers.forwarding import rss_records


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    c = Console(tmp_path_factory.mktemp("console") / "console.db")
    c.push(rss_records(12, c.version, seed=3), device="tab-1")
    c.push([c.record(case_id="GIN-2026-09001", consent="perhaps")], device="tab-2",
           user="supervisor1")
    yield c
    c.db.close()

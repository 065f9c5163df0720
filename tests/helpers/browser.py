"""Headless Chromium for the console's browser tests: Debian's /usr/bin/chromium
driven by Playwright (its own browser download is never used).

`make test` installs the `chromium` package when it runs as root on a machine
without it; elsewhere it says what to install. A missing browser fails the
browser tests with that instruction: the pages are never left untested.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("FIELDSYNC_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage"]
INSTALL = "install Debian's browser: sudo apt-get install -y chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"


def require_chromium() -> str:
    """The browser's path; the test fails, saying what to install, when it is missing."""
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return CHROMIUM
    pytest.fail(f"no Chromium at {CHROMIUM}: {INSTALL}")


def launch(playwright):
    return playwright.chromium.launch(executable_path=require_chromium(), args=ARGS)


def screenshot(page, name: str) -> Path:
    """Save the whole page to tests/screenshots/NAME.png (git-ignored) for a person."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

"""Headless Chromium (Debian's package) driven by Playwright, for the web app's browser test. Playwright's
own browser download cannot work here (no internet): it drives the system's Chromium via
``executable_path``. As root, Chromium needs --no-sandbox; the background-networking flags keep it from
calling out (the machine's network is closed, and tests stay on loopback)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM_FLAGS = [
    "--headless=new",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    for name in (os.environ.get("SLEUTH_TEST_CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name) if name else None
        if found:
            return found
    pytest.skip(
        "no Chromium to drive: install Debian's chromium package (scripts/test.sh does, as root) or set "
        "SLEUTH_TEST_CHROMIUM to a Chromium binary"
    )


@contextmanager
def browser_page() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extras")
    flags = CHROMIUM_FLAGS + (["--no-sandbox"] if os.geteuid() == 0 else [])
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=flags, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()

"""Fixtures of the browser tests: one Chromium and one served hub per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.served_hub import served_hub
from tests.web.browser import WebHub, chromium_path


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright, for the module's tests (a browser must be installed)."""
    chromium_path()
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Chromium (Debian's), for the module's tests."""
    launched = playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=["--no-sandbox"]
    )
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture(scope="module")
def web(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebHub]:
    """A hub served on loopback for the module's tests, with the browser to visit it."""
    data_dir: Path = tmp_path_factory.mktemp("web-hub")
    with served_hub(data_dir, items=24, hello={"broken_pages": True}) as served:
        yield WebHub(served, browser)

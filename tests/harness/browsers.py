"""Browser tests' fixtures: Debian's Chromium driven by Playwright, and the real bot server
(tests/browser.py has the helpers and says how to use them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import BROWSER_TEST_SETTINGS, WebServer


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (a Playwright `Browser`) for the tests of one module. Not for the
    whole run: while Playwright's sync API is open, pytest-asyncio cannot run a test's event
    loop, so a module that uses it has no async tests, and it is closed before the next one."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch_browser

    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """`python -m bot run` on 127.0.0.1 (SQLite in a temporary folder, no platform tokens),
    shared by the tests of one module; `.url`, `.data_dir`, `.env`, `.cli(...)`."""
    folder = tmp_path_factory.mktemp("web_server")
    with WebServer.started(folder, **BROWSER_TEST_SETTINGS) as server:
        yield server

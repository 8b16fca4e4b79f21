"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

Playwright never downloads a browser here: it launches the system Chromium, which the
``chromium_path`` fixture finds or installs (Debian's package; see tests/chromium.py).
Screenshots land in test-artifacts/ (git-ignored). When a test fails, the page as it was is
saved to test-artifacts/failures/ and the file is named in the test's report (a section of
the terminal output, and a ``screenshot`` property in JUnit XML).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Generator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from tests.integration.app.browser.pages import ARTIFACTS, WIDE

# Headless, as root, and without the background traffic this machine's closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_CALL_FAILED = pytest.StashKey[bool]()


def failure_screenshot(item: pytest.Item) -> Path:
    """Where the page of a failed test is saved."""
    return ARTIFACTS / "failures" / (re.sub(r"[^\w.-]+", "_", item.nodeid) + ".png")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Name the failure screenshot in the report of a failed browser test (the ``page``
    fixture's teardown takes it, before pytest prints the failure)."""
    report = yield
    if report.when == "call" and report.failed and "page" in getattr(item, "fixturenames", ()):
        item.stash[_CALL_FAILED] = True
        shot = str(failure_screenshot(item))
        report.sections.append(("dashboard screenshot", f"the page when it failed: {shot}\n"))
        item.user_properties.append(("screenshot", shot))
    return report


@pytest.fixture
async def page(request: pytest.FixtureRequest, chromium_path: str) -> AsyncIterator[Page]:
    """A fresh page in headless system Chromium; no JavaScript error may happen on it."""
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        context = await browser.new_context(viewport=WIDE)
        new_page = await context.new_page()
        errors: list[str] = []
        new_page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield new_page
            if request.node.stash.get(_CALL_FAILED, False):
                shot = failure_screenshot(request.node)
                shot.parent.mkdir(parents=True, exist_ok=True)
                await new_page.screenshot(path=str(shot), full_page=True)
        finally:
            await browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"

"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

Playwright never downloads a browser here: it launches the system Chromium
(``WAASP_TEST_CHROMIUM``, default /usr/bin/chromium, which ``.ci/run`` installs).
Screenshots land in test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Dialog, Page, async_playwright, expect

from tests.integration.app.conftest import TOKEN, ClientFactory
from tests.integration.app.test_monitor_api import Tasks, burst, closed_port
from waasp.runtime import Runtime

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("WAASP_TEST_CHROMIUM", "/usr/bin/chromium")
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
WAIT_MS = 10_000  # the page refreshes every 2 s


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    """A fresh page in headless system Chromium."""
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} not found: apt-get install chromium (or set WAASP_TEST_CHROMIUM)"
    )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        new_page = await context.new_page()
        errors: list[str] = []
        new_page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield new_page
        finally:
            await browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


async def accept(dialog: Dialog) -> None:
    """Say yes to the page's confirm()."""
    await dialog.accept()


async def log_in(page: Page, base: str) -> None:
    """Open the dashboard, try a wrong token, then log in with the right one."""
    response = await page.goto(f"{base}/dashboard")
    assert response is not None and response.status == 401
    await expect(page.locator("#login-form")).to_be_visible()
    await page.fill("#token", "not-the-token")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_have_text("That token is not valid.")
    await page.fill("#token", TOKEN)
    await page.click("#login-submit")
    await expect(page.locator("#data")).to_be_visible()


async def test_login_counts_failures_and_replay(
    make_client: ClientFactory, runtime: Runtime, page: Page
) -> None:
    """Log in, watch a queue's counts change, see a failure's traceback, replay it away."""
    ARTIFACTS.mkdir(exist_ok=True)
    tasks = Tasks(runtime)
    client = await make_client(runtime=runtime)
    base = str(client.make_url("")).rstrip("/")
    await log_in(page, base)

    await runtime.send_many([tasks.ok.s(i) for i in range(3)])
    waiting = page.locator('#queues tr[data-queue="default"] td.waiting')
    await expect(waiting).to_have_text("3", timeout=WAIT_MS)
    await runtime.send_many([tasks.ok.s(i) for i in range(2)])
    await expect(waiting).to_have_text("5", timeout=WAIT_MS)

    hostile = '<img src=x onerror="document.title=1">'
    manual = await runtime.dlq.send("tests.monitor.ok", (0,), reason="manual", error=hostile)
    await tasks.boom.delay()
    await burst(runtime)
    letters = page.locator("#dlq tbody tr[data-id]")
    await expect(letters).to_have_count(2, timeout=WAIT_MS)
    await expect(waiting).to_have_text("0", timeout=WAIT_MS)
    failure = page.locator("#failures details", has_text="tests.monitor.boom")
    await failure.locator("summary").click()
    await expect(failure.locator("pre")).to_contain_text("ValueError: kaput")
    await expect(page.locator(f'#dlq tr[data-id="{manual}"] td.error')).to_contain_text(hostile)
    assert await page.locator("#dlq img").count() == 0  # shown as text, never as HTML
    await expect(page.locator("#chart rect.ok").first).to_be_visible()
    await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    row = page.locator("#dlq tbody tr", has_text="tests.monitor.boom")
    await row.locator("button.replay").click()
    await expect(letters).to_have_count(1, timeout=WAIT_MS)
    await expect(page.locator("#dlq-total")).to_have_text("(1)")
    await expect(waiting).to_have_text("1", timeout=WAIT_MS)  # the replayed task is back

    page.on("dialog", accept)
    await page.locator(f'#dlq tr[data-id="{manual}"] button.delete').click()
    await expect(letters).to_have_count(0, timeout=WAIT_MS)
    await page.screenshot(path=str(ARTIFACTS / "dashboard-after-replay.png"), full_page=True)

    reloaded = await page.reload()  # the login form left a cookie: the page itself now passes
    assert reloaded is not None and reloaded.status == 200
    await expect(page.locator("#data")).to_be_visible()


async def test_redis_down_shows_a_clear_message(make_client: ClientFactory, page: Page) -> None:
    """With Redis unreachable the page says so instead of showing data, and keeps retrying."""
    ARTIFACTS.mkdir(exist_ok=True)
    down = Runtime("waasp", broker_url=f"redis://127.0.0.1:{closed_port()}/0", environ={})
    try:
        client = await make_client(runtime=down)
        base = str(client.make_url("")).rstrip("/")
        await page.goto(f"{base}/dashboard")
        await page.fill("#token", TOKEN)
        await page.click("#login-submit")
        banner = page.locator("#banner")
        await expect(banner).to_have_text("Redis is unreachable — retrying", timeout=WAIT_MS)
        await expect(page.locator("#data")).to_be_hidden()
        await page.screenshot(path=str(ARTIFACTS / "dashboard-redis-down.png"))
    finally:
        await down.close()

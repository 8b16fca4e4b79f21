"""The queue table's Pause and Resume buttons: confirmed first, their result shown."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.integration.app.browser.pages import WAIT_MS, base_url, log_in
from tests.integration.app.conftest import ClientFactory
from tests.integration.app.test_monitor_api import Tasks
from waasp.runtime import Runtime

pytestmark = pytest.mark.slow


async def test_pause_and_resume_from_the_queue_table(
    make_client: ClientFactory, runtime: Runtime, page: Page
) -> None:
    """Pause asks first (cancel changes nothing), then pauses the queue for every worker and
    says so; the row shows it paused, and Resume undoes it."""
    tasks = Tasks(runtime)
    await runtime.send_many([tasks.ok.s(1)])
    await log_in(page, base_url(await make_client(runtime=runtime)), "runtime")
    row = page.locator('#queues tr[data-queue="default"]')
    await expect(row.locator("td.state")).to_have_text("active", timeout=WAIT_MS)
    await row.locator("button.pause").click()
    await expect(page.locator("#confirm-title")).to_have_text("Pause queue default?")
    await page.click("#confirm-cancel")
    assert await runtime.control.paused() == []
    await row.locator("button.pause").click()
    await page.click("#confirm-ok")
    await expect(page.locator("#toast")).to_have_text("Queue default paused.")
    await expect(row.locator("td.state")).to_have_text("paused", timeout=WAIT_MS)
    assert await runtime.control.paused() == ["default"]
    await row.locator("button.resume").click()
    await page.click("#confirm-ok")
    await expect(page.locator("#toast")).to_have_text("Queue default resumed.")
    await expect(row.locator("td.state")).to_have_text("active", timeout=WAIT_MS)
    assert await runtime.control.paused() == []

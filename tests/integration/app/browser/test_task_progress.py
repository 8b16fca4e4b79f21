"""A running task's progress (``update_state``) on the dashboard's task page."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Page, expect

from tests.integration.app.browser.pages import WAIT_MS, base_url, log_in
from tests.integration.app.browser.test_task_pages import look_up
from tests.integration.app.conftest import ClientFactory
from waasp.runtime import Runtime, Task, Worker

pytestmark = pytest.mark.slow


async def test_task_page_shows_progress(
    make_client: ClientFactory, runtime: Runtime, page: Page
) -> None:
    """While a task reports PROGRESS the page shows the state and its meta, and the task's
    arguments (it is in flight); then its result."""
    proceed = asyncio.Event()

    @runtime.task(name="tests.browser.reporting", bind=True)
    async def reporting(self: Task, total: int) -> str:
        self.update_state(state="PROGRESS", meta={"done": 4, "total": total})
        await proceed.wait()
        return "all done"

    await log_in(page, base_url(await make_client(runtime=runtime)), "task")
    worker = Worker(runtime, ["default"], 2)
    running = asyncio.create_task(worker.run())
    try:
        res = await reporting.delay(9)
        await look_up(page, res.id)
        await expect(page.locator("#task-state")).to_have_text("PROGRESS", timeout=WAIT_MS)
        await expect(page.locator("#task-fields")).to_contain_text('{"done":4,"total":9}')
        await expect(page.locator("#task-body pre.args")).to_have_text("(9)")
        proceed.set()
        await expect(page.locator("#task-state")).to_have_text("SUCCESS", timeout=WAIT_MS)
        await expect(page.locator("#task-body pre.result")).to_have_text('"all done"')
        await expect(page.locator("#task-fields")).not_to_contain_text("Progress")
    finally:
        proceed.set()
        worker.stop()
        await asyncio.wait_for(running, 30)

"""The standalone dashboard in a real browser (the WAASP dashboard's set-up: system Chromium,
Playwright): the login with the printed token, the app's queues and tasks, and no trace of
WAASP's own pages."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.integration.app.browser.pages import WAIT_MS, screenshots
from tests.integration.runtime.dashboard.conftest import DashboardFactory
from tests.integration.runtime.dashboard.shop import refund, ship_order
from waasp.runtime import Runtime

pytestmark = pytest.mark.slow


async def test_logs_in_with_the_printed_token_and_shows_the_apps_queues(
    start_dashboard: DashboardFactory, shop_runtime: Runtime, page: Page
) -> None:
    """The page opens on the runtime's view (WAASP's views are absent), shows the app's queue
    with its counts, the schedule and a queue's waiting tasks, and a task found by its id."""
    dashboard = await start_dashboard()
    assert dashboard.token is not None
    first = await ship_order.delay(1)
    await ship_order.delay(2)
    await refund.delay(3)

    response = await page.goto(f"{dashboard.base}/dashboard")
    assert response is not None and response.status == 401
    await expect(page.locator("#login-form")).to_contain_text("WAASP_DASHBOARD_TOKEN")
    await page.fill("#token", dashboard.token)
    await page.click("#login-submit")
    await expect(page.locator("#view-runtime")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#nav a")).to_have_text(["Tasks & queues", "Find a task"])
    assert await page.locator("#view-contacts, #view-decisions, #contact-dialog").count() == 0
    await expect(page).to_have_title("waasp.runtime — dashboard")

    waiting = page.locator('#queues tr[data-queue="orders"] td.waiting')
    await expect(waiting).to_have_text("3", timeout=WAIT_MS)
    await expect(page.locator("#schedule tbody")).to_contain_text("nightly-report")
    await ship_order.delay(4)
    await expect(waiting).to_have_text("4", timeout=WAIT_MS)
    await screenshots(page, "standalone-dashboard-runtime")

    await page.locator('#queues a:text-is("orders")').click()
    await expect(page.locator("#queue-waiting tbody tr")).to_have_count(4, timeout=WAIT_MS)
    await expect(page.locator("#queue-waiting")).to_contain_text(refund.name)
    await page.locator(f'#queue-waiting a[title="{first.id}"]').click()
    await expect(page.locator("#task-detail")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#task-fields")).to_contain_text(ship_order.name)
    await page.goto(f"{dashboard.base}/dashboard#nope")  # an unknown view: the home view
    await expect(page.locator("#view-runtime")).to_be_visible(timeout=WAIT_MS)

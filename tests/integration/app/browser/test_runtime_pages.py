"""The runtime's pages in a browser: log in, queues and failures, replay and delete dead
letters, the throughput chart and its history, and a clear message when Redis is down."""

from __future__ import annotations

import itertools

import pytest
from playwright.async_api import Page, expect

from tests.integration.app.browser.pages import WAIT_MS, base_url, log_in, open_view, screenshots
from tests.integration.app.conftest import TOKEN, ClientFactory
from tests.integration.app.test_monitor_api import Tasks, burst, closed_port
from waasp.runtime import Runtime

pytestmark = pytest.mark.slow


async def test_login_refuses_a_wrong_token_and_lands_on_recent_decisions(
    make_client: ClientFactory, page: Page
) -> None:
    """The page is a 401 with a login form; a wrong token is refused; the right one opens the
    whitelist view first; a reload passes on the cookie; logging out asks again."""
    base = base_url(await make_client())
    response = await page.goto(f"{base}/dashboard")
    assert response is not None and response.status == 401
    await expect(page.locator("#login-form")).to_be_visible()
    await page.fill("#token", "not-the-token")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_have_text("That token is not valid.")
    await page.fill("#token", TOKEN)
    await page.click("#login-submit")
    await expect(page.locator("#view-decisions")).to_be_visible()
    await expect(page.locator('#nav a[aria-current="page"]')).to_have_text("Recent decisions")

    reloaded = await page.reload()  # the login form left a cookie: the page itself now passes
    assert reloaded is not None and reloaded.status == 200
    await expect(page.locator("#view-decisions")).to_be_visible()
    await page.click("#logout")
    await expect(page.locator("#login-form")).to_be_visible()
    await expect(page.locator("#nav")).to_be_hidden()


async def test_queues_failures_replay_and_delete(
    make_client: ClientFactory, runtime: Runtime, page: Page
) -> None:
    """Watch a queue's counts change, see a failure's traceback, replay one dead letter and
    delete another, each after confirming."""
    tasks = Tasks(runtime)
    await log_in(page, base_url(await make_client(runtime=runtime)), "runtime")

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
    await screenshots(page, "dashboard-runtime")

    row = page.locator("#dlq tbody tr", has_text="tests.monitor.boom")
    await row.locator("button.replay").click()
    await expect(page.locator("#confirm")).to_be_visible()
    await page.click("#confirm-cancel")  # cancelled: nothing happens
    await expect(letters).to_have_count(2)
    await row.locator("button.replay").click()
    await page.click("#confirm-ok")
    await expect(page.locator("#toast")).to_contain_text("Replayed as task")
    await expect(letters).to_have_count(1, timeout=WAIT_MS)
    await expect(page.locator("#dlq-total")).to_have_text("(1)")
    await expect(waiting).to_have_text("1", timeout=WAIT_MS)  # the replayed task is back

    await page.locator(f'#dlq tr[data-id="{manual}"] button.delete').click()
    await expect(page.locator("#confirm-title")).to_have_text("Delete dead letter?")
    await page.click("#confirm-ok")
    await expect(page.locator("#toast")).to_have_text(f"Dead letter {manual} deleted.")
    await expect(letters).to_have_count(0, timeout=WAIT_MS)


async def test_throughput_has_a_y_axis_and_an_hour_of_history(
    make_client: ClientFactory, runtime: Runtime, page: Page
) -> None:
    """The chart labels its y-axis with four even steps of round numbers from 0, and shows the
    last hour in minute bars on request."""
    tasks = Tasks(runtime)
    await runtime.send_many([tasks.ok.s(i) for i in range(7)])
    await burst(runtime)
    await log_in(page, base_url(await make_client(runtime=runtime)), "runtime")

    ticks = page.locator("#chart text.tick")
    await expect(ticks).to_have_count(5, timeout=WAIT_MS)
    values = [int(text) for text in await ticks.all_text_contents()]
    assert values[0] == 0 and len({b - a for a, b in itertools.pairwise(values)}) == 1, values
    tops = await page.evaluate(
        "async () => [0, 4, 5, 7, 9, 30, 101]"
        ".map((await import('/dashboard/chart.js')).niceCeiling)"
    )
    assert tops == [4, 4, 8, 8, 20, 40, 200]
    await expect(page.locator("#chart-caption")).to_have_text(
        "finished tasks per 10 s, last 10 minutes"
    )
    assert await page.locator("#chart rect.ok").count() >= 1
    await page.click('button[data-minutes="60"]')
    await expect(page.locator("#chart-caption")).to_have_text(
        "finished tasks per 1 min, last hour", timeout=WAIT_MS
    )
    await expect(page.locator('button[data-minutes="60"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    height = await page.locator("#chart rect.ok").first.get_attribute("height")
    assert height is not None and float(height) > 0


async def test_redis_down_shows_a_clear_message(make_client: ClientFactory, page: Page) -> None:
    """With Redis unreachable the runtime page says so instead of showing data, and keeps
    retrying; the whitelist views still work."""
    down = Runtime("waasp", broker_url=f"redis://127.0.0.1:{closed_port()}/0", environ={})
    try:
        await log_in(page, base_url(await make_client(runtime=down)), "runtime")
        banner = page.locator("#banner")
        await expect(banner).to_have_text("Redis is unreachable — retrying", timeout=WAIT_MS)
        await expect(page.locator("#view-runtime")).to_be_hidden()
        await screenshots(page, "dashboard-redis-down")
        await open_view(page, "contacts")
        await expect(banner).to_be_hidden(timeout=WAIT_MS)
    finally:
        await down.close()

"""Task lookup and queue contents in a browser: a task's state, arguments, result, error and
traceback, retries; what waits in a queue and what is delayed until when; long ids and
errors in a narrow window."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.integration.app.browser.pages import (
    NARROW,
    WAIT_MS,
    base_url,
    fits,
    log_in,
    open_view,
    screenshots,
)
from tests.integration.app.conftest import ClientFactory
from tests.integration.app.test_monitor_api import Tasks, burst
from waasp.runtime import Runtime

pytestmark = pytest.mark.slow
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


async def look_up(page: Page, task_id: str) -> None:
    """Type ``task_id`` in the lookup form and submit it."""
    await page.fill("#task-id", task_id)
    await page.click("#task-form button[type=submit]")
    await expect(page.locator("#task-title")).to_have_text(task_id, timeout=WAIT_MS)


async def test_task_lookup_shows_state_arguments_result_and_traceback(
    make_client: ClientFactory, runtime: Runtime, page: Page
) -> None:
    """A waiting task shows its arguments and queue, then its result once run; a failed one
    its error, traceback and dead letter; revoke is offered only while it has not finished."""
    tasks = Tasks(runtime)
    hostile = "<script>document.title='pwned'</script>"
    waiting = await tasks.ok.apply_async(kwargs={"x": 21})
    odd = await tasks.ok.delay(hostile)
    failing = await tasks.boom.delay()
    await log_in(page, base_url(await make_client(runtime=runtime)), "task")

    await look_up(page, waiting.id)
    await expect(page.locator("#task-state")).to_have_text("PENDING")
    await expect(page.locator("#task-body pre.args")).to_have_text("(x=21)")
    await expect(page.locator("#task-fields")).to_contain_text("waiting in queue default")
    await expect(page.locator("#task-revoke")).to_be_enabled()
    await screenshots(page, "dashboard-task-waiting")

    await burst(runtime)
    await expect(page.locator("#task-state")).to_have_text("SUCCESS", timeout=WAIT_MS)
    await expect(page.locator("#task-revoke")).to_be_disabled()
    await expect(page.locator("#task-revoke-note")).to_have_text(
        "It has finished: nothing to revoke."
    )
    await expect(page.locator("#task-body pre.result")).to_have_text("42")
    await expect(page.locator("#task-fields")).to_contain_text("Retries")
    assert "#task/" in page.url

    await look_up(page, odd.id)  # arguments and results are text, never markup
    await expect(page.locator("#task-body pre.result")).to_have_text(f'"{hostile * 2}"')
    assert await page.title() == "WAASP — dashboard"

    await look_up(page, failing.id)
    await expect(page.locator("#task-state")).to_have_text("FAILURE")
    await expect(page.locator("#task-body pre.error")).to_have_text("ValueError: kaput")
    await expect(page.locator("#task-body pre.traceback")).to_contain_text("raise ValueError")
    await expect(page.locator("#task-fields")).to_contain_text("in the dead letters of queue")
    await screenshots(page, "dashboard-task-failed")

    await look_up(page, "no-such-task")
    await expect(page.locator("#task-state")).to_have_text("PENDING")
    await expect(page.locator("#task-body")).to_contain_text("No record and no message")
    await open_view(page, "task/" + "x" * 256)  # the form's field stops at 255; a link may not
    await expect(page.locator("#task-error")).to_contain_text("at most 255 characters")
    await expect(page.locator("#task-detail")).to_be_hidden()


async def test_queue_contents_from_the_queues_table(
    make_client: ClientFactory, runtime: Runtime, page: Page
) -> None:
    """A queue's name opens its contents: waiting tasks with arguments, delayed ones with their
    due time; a task id there opens the task."""
    tasks = Tasks(runtime)
    first = await tasks.ok.delay(1)
    await tasks.ok.delay(2)
    later = await tasks.ok.apply_async((3,), countdown=3600)
    await log_in(page, base_url(await make_client(runtime=runtime)), "runtime")

    await page.locator("#queues a", has_text="default").click()
    await expect(page.locator("#view-queue")).to_be_visible()
    await expect(page.locator("#queue-name")).to_have_text("default")
    await expect(page.locator('#nav a[aria-current="page"]')).to_have_text("Tasks & queues")
    await expect(page.locator("#queue-waiting tbody tr")).to_have_count(2, timeout=WAIT_MS)
    await expect(page.locator("#queue-waiting-total")).to_have_text("(2)")
    await expect(page.locator(f'#queue-waiting tr[data-id="{first.id}"]')).to_contain_text("(1)")
    delayed = page.locator(f'#queue-delayed tr[data-id="{later.id}"]')
    await expect(delayed).to_contain_text("(3)")
    await expect(delayed.locator("time")).to_have_attribute("datetime", ISO_TIME)
    await screenshots(page, "dashboard-queue")

    await tasks.ok.delay(4)
    await expect(page.locator("#queue-waiting-total")).to_have_text("(3)", timeout=WAIT_MS)
    await page.locator(f'#queue-waiting a[title="{first.id}"]').click()
    await expect(page.locator("#task-title")).to_have_text(first.id, timeout=WAIT_MS)


async def test_long_ids_and_errors_fit_a_narrow_window(
    make_client: ClientFactory, runtime: Runtime, page: Page
) -> None:
    """A 200-character task id and a long error neither widen the page nor wrap an id: ids
    end in an ellipsis (the whole id on hover), errors wrap between words."""
    tasks = Tasks(runtime)
    long_id = "task-" + "0123456789" * 20
    error = "the webhook answered 502 Bad Gateway " * 12
    await tasks.ok.apply_async((1,), task_id=long_id)
    await runtime.dlq.send("tests.monitor.ok", (0,), reason="manual", error=error)
    await page.set_viewport_size(NARROW)
    await log_in(page, base_url(await make_client(runtime=runtime)), "queue/default")

    cell = page.locator(f'#queue-waiting a[title="{long_id}"]')
    await expect(cell).to_be_visible(timeout=WAIT_MS)
    box = await cell.bounding_box()
    assert box is not None and box["x"] + box["width"] <= NARROW["width"]
    font_size = await cell.evaluate("(node) => parseFloat(getComputedStyle(node).fontSize)")
    assert box["height"] < 2 * font_size  # one line, not a column of characters
    await fits(page)

    await open_view(page, "runtime")
    letter_error = page.locator("#dlq td.error").first
    await expect(letter_error).to_contain_text("502 Bad Gateway", timeout=WAIT_MS)
    await fits(page)
    height_in_fonts = await letter_error.evaluate(
        "(node) => { const r = document.createRange(); r.selectNodeContents(node);"
        " return r.getBoundingClientRect().height / parseFloat(getComputedStyle(node).fontSize); }"
    )
    assert height_in_fonts > 3  # wrapped over several lines inside its card
    await screenshots(page, "dashboard-narrow-long-ids")
    await open_view(page, f"task/{long_id}")
    await expect(page.locator("#task-title")).to_have_text(long_id, timeout=WAIT_MS)
    await fits(page)


async def test_revoke_a_waiting_task_from_its_page(
    make_client: ClientFactory, runtime: Runtime, page: Page
) -> None:
    """Revoke asks first (Cancel changes nothing), then says what it did and shows REVOKED;
    the task never runs."""
    tasks = Tasks(runtime)
    waiting = await tasks.ok.delay(1)
    await log_in(page, base_url(await make_client(runtime=runtime)), "task")
    await look_up(page, waiting.id)
    await page.click("#task-revoke")
    await expect(page.locator("#confirm")).to_be_visible()
    await page.click("#confirm-cancel")
    await expect(page.locator("#task-state")).to_have_text("PENDING")
    await page.click("#task-revoke")
    await page.select_option("#confirm-terminate", "true")
    await page.click("#confirm-ok")
    await expect(page.locator("#toast")).to_contain_text(f"Revoked {waiting.id}", timeout=WAIT_MS)
    await expect(page.locator("#task-state")).to_have_text("REVOKED", timeout=WAIT_MS)
    await expect(page.locator("#task-revoke")).to_be_disabled()
    await screenshots(page, "dashboard-task-revoked")
    await burst(runtime)
    assert await waiting.state() == "REVOKED"
    assert (await waiting.meta()).worker is not None  # a worker dropped it, unrun

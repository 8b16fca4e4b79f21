"""Helpers of the browser tests: logging in, opening a view, screenshots at two widths."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, ViewportSize, expect

from tests.integration.app.conftest import TOKEN, Client

ROOT = Path(__file__).resolve().parents[4]
ARTIFACTS = ROOT / "test-artifacts"
WIDE = ViewportSize(width=1280, height=900)
NARROW = ViewportSize(width=375, height=800)  # a phone
WAIT_MS = 10_000  # live views refresh every 2 s; a loaded machine is slower


def base_url(client: Client) -> str:
    """The test server's root, without the trailing slash."""
    return str(client.make_url("")).rstrip("/")


async def log_in(page: Page, base: str, view: str = "") -> None:
    """Open the dashboard (at ``#view`` if given) and log in with the token."""
    await page.goto(f"{base}/dashboard{'#' + view if view else ''}")
    await page.fill("#token", TOKEN)
    await page.click("#login-submit")
    await expect(page.locator("#nav")).to_be_visible()


async def go(page: Page, view: str) -> None:
    """Follow the link to ``#view``."""
    await page.evaluate("(hash) => { window.location.hash = hash; }", view)


async def open_view(page: Page, view: str) -> None:
    """Follow the link to ``#view`` (a logged-in page) and wait until it shows."""
    await go(page, view)
    name = view.split("/", 1)[0]
    await expect(page.locator(f"#view-{name}")).to_be_visible(timeout=WAIT_MS)


async def fits(page: Page) -> None:
    """Nothing is wider than the window: no sideways scrolling, nothing cut off."""
    overflow = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the window"


async def screenshots(page: Page, name: str) -> None:
    """Save the page at the wide and the narrow width (test-artifacts/NAME-{wide,narrow}.png),
    checking at each that it fits the window."""
    for label, size in (("wide", WIDE), ("narrow", NARROW)):
        await page.set_viewport_size(size)
        await page.wait_for_timeout(100)  # let the chart take the new width
        await fits(page)
        await page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size(WIDE)

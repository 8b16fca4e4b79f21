"""Recent decisions in a browser: who was refused, and Allow or Block with one click, a
confirmation and a visible result, each change audited once."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from playwright.async_api import Locator, Page, expect

from tests.integration.app.browser.pages import (
    WAIT_MS,
    base_url,
    go,
    log_in,
    screenshots,
)
from tests.integration.app.conftest import AUTH, Client, ClientFactory, proxied_url
from tests.proxy import ToggleProxy

pytestmark = pytest.mark.slow


async def check(client: Client, sender: str, channel: str | None, times: int = 1) -> bool:
    """Check ``sender`` on ``channel`` ``times`` times; return whether the last one passed."""
    allowed = False
    for _ in range(times):
        response = await client.post(
            "/api/v1/check", json={"sender_id": sender, "channel": channel}
        )
        allowed = (await response.json())["allowed"]
    return allowed


async def contact(client: Client, sender: str, channel: str | None = None) -> Any:
    """The contact row for exactly (sender, channel), or None."""
    params = {"channel": channel} if channel else {}
    response = await client.get(f"/api/v1/contacts/{sender}", params=params, headers=AUTH)
    return await response.json() if response.status == 200 else None


async def audit_actions(pg: asyncpg.Connection, sender: str) -> list[str]:
    """The admin actions audited for ``sender``, oldest first."""
    rows = await pg.fetch(
        "SELECT action FROM audit_logs WHERE sender_id = $1 AND action NOT IN "
        "('allowed', 'blocked', 'limited') ORDER BY id",
        sender,
    )
    return [row["action"] for row in rows]


def row(page: Page, sender: str, channel: str) -> Locator:
    """The recent-decisions row of (sender, channel)."""
    return page.locator(f'#decisions tr[data-sender="{sender}"][data-channel="{channel}"]')


async def test_allow_from_recent_decisions(
    client: Client, page: Page, pg: asyncpg.Connection
) -> None:
    """An unknown sender refused three times on sms is allowed on sms only, with the trust
    level chosen; a cancelled dialog changes nothing; the result is shown and audited once; a
    block on every channel says that the sms contact still decides there."""
    await check(client, "stranger", "sms", times=3)
    await check(client, "other", "email")
    await log_in(page, base_url(client))

    stranger = row(page, "stranger", "sms")
    await expect(stranger.locator("td").nth(2)).to_have_text("3", timeout=WAIT_MS)
    await expect(stranger).to_contain_text("unknown sender")
    await expect(page.locator("#decisions-summary")).to_have_text("4 refused checks from 2 senders")
    await expect(page.locator("#decisions tbody tr")).to_have_count(2)
    await screenshots(page, "dashboard-decisions")

    await stranger.locator("button.allow").click()
    await expect(page.locator("#confirm-title")).to_have_text("Allow stranger?")
    await page.click("#confirm-cancel")
    await expect(page.locator("#confirm")).to_be_hidden()
    assert await contact(client, "stranger", "sms") is None

    await stranger.locator("button.allow").click()
    await expect(page.locator("#confirm-scope")).to_have_value("channel")
    await page.select_option("#confirm-trust", "limited")
    await screenshots(page, "dashboard-allow-dialog")
    await page.click("#confirm-ok")
    await expect(page.locator("#toast")).to_have_text("stranger added as limited on channel “sms”.")
    await expect(stranger).to_contain_text("limited", timeout=WAIT_MS)
    assert (await contact(client, "stranger", "sms"))["trust_level"] == "limited"
    assert await contact(client, "stranger") is None  # other channels: still unknown
    assert await check(client, "stranger", "sms")
    assert not await check(client, "stranger", "email")
    assert await audit_actions(pg, "stranger") == ["contact_added"]

    await stranger.locator("button.block").click()  # everywhere: sms keeps its own contact
    await page.select_option("#confirm-scope", "all")
    await page.click("#confirm-ok")
    await expect(page.locator("#toast")).to_have_text(
        "stranger added as blocked on every channel. On “sms” its own contact (limited) still"
        " decides."
    )
    assert await check(client, "stranger", "sms")
    assert await audit_actions(pg, "stranger") == ["contact_added", "contact_added"]


async def test_allow_changes_the_contact_that_blocks_and_block_blocks(
    client: Client, page: Page, pg: asyncpg.Connection
) -> None:
    """A sender blocked on every channel is allowed by changing that contact (one
    trust_changed entry); Block makes an unknown sender's refusal explicit, then is disabled."""
    body = {"sender_id": "mallory", "trust_level": "blocked"}
    assert (await client.post("/api/v1/contacts", json=body, headers=AUTH)).status == 201
    await check(client, "mallory", "email", times=2)
    await check(client, "bot", None)
    await log_in(page, base_url(client), "decisions")

    mallory = row(page, "mallory", "email")
    await expect(mallory).to_contain_text("blocked all channels", timeout=WAIT_MS)
    await expect(mallory.locator("button.block")).to_be_disabled()
    await mallory.locator("button.allow").click()
    await expect(page.locator("#confirm-scope")).to_have_value("all")
    await page.click("#confirm-ok")
    await expect(page.locator("#toast")).to_have_text("mallory now trusted on every channel.")
    await expect(mallory).to_contain_text("trusted all channels", timeout=WAIT_MS)
    assert await check(client, "mallory", "sms")
    assert await audit_actions(pg, "mallory") == ["contact_added", "trust_changed"]

    bot = row(page, "bot", "all channels")
    await bot.locator("button.block").click()
    await expect(page.locator("#confirm-title")).to_have_text("Block bot?")
    await expect(page.locator("#confirm-scope option")).to_have_count(1)  # no channel to pick
    await page.click("#confirm-ok")
    await expect(page.locator("#toast")).to_have_text("bot added as blocked on every channel.")
    await expect(bot.locator("button.block")).to_be_disabled(timeout=WAIT_MS)
    assert (await contact(client, "bot"))["trust_level"] == "blocked"


async def test_the_day_window_shows_older_refusals(
    client: Client, page: Page, pg: asyncpg.Connection
) -> None:
    """A refusal of two hours ago shows under "Last 24 hours", not under "Last hour"."""
    await check(client, "yesterday", "sms")
    await pg.execute("UPDATE audit_logs SET created_at = now() - interval '2 hours'")
    await check(client, "today", "sms")
    await log_in(page, base_url(client))

    await expect(page.locator("#decisions tbody tr")).to_have_count(1, timeout=WAIT_MS)
    await expect(row(page, "today", "sms")).to_be_visible()
    await page.click('button[data-window="24h"]')
    await expect(row(page, "yesterday", "sms")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#decisions tbody tr")).to_have_count(2)
    await page.click('button[data-window="1h"]')
    await expect(page.locator("#decisions tbody tr")).to_have_count(1, timeout=WAIT_MS)


async def test_postgresql_down_shows_a_clear_message_and_recovers(
    make_client: ClientFactory, pg_proxy: ToggleProxy, app_database_url: str, page: Page
) -> None:
    """With PostgreSQL unreachable the whitelist views say so instead of showing data, and
    show the data again once it is back, without a reload."""
    client = await make_client(database_url=proxied_url(app_database_url, pg_proxy))
    await check(client, "knocker", "sms")
    await log_in(page, base_url(client))
    await expect(row(page, "knocker", "sms")).to_be_visible(timeout=WAIT_MS)

    await pg_proxy.stop()
    await go(page, "contacts")  # read on arrival: the first read meets the outage
    banner = page.locator("#banner")
    await expect(banner).to_have_text("PostgreSQL is unreachable — retrying", timeout=WAIT_MS)
    await expect(page.locator("#view-contacts")).to_be_hidden()
    await page.wait_for_timeout(2500)  # a retry or two, still down: still the message
    await expect(banner).to_be_visible()
    await expect(page.locator("#view-contacts")).to_be_hidden()
    await pg_proxy.start()  # the page retries by itself every 2 s
    await expect(banner).to_be_hidden(timeout=WAIT_MS)
    await expect(page.locator("#contacts tbody")).to_contain_text("none")

"""Contacts and the audit log in a browser: search, add, edit, delete; filter and page."""

from __future__ import annotations

import asyncpg
import pytest
from playwright.async_api import Locator, Page, expect

from tests.integration.app.browser.pages import WAIT_MS, base_url, log_in, screenshots
from tests.integration.app.conftest import AUTH, Client

pytestmark = pytest.mark.slow
DASH = "\N{EN DASH}"  # the pager writes its ranges with an en dash


async def add(client: Client, sender: str, trust: str, **fields: str) -> None:
    """Add a contact through the API."""
    body = {"sender_id": sender, "trust_level": trust, **fields}
    assert (await client.post("/api/v1/contacts", json=body, headers=AUTH)).status == 201


def contact_row(page: Page, sender: str, channel: str = "all channels") -> Locator:
    """The contacts table's row of (sender, channel)."""
    return page.locator(f'#contacts tr[data-sender="{sender}"][data-channel="{channel}"]')


async def test_contacts_search_add_edit_delete(
    client: Client, page: Page, pg: asyncpg.Connection
) -> None:
    """Search narrows the list; a contact is added (a duplicate is refused in the dialog),
    edited and deleted after confirming; each change is in the audit trail once."""
    await add(client, "alice@example.org", "trusted", name="Alice")
    await add(client, "bob", "limited", name="Robert", channel="sms")
    await log_in(page, base_url(client), "contacts")
    rows = page.locator("#contacts tbody tr")
    await expect(rows).to_have_count(2, timeout=WAIT_MS)
    await expect(page.locator("#contacts-total")).to_have_text("(2)")

    await page.fill("#contacts-search", "ROBERT")
    await expect(rows).to_have_count(1)
    await expect(contact_row(page, "bob", "sms")).to_contain_text("limited")
    await page.fill("#contacts-search", "")
    await page.select_option("#contacts-trust", "trusted")
    await expect(rows).to_have_count(1)
    await expect(contact_row(page, "alice@example.org")).to_be_visible()
    await page.select_option("#contacts-trust", "")
    await expect(rows).to_have_count(2)

    await page.click("#contact-add")
    await page.fill("#contact-sender", "bob")
    await page.fill("#contact-channel", "sms")
    await page.click("#contact-save")
    await expect(page.locator("#contact-error")).to_have_text(
        "A contact for this sender already exists on this channel."
    )
    await page.fill("#contact-channel", "")
    await page.select_option("#contact-trust", "sovereign")
    await page.fill("#contact-notes", "the owner")
    await screenshots(page, "dashboard-contact-dialog")
    await page.click("#contact-save")
    await expect(page.locator("#toast")).to_have_text(
        "Contact bob (all channels) added: sovereign."
    )
    await expect(rows).to_have_count(3)
    await screenshots(page, "dashboard-contacts")

    await contact_row(page, "bob", "sms").locator("button.edit").click()
    await expect(page.locator("#contact-sender")).to_be_disabled()
    await page.select_option("#contact-trust", "blocked")
    await page.fill("#contact-name", "Bob on SMS")
    await page.click("#contact-save")
    await expect(page.locator("#toast")).to_have_text("Contact bob (sms) saved: blocked.")
    await expect(contact_row(page, "bob", "sms")).to_contain_text("Bob on SMS")

    await contact_row(page, "alice@example.org").locator("button.delete").click()
    await expect(page.locator("#confirm-title")).to_have_text("Delete alice@example.org?")
    await page.click("#confirm-ok")
    await expect(page.locator("#toast")).to_have_text(
        "Contact alice@example.org (all channels) deleted."
    )
    await expect(rows).to_have_count(2)
    audited = await pg.fetch("SELECT action, sender_id, channel FROM audit_logs ORDER BY id")
    assert [tuple(r) for r in audited][2:] == [
        ("contact_added", "bob", None),
        ("trust_changed", "bob", "sms"),
        ("contact_removed", "alice@example.org", None),
    ]


async def test_contacts_page_100_at_a_time(
    client: Client, page: Page, pg: asyncpg.Connection
) -> None:
    """The contacts view pages the API's 100 at a time; a search starts again at the top."""
    await pg.executemany(
        "INSERT INTO contacts (sender_id, trust_level) VALUES ($1, 'trusted')",
        [(f"p{i:03d}",) for i in range(105)],
    )
    await log_in(page, base_url(client), "contacts")
    rows = page.locator("#contacts tbody tr")
    await expect(rows).to_have_count(100, timeout=WAIT_MS)
    await expect(page.locator("#contacts-total")).to_have_text("(105)")
    await expect(page.locator("#contacts-page")).to_have_text(f"1{DASH}100 of 105")
    await expect(page.locator("#contacts-newer")).to_be_disabled()
    await page.click("#contacts-older")
    await expect(rows).to_have_count(5)
    await expect(page.locator("#contacts-page")).to_have_text(f"101{DASH}105 of 105")
    await expect(page.locator("#contacts-older")).to_be_disabled()
    await page.fill("#contacts-search", "P00")
    await expect(page.locator("#contacts-page")).to_have_text(f"1{DASH}10 of 10")
    await expect(rows).to_have_count(10)


async def test_audit_log_filters_and_pages(client: Client, page: Page) -> None:
    """The audit log filters by sender, action and channel, and pages 50 entries at a time."""
    await add(client, "carol", "trusted")
    for i in range(55):
        await client.post("/api/v1/check", json={"sender_id": f"s{i}", "channel": "sms"})
    await client.post("/api/v1/check", json={"sender_id": "carol", "channel": "email"})
    await log_in(page, base_url(client), "audit")
    rows = page.locator("#audit tbody tr")
    await expect(rows).to_have_count(50, timeout=WAIT_MS)
    await expect(page.locator("#audit-page")).to_have_text(f"entries 1{DASH}50")
    await expect(page.locator("#audit-newer")).to_be_disabled()
    await expect(rows.first).to_contain_text("carol")
    await page.click("#audit-older")
    await expect(page.locator("#audit-page")).to_have_text(f"entries 51{DASH}57")
    await expect(page.locator("#audit-older")).to_be_disabled()
    await expect(rows.last).to_contain_text("contact_added")

    await page.select_option("#audit-action", "allowed")
    await expect(page.locator("#audit-page")).to_have_text(f"entries 1{DASH}1")
    await expect(rows.first).to_contain_text("trusted contact")
    await page.fill("#audit-sender", "s7")
    await page.select_option("#audit-action", "")
    await page.fill("#audit-channel", "sms")
    await page.click("#audit-filter button[type=submit]")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("unknown sender")
    await screenshots(page, "dashboard-audit")
    await page.click("#audit-clear")
    await expect(rows).to_have_count(50)

"""The account page in a real browser: sign in (sandbox), see balance and ledger, sign out."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from shared.money.ledger import EntryKind, Ledger
from shared.storage.keys import ACCOUNTS_TABLE
from shared.storage.table_store import TableStore
from tests.servers import LocalHost


def sign_in(page: Page, host: LocalHost) -> str:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    page.goto(host.base_url + "/")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who")).to_have_text(email)
    return email


def test_a_new_user_signs_in_and_sees_a_zero_balance(page: Page, host: LocalHost) -> None:
    sign_in(page, host)
    expect(page.locator("#balance")).to_have_text("0.00 USD")
    expect(page.locator("#ledger-empty")).to_be_visible()
    expect(page.locator("#mode")).to_contain_text("Sandbox")


def test_the_ledger_shows_entries_newest_first_with_the_balance(
    page: Page, host: LocalHost, table_store: TableStore
) -> None:
    sign_in(page, host)
    user_id = page.evaluate("fetch('/api/me').then(r => r.json()).then(me => me.user_id)")
    ledger = Ledger(table_store.table(ACCOUNTS_TABLE))
    ledger.post(user_id, "pay_browser", 10_000_000, EntryKind.CREDIT_PURCHASE)
    ledger.post(user_id, "CA_browser", -250_000, EntryKind.CALL_CHARGE)
    page.reload()
    expect(page.locator("#balance")).to_have_text("9.75 USD")
    rows = page.locator("#ledger tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Call")
    expect(rows.nth(0)).to_contain_text("-0.25 USD")
    expect(rows.nth(1)).to_contain_text("Credit bought")


def test_signing_out_returns_to_the_sign_in_form_and_stays_out(page: Page, host: LocalHost) -> None:
    sign_in(page, host)
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_label("Email")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Email")).to_be_visible()
    expect(page.locator("#signed-in")).to_be_hidden()


def test_a_bad_email_shows_the_servers_sentence(page: Page, host: LocalHost) -> None:
    page.goto(host.base_url + "/")
    # The browser's own check would stop "x@y"; the server must still explain its refusal.
    page.get_by_label("Email").fill("x@y")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("is not an email address")

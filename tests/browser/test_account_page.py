"""The account in a real browser: sign in (sandbox), see balance and ledger, sign out."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from shared.money.ledger import EntryKind, Ledger
from shared.storage.keys import ACCOUNTS_TABLE
from shared.storage.table_store import TableStore
from tests.browser.dialer import MINUS, money, sign_in, user_id
from tests.servers import LocalHost


def test_a_new_user_signs_in_and_sees_a_zero_balance(page: Page, host: LocalHost) -> None:
    email = sign_in(page, host)
    expect(page.locator("#balance")).to_have_text(money("USD 0.00"))
    expect(page.locator("#mode")).to_contain_text("Sandbox")
    expect(page.locator("#low-balance")).to_contain_text("Your balance is empty")
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.locator("#who")).to_have_text(email)
    page.get_by_role("link", name="Credit", exact=True).click()
    expect(page.locator("#ledger-empty")).to_be_visible()


def test_the_ledger_shows_entries_newest_first_in_words_with_the_balance(
    page: Page, host: LocalHost, table_store: TableStore
) -> None:
    sign_in(page, host)
    ledger = Ledger(table_store.table(ACCOUNTS_TABLE))
    user = user_id(page)
    ledger.post(user, "pay_browser", 10_000_000, EntryKind.CREDIT_PURCHASE)
    ledger.post(user, "CA_browser", -250_000, EntryKind.CALL_CHARGE)
    page.goto(host.base_url + "/#/credit")
    page.reload()
    expect(page.locator("#balance")).to_have_text(money("USD 9.75"))
    rows = page.locator("#ledger li")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Call to")
    expect(rows.nth(0).locator(".amount")).to_have_text(money(MINUS + "USD 0.25"))
    expect(rows.nth(0).locator(".after")).to_have_text(money("balance USD 9.75"))
    expect(rows.nth(1)).to_contain_text("Credit bought")
    expect(rows.nth(1).locator(".amount")).to_have_text(money("+USD 10.00"))


def test_signing_out_returns_to_the_sign_in_form_and_stays_out(page: Page, host: LocalHost) -> None:
    sign_in(page, host)
    page.get_by_role("link", name="Account", exact=True).click()
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_label("Email")).to_be_visible()
    expect(page.locator("#tabs")).to_be_hidden()
    page.reload()
    expect(page.get_by_label("Email")).to_be_visible()
    expect(page.locator("#balance-box")).to_be_hidden()


def test_a_bad_email_shows_the_servers_sentence(page: Page, host: LocalHost) -> None:
    page.goto(host.base_url + "/")
    # The browser's own check would stop "x@y"; the server must still explain its refusal.
    page.get_by_label("Email").fill("x@y")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#error")).to_contain_text("is not an email address")


def test_an_error_does_not_outlive_sign_out(page: Page, host: LocalHost) -> None:
    page.goto(host.base_url + "/")
    page.get_by_label("Email").fill("x@y")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#error")).to_be_visible()
    sign_in(page, host)
    expect(page.locator("#error")).to_be_hidden()
    page.get_by_role("link", name="Account", exact=True).click()
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.locator("#error")).to_be_hidden()

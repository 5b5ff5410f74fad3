"""Buying credit in a real browser: a pack, the sandbox's checkout page, back with the credit."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.dialer import buy_pack, money, sign_in
from tests.servers import LocalHost


def test_packs_are_labelled_so_that_they_cannot_be_misread(page: Page, host: LocalHost) -> None:
    sign_in(page, host, "/#/credit")
    labels = page.locator("#packs button").all_inner_texts()
    assert [re.sub(r"\s+", " ", label) for label in labels] == [
        "USD 5.00 → USD 5.00 credit",
        "USD 10.00 → USD 10.00 credit",
        "USD 25.00 → USD 25.00 credit",
    ]


def test_buying_a_pack_through_the_sandbox_checkout_credits_the_balance(
    page: Page, host: LocalHost
) -> None:
    sign_in(page, host)
    buy_pack(page, "USD 10.00")
    expect(page.locator("#checkout-status")).to_have_text(
        money("Payment received: USD 10.00 added to your balance.")
    )
    expect(page.locator("#balance")).to_have_text(money("USD 10.00"))
    expect(page.locator("#ledger li").first).to_contain_text("Credit bought · card •••• 4242")
    assert "checkout=" not in page.url
    expect(page.locator("#low-balance")).to_be_hidden()


def test_cancelling_the_checkout_charges_nothing(page: Page, host: LocalHost) -> None:
    sign_in(page, host, "/#/credit")
    page.get_by_role("button", name=re.compile(r"^Buy: pay USD\s5\.00")).click()
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("#checkout-status")).to_have_text(
        "Checkout cancelled: nothing was charged."
    )
    expect(page.locator("#balance")).to_have_text(money("USD 0.00"))


def test_a_bank_payment_stays_pending_across_reloads_until_it_lands(
    page: Page, host: LocalHost
) -> None:
    sign_in(page, host, "/#/credit")
    page.get_by_role("button", name=re.compile(r"^Buy: pay USD\s10\.00")).click()
    by_bank = page.get_by_role("button", name="Pay by bank transfer (settles later)")
    expect(by_bank).to_be_visible()
    checkout_page = page.url
    by_bank.click()
    expect(page.locator("#checkout-status")).to_contain_text("being confirmed by your bank")
    pending = page.locator("#pending-payments li")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text(money("USD 10.00 payment being confirmed"))
    page.reload()
    expect(pending).to_have_count(1)
    expect(page.locator("#pending-banner")).to_be_visible()
    expect(page.locator("#balance")).to_have_text(money("USD 0.00"))

    page.goto(checkout_page)
    page.get_by_role("button", name="The transfer arrives").click()
    page.goto(host.base_url + "/#/credit")
    expect(page.locator("#balance")).to_have_text(money("USD 10.00"))
    expect(pending).to_have_count(0)
    expect(page.locator("#pending-banner")).to_be_hidden()

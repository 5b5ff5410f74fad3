"""Buying credit in a real browser: a pack, the sandbox's checkout page, back with the credit."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.servers import LocalHost


def sign_in(page: Page, host: LocalHost) -> None:
    page.goto(host.base_url + "/")
    page.get_by_label("Email").fill(f"{uuid.uuid4().hex[:10]}@example.com")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#balance")).to_have_text("0.00 USD")


def test_buying_a_pack_through_the_sandbox_checkout_credits_the_balance(
    page: Page, host: LocalHost
) -> None:
    sign_in(page, host)
    page.get_by_role("button", name="Buy 10.00 USD").click()
    expect(page.locator("#amount-due")).to_have_text("10.00 USD")
    page.get_by_role("button", name="Pay 10.00 USD with card 4242").click()

    expect(page.locator("#checkout-status")).to_have_text(
        "Payment received: 10.00 USD added to your balance."
    )
    expect(page.locator("#balance")).to_have_text("10.00 USD")
    expect(page.locator("#ledger tbody tr").first).to_contain_text("Credit bought")
    assert "checkout=" not in page.url


def test_cancelling_the_checkout_charges_nothing(page: Page, host: LocalHost) -> None:
    sign_in(page, host)
    page.get_by_role("button", name="Buy 5.00 USD").click()
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("#checkout-status")).to_have_text(
        "Checkout cancelled: nothing was charged."
    )
    expect(page.locator("#balance")).to_have_text("0.00 USD")

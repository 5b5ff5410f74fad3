"""Every main screen at phone and desktop size, light and dark: axe finds nothing serious,
no element marked hidden shows, and a screenshot of each lands in screenshots/ (ignored by
git) for people to look at."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from shared.money.ledger import FLAG_PAYMENT_DISPUTED, EntryKind, Ledger
from shared.storage.keys import ACCOUNTS_TABLE
from shared.storage.table_store import TableStore
from tests.browser.axe import assert_accessible
from tests.browser.dialer import buy_pack, sign_in, user_id
from tests.servers import REPO, LocalHost

SCREENSHOTS = REPO / "screenshots"
SIZES = {"phone": (390, 844), "desktop": (1366, 900)}
UK_LANDLINE = "+44 20 7946 0958"

SHOWN_THOUGH_HIDDEN = """
() => [...document.querySelectorAll('[hidden]')]
  .filter((node) => getComputedStyle(node).display !== 'none')
  .map((node) => node.id || node.tagName.toLowerCase())
"""


def check(page: Page, screen: str, size: str, theme: str) -> None:
    assert page.evaluate(SHOWN_THOUGH_HIDDEN) == [], f"hidden elements shown on {screen}"
    assert_accessible(page, f"{screen} ({size}, {theme})")
    SCREENSHOTS.mkdir(exist_ok=True)
    # What the person sees first: the top of the screen, at the size of theirs.
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=SCREENSHOTS / f"{screen}-{size}-{theme}.png")


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("size", list(SIZES))
def test_every_screen(
    browser: Browser, host: LocalHost, table_store: TableStore, size: str, theme: str
) -> None:
    width, height = SIZES[size]
    context = browser.new_context(
        viewport={"width": width, "height": height},
        color_scheme=theme,  # type: ignore[arg-type]
        locale="en-GB",
        permissions=["microphone"],
    )
    try:
        page = context.new_page()
        page.goto(host.base_url + "/")
        expect(page.get_by_label("Email")).to_be_visible()
        check(page, "sign-in", size, theme)

        sign_in(page, host)
        check(page, "dialer-new-account", size, theme)
        buy_pack(page, "USD 10.00")
        check(page, "credit-bought", size, theme)

        page.get_by_role("link", name="Call").first.click()
        page.get_by_label("Phone number").fill("+44 909 879 0000")
        expect(page.locator("#preview")).to_contain_text("premium-rate")
        check(page, "dialer-refused", size, theme)
        page.get_by_label("Phone number").fill(UK_LANDLINE)
        expect(page.locator("#preview")).to_contain_text("United Kingdom landline")
        check(page, "dialer-preview", size, theme)

        page.get_by_role("button", name=f"Call {UK_LANDLINE}", exact=True).click()
        expect(page.locator("#in-call-state")).to_have_text("In call")
        page.get_by_role("button", name="Keypad").click()
        page.get_by_role("button", name="Slow connection").click()
        expect(page.locator("#in-call-quality")).to_be_visible()
        check(page, "in-call", size, theme)
        page.get_by_role("button", name="Hang up").click()
        expect(page.locator("#call-summary")).to_contain_text("balance")
        check(page, "call-ended", size, theme)

        page.get_by_role("link", name="Recent", exact=True).click()
        expect(page.locator("#history li")).to_have_count(1)
        check(page, "recent", size, theme)
        page.get_by_role("link", name="Credit", exact=True).click()
        expect(page.locator("#ledger li")).to_have_count(2)
        check(page, "credit", size, theme)
        page.get_by_role("link", name="Account", exact=True).click()
        expect(page.locator("#sessions li")).to_have_count(1)
        check(page, "account", size, theme)

        Ledger(table_store.table(ACCOUNTS_TABLE)).post(
            user_id(page),
            "dispute_screens",
            -1_000_000,
            EntryKind.DISPUTE,
            flags=lambda flags: flags | {FLAG_PAYMENT_DISPUTED},
        )
        page.goto(host.base_url + "/#/call")
        page.reload()
        expect(page.locator("#account-banner")).to_be_visible()
        check(page, "disputed", size, theme)
    finally:
        context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_the_microphone_guidance_screen(
    browser: Browser, host: LocalHost, table_store: TableStore, size: str
) -> None:
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
    try:
        page = context.new_page()
        sign_in(page, host)
        Ledger(table_store.table(ACCOUNTS_TABLE)).post(
            user_id(page), "pay_mic", 1_000_000, EntryKind.CREDIT_PURCHASE
        )
        page.reload()
        page.get_by_label("Phone number").fill(UK_LANDLINE)
        page.get_by_role("button", name=f"Call {UK_LANDLINE}", exact=True).click()
        expect(page.locator("#mic-help")).to_be_visible()
        check(page, "microphone-blocked", size, "light")
    finally:
        context.close()

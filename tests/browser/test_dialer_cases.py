"""The dialer's other paths, in a real browser against the sandbox: a number it will not call,
a refused microphone, a low balance and a disputed account, a bad network in words, a token
refreshed during a long call, and a second tab that notices the sign-out."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from local_host.azurite import Azurite
from shared.money.ledger import FLAG_PAYMENT_DISPUTED, EntryKind, Ledger
from shared.storage.keys import ACCOUNTS_TABLE
from shared.storage.table_store import TableStore
from tests.browser.dialer import money, sign_in, user_id
from tests.servers import LocalHost

UK_LANDLINE = "+44 20 7946 0958"


def credit(table_store: TableStore, user: str, micros: int, **kwargs: object) -> None:
    Ledger(table_store.table(ACCOUNTS_TABLE)).post(
        user,
        f"pay_{micros}",
        micros,
        EntryKind.CREDIT_PURCHASE,
        **kwargs,  # type: ignore[arg-type]
    )


def sign_in_with_credit(page: Page, host: LocalHost, table_store: TableStore, micros: int) -> None:
    sign_in(page, host)
    credit(table_store, user_id(page), micros)
    page.reload()
    expect(page.locator("#balance-box")).to_be_visible()


def start_call(page: Page, number: str = UK_LANDLINE) -> None:
    page.goto(page.url.split("#")[0] + "#/call")
    page.get_by_label("Phone number").fill(number)
    page.get_by_role("button", name=f"Call {number}", exact=True).click()
    expect(page.locator("#in-call-state")).to_have_text("In call")


def test_a_number_it_will_not_call_shows_why_and_cannot_be_called(
    page: Page, host: LocalHost
) -> None:
    sign_in(page, host)
    page.get_by_label("Phone number").fill("+44 909 879 0000")
    expect(page.locator("#preview")).to_contain_text("premium-rate")
    expect(page.locator("#call")).to_be_disabled()
    page.get_by_label("Country").select_option("GB")
    page.get_by_label("Phone number").fill("999")
    expect(page.locator("#preview")).to_contain_text("emergency")
    expect(page.locator("#call")).to_be_disabled()


def test_pasted_forms_of_one_number_all_preview_it(page: Page, host: LocalHost) -> None:
    sign_in(page, host)
    page.get_by_label("Country").select_option("GB")
    for written in ("0044 20 7946 0958", "(020) 7946-0958", "tel:+44-20-7946-0958"):
        page.get_by_label("Phone number").fill(written)
        expect(page.locator("#preview .line")).to_have_text(re.compile(re.escape(UK_LANDLINE)))


def test_a_refused_microphone_shows_how_to_allow_it(
    mic_denied_page: Page, host: LocalHost, table_store: TableStore
) -> None:
    page = mic_denied_page
    sign_in_with_credit(page, host, table_store, 1_000_000)
    page.get_by_label("Phone number").fill(UK_LANDLINE)
    page.get_by_role("button", name=f"Call {UK_LANDLINE}", exact=True).click()
    help_box = page.locator("#mic-help")
    expect(help_box).to_be_visible()
    expect(help_box).to_contain_text("blocked the microphone")
    expect(page.locator("#mic-help-steps li").first).to_contain_text("address bar")
    expect(page.locator("#in-call")).to_be_hidden()
    expect(page.locator("#call-summary")).to_be_hidden()
    assert page.request.get(host.base_url + "/api/calls").json()["calls"] == []


def test_the_microphone_test_shows_a_moving_level(microphone_page: Page, host: LocalHost) -> None:
    page = microphone_page
    sign_in(page, host)
    page.get_by_text("Microphone and speaker").click()
    page.get_by_role("button", name="Test my microphone").click()
    # Chromium's fake microphone plays a beep: the meter must leave zero.
    page.wait_for_function(
        "() => Number(document.getElementById('mic-level').getAttribute('aria-valuenow')) > 0"
    )
    expect(page.locator("#microphone option").first).not_to_have_text("Default microphone")


def test_a_low_balance_warns_with_the_minutes_it_buys(
    microphone_page: Page, host: LocalHost, table_store: TableStore
) -> None:
    page = microphone_page
    sign_in(page, host)
    credit(table_store, user_id(page), 50_000)  # 0.05: three minutes at 0.015, then two
    page.reload()
    expect(page.locator("#low-balance")).to_be_hidden()  # no call yet to measure it by
    start_call(page)
    page.get_by_role("button", name="Hang up").click()
    expect(page.locator("#call-summary")).to_contain_text(money("USD 0.015"))
    warning = page.locator("#low-balance")
    expect(warning).to_contain_text(
        "Low balance: it buys about 2 min to the United Kingdom landline you last called."
    )
    page.reload()
    expect(warning).to_be_visible()


def test_a_disputed_account_gets_a_banner_with_what_to_do_and_the_support_contact(
    page: Page, host: LocalHost, table_store: TableStore
) -> None:
    sign_in(page, host)
    credit(table_store, user_id(page), 10_000_000, flags=lambda f: f | {FLAG_PAYMENT_DISPUTED})
    page.reload()
    banner = page.locator("#account-banner")
    expect(banner).to_contain_text("disputed")
    expect(banner).to_contain_text("ask your bank to withdraw the dispute")
    expect(banner.get_by_role("link")).to_have_attribute("href", "mailto:support@example.org")


def test_a_bad_network_and_a_reconnect_are_said_in_words(
    microphone_page: Page, host: LocalHost, table_store: TableStore
) -> None:
    page = microphone_page
    sign_in_with_credit(page, host, table_store, 1_000_000)
    start_call(page)
    quality = page.locator("#in-call-quality")
    page.get_by_role("button", name="Slow connection").click()
    expect(quality).to_have_text(
        "Your connection is slow: the other person may hear you with a delay."
    )
    page.get_by_role("button", name="Clear warnings").click()
    expect(quality).to_be_hidden()
    page.get_by_role("button", name="Drop and reconnect").click()
    expect(page.locator("#in-call-state")).to_have_text("Reconnecting…")
    expect(quality).to_have_text("The connection was lost. Reconnecting…")
    expect(quality).to_have_text("Reconnected.")
    expect(page.locator("#in-call-state")).to_have_text("In call")
    page.get_by_role("button", name="Mute").click()
    expect(page.get_by_role("button", name="Mute")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Hang up").click()
    expect(page.locator("#call-summary")).to_contain_text("Call ended")


@pytest.fixture(scope="module")
def short_token_host(azurite: Azurite) -> Iterator[LocalHost]:
    server = LocalHost(azurite.connection_string, {"TOKEN_TTL_SECONDS": "60"}).start()
    yield server
    server.stop()


def test_the_token_is_refreshed_during_a_long_call(
    microphone_page: Page, short_token_host: LocalHost, table_store: TableStore
) -> None:
    page = microphone_page
    minted: list[str] = []
    page.on(
        "request",
        lambda request: minted.append(request.url) if request.url.endswith("/api/token") else None,
    )
    sign_in_with_credit(page, short_token_host, table_store, 1_000_000)
    start_call(page)
    # A 60 s token is refreshed 30 s before it ends: the call outlives the first token's
    # refresh point and stays up on the new one.
    expect(page.locator("#in-call-timer")).to_have_text(re.compile(r"00:3[2-9]"), timeout=45_000)
    assert len(minted) >= 2
    expect(page.locator("#in-call-state")).to_have_text("In call")
    expect(page.locator("#error")).to_be_hidden()
    page.get_by_role("button", name="Hang up").click()
    expect(page.locator("#call-summary")).to_contain_text("Call ended")


def test_a_second_tab_notices_the_sign_out(page: Page, host: LocalHost) -> None:
    sign_in(page, host)
    second = page.context.new_page()
    second.goto(host.base_url + "/#/credit")
    expect(second.locator("#balance-box")).to_be_visible()
    page.get_by_role("link", name="Account", exact=True).click()
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(second.get_by_label("Email")).to_be_visible()
    expect(second.locator("#balance-box")).to_be_hidden()
    second.close()


def test_the_dialer_works_from_the_keyboard_alone(
    microphone_page: Page, host: LocalHost, table_store: TableStore
) -> None:
    page = microphone_page
    sign_in_with_credit(page, host, table_store, 1_000_000)
    expect(page.locator("#balance")).to_have_text(money("USD 1.00"))
    page.locator("body").click(position={"x": 5, "y": 300})  # nothing focused
    page.keyboard.type("+442079460958")  # digits typed anywhere go into the number
    expect(page.get_by_label("Phone number")).to_have_value("+442079460958")
    expect(page.locator("#preview")).to_contain_text(UK_LANDLINE)
    page.get_by_label("Phone number").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#in-call-state")).to_have_text("In call")
    expect(page.get_by_role("button", name="Hang up")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#call-summary")).to_contain_text("Call ended")
    expect(page.get_by_role("button", name="Done")).to_be_focused()


@pytest.mark.parametrize("width", [320, 390])
def test_small_phones_need_no_sideways_scrolling(
    browser: Browser, host: LocalHost, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 640})
    try:
        page = context.new_page()
        sign_in(page, host)
        for view in ("call", "recent", "credit", "account"):
            page.goto(f"{host.base_url}/#/{view}")
            overflow = page.evaluate("() => document.documentElement.scrollWidth")
            assert overflow <= width, f"#/{view} is {overflow} px wide on a {width} px screen"
    finally:
        context.close()

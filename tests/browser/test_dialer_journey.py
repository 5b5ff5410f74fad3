"""The main journey, in a real browser against the sandbox: sign in, buy the 10 pack, preview
a UK number, call it, watch the cost run, send a digit to a phone menu, hang up, and find the
call, exactly charged, in history and the ledger; redial fills the number again."""

from __future__ import annotations

import re

import requests
from playwright.sync_api import Page, expect

from tests.browser.dialer import MINUS, buy_pack, money, sign_in
from tests.servers import LocalHost

UK_LANDLINE = "+44 20 7946 0958"
# The sample deck's row for it: 44,GB,United Kingdom landline,0.0150,60/1 (in micros).
PER_MINUTE_MICROS = 15_000
FIRST, NEXT = 60, 1


def deck_charge(seconds: int) -> int:
    """The deck's price for a call of `seconds`, worked out here, apart from the app."""
    if seconds == 0:
        return 0
    billed = FIRST if seconds <= FIRST else FIRST + -(-(seconds - FIRST) // NEXT) * NEXT
    return -(-billed * PER_MINUTE_MICROS // 60)


def test_sign_in_buy_preview_call_pay_and_redial(microphone_page: Page, host: LocalHost) -> None:
    page = microphone_page
    sign_in(page, host)
    buy_pack(page, "USD 10.00")
    expect(page.locator("#balance")).to_have_text(money("USD 10.00"))

    page.get_by_role("link", name="Call").first.click()
    page.get_by_label("Phone number").fill(UK_LANDLINE)
    preview = page.locator("#preview")
    expect(preview).to_contain_text(UK_LANDLINE)
    expect(preview).to_contain_text("United Kingdom landline")
    expect(preview).to_contain_text(money("USD 0.015/min"))
    expect(preview).to_contain_text("first minute, then per second")
    expect(preview).to_contain_text("about 666 min")

    page.get_by_role("button", name=f"Call {UK_LANDLINE}", exact=True).click()
    state = page.locator("#in-call-state")
    expect(state).to_have_text("Ringing…")
    expect(state).to_have_text("In call")
    # The first minute is billed as soon as the call is answered.
    expect(page.locator("#in-call-cost")).to_have_text(money("USD 0.015"))
    expect(page.locator("#in-call-left")).to_contain_text("min")

    page.get_by_role("button", name="Keypad").click()
    page.get_by_role("group", name="Phone menu keypad").get_by_role("button", name="1").click()
    expect(page.locator("#dtmf-sent")).to_have_text("1")
    expect(page.locator("#in-call-timer")).to_have_text(re.compile(r"00:0[3-9]"), timeout=10_000)
    page.get_by_role("button", name="Hang up").click()

    summary = page.locator("#call-summary")
    expect(summary).to_contain_text("Call ended")
    expect(summary).to_contain_text(money("USD 0.015"))

    calls = page.request.get(host.base_url + "/api/calls").json()["calls"]
    call = calls[0]
    assert call["settled"] is True
    assert call["status"] == "completed"
    assert call["duration_seconds"] >= 3
    assert call["charge_micros"] == deck_charge(call["duration_seconds"])
    balance = page.request.get(host.base_url + "/api/balance").json()
    assert balance["balance_micros"] == 10_000_000 - deck_charge(call["duration_seconds"])
    expect(page.locator("#balance")).to_have_text(money("USD 9.98"))  # 9.985, never rounded up

    # The sandbox heard the digit, as a phone menu would have.
    sandbox = requests.get(
        f"{host.base_url}/sandbox/telephony/calls/{call['call_sid']}", timeout=5
    ).json()
    assert sandbox["digits"] == "1"

    history = page.locator("#history li").first
    expect(history).to_contain_text(UK_LANDLINE)
    expect(history).to_contain_text("answered")
    expect(history).to_contain_text(money("USD 0.015"))
    page.get_by_role("button", name="Done").click()
    page.get_by_label("Phone number").fill("")
    page.get_by_role("link", name="Recent", exact=True).click()
    page.get_by_role("button", name=f"Call again: {UK_LANDLINE}").first.click()
    expect(page.get_by_label("Phone number")).to_have_value(UK_LANDLINE)
    expect(page.get_by_role("button", name=f"Call {UK_LANDLINE}", exact=True)).to_be_enabled()

    page.get_by_role("link", name="Credit", exact=True).click()
    entry = page.locator("#ledger li").first
    expect(entry).to_contain_text(f"Call to {UK_LANDLINE} · ")
    expect(entry.locator(".amount")).to_have_text(money(MINUS + "USD 0.015"))

"""Your own number as caller ID, in a real browser against the sandbox: verify a mobile by
typing the code on the sandbox's phone, call showing it, and switch back to the OwnNumber line."""

from __future__ import annotations

import re

import requests
from playwright.sync_api import Page, expect

from shared.money.ledger import EntryKind, Ledger
from shared.storage.keys import ACCOUNTS_TABLE
from shared.storage.table_store import TableStore
from tests.browser.dialer import sign_in, user_id
from tests.servers import LocalHost

MOBILE = "+44 7911 123456"
UK_LANDLINE = "+44 20 7946 0958"
SERVICE_LINE = "+15005550006"  # TWILIO_CALLER_ID of the sample settings


def caller_id_of_last_call(page: Page, host: LocalHost) -> str | None:
    sid = page.request.get(host.base_url + "/api/calls").json()["calls"][0]["call_sid"]
    state = requests.get(f"{host.base_url}/sandbox/telephony/calls/{sid}", timeout=5).json()
    caller: str | None = state["dial"]["caller_id"]
    return caller


def call_and_hang_up(page: Page) -> None:
    page.get_by_role("link", name="Call", exact=True).click()
    page.get_by_label("Phone number").fill(UK_LANDLINE)
    page.get_by_role("button", name=f"Call {UK_LANDLINE}", exact=True).click()
    expect(page.locator("#in-call-state")).to_have_text("In call")
    page.get_by_role("button", name="Hang up").click()
    expect(page.locator("#call-summary")).to_contain_text("balance")
    page.get_by_role("button", name="Done").click()


def test_a_verified_mobile_is_shown_to_the_people_called(
    microphone_page: Page, host: LocalHost, table_store: TableStore
) -> None:
    page = microphone_page
    sign_in(page, host)
    Ledger(table_store.table(ACCOUNTS_TABLE)).post(
        user_id(page), "pay_caller_id", 1_000_000, EntryKind.CREDIT_PURCHASE
    )
    page.goto(host.base_url + "/#/account")
    page.reload()
    page.get_by_label("Your mobile or landline number").fill(MOBILE)
    page.get_by_role("button", name="Verify by a phone call").click()
    expect(page.locator("#caller-id-calling")).to_contain_text(f"We are calling {MOBILE}")
    code = page.locator("#caller-id-code").inner_text()
    assert re.fullmatch(r"\d{6}", code)

    phone = page.context.new_page()
    phone.goto(host.base_url + "/sandbox/telephony/phone")
    expect(phone.locator("body")).to_contain_text("7911")
    ringing = phone.get_by_role("article", name=re.compile(re.escape(MOBILE))).last
    ringing.get_by_role("textbox", name="6-digit code").fill(code)
    ringing.get_by_role("button", name="Send the code").click()
    expect(phone.locator("body")).to_contain_text("VerificationStatus=success")
    phone.close()

    expect(page.locator("#caller-id-verified")).to_contain_text(f"Verified: {MOBILE}")
    page.get_by_role("link", name="Call", exact=True).click()
    expect(page.locator("#calling-as")).to_contain_text(f"Calling as {MOBILE}")
    call_and_hang_up(page)
    assert caller_id_of_last_call(page, host) == MOBILE.replace(" ", "")

    page.get_by_label(f"Calling as {MOBILE}").uncheck()
    expect(page.locator("#calling-as")).to_contain_text("Calling as the OwnNumber line")
    call_and_hang_up(page)
    assert caller_id_of_last_call(page, host) == SERVICE_LINE

    page.get_by_role("link", name="Account", exact=True).click()
    page.get_by_role("button", name="Stop using this number").click()
    expect(page.get_by_label("Your mobile or landline number")).to_be_visible()
    page.get_by_role("link", name="Call", exact=True).click()
    expect(page.locator("#calling-as")).to_be_hidden()

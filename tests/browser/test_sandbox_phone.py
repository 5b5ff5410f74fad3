"""The sandbox's phone pane in Chromium, under the site's Content-Security-Policy: a
caller-ID validation call rings there, the code is typed, and the number is verified (the
`page` fixture fails the test on any console or CSP error)."""

from __future__ import annotations

import secrets

import requests
from playwright.sync_api import Page, expect

from tests.browser.axe import assert_accessible
from tests.servers import LocalHost

ACCOUNT_SID = "AC00000000000000000000000000000000"
API_KEY = ("SK00000000000000000000000000000000", "sandbox-twilio-api-key-secret-not-for-production")
CALLER_IDS = f"/sandbox/twilio/2010-04-01/Accounts/{ACCOUNT_SID}/OutgoingCallerIds.json"


def start_validation(host: LocalHost) -> dict[str, str]:
    number = f"+447700{secrets.randbelow(10**6):06d}"
    response = requests.post(
        host.base_url + CALLER_IDS, data={"PhoneNumber": number}, auth=API_KEY, timeout=10
    )
    assert response.status_code == 201, response.text
    validation: dict[str, str] = response.json()
    return validation


def verified(host: LocalHost, number: str) -> list[str]:
    listed = requests.get(
        host.base_url + CALLER_IDS, params={"PhoneNumber": number}, auth=API_KEY, timeout=10
    ).json()
    return [c["sid"] for c in listed["outgoing_caller_ids"]]


def test_typing_the_code_on_the_sandbox_phone_verifies_the_number(
    page: Page, host: LocalHost
) -> None:
    validation = start_validation(host)
    page.goto(host.base_url + "/sandbox/telephony/phone")
    call = page.locator(f"article[aria-labelledby='ringing-{validation['call_sid']}']")
    expect(call).to_contain_text(
        f"Twilio is calling {validation['friendly_name']} to verify it as a caller ID."
    )

    assert_accessible(page, "sandbox phone")
    call.get_by_label("6-digit code").fill(validation["validation_code"])
    call.get_by_role("button", name="Send the code").click()

    expect(page.locator("#note")).to_have_text(
        "The call ended (VerificationStatus=success); it had no StatusCallback, so nothing was"
        " sent."
    )
    expect(call).to_have_count(0)
    assert len(verified(host, validation["phone_number"])) == 1


def test_hanging_up_the_sandbox_phone_verifies_nothing(page: Page, host: LocalHost) -> None:
    validation = start_validation(host)
    page.goto(host.base_url + "/sandbox/telephony/phone")
    call = page.locator(f"article[aria-labelledby='ringing-{validation['call_sid']}']")

    call.get_by_role("button", name="Hang up").click()

    expect(page.locator("#note")).to_contain_text("VerificationStatus=failed")
    expect(call).to_have_count(0)
    assert verified(host, validation["phone_number"]) == []

"""The account page's privacy controls in a real browser: download your data, correct your
name and email, delete the account, cookie settings.

The export, the correction and the deletion run against the real endpoints; a deletion
during a call and the export's fresh-sign-in refusal (a sandbox sign-in is always fresh) run
against those answers as the contract states them, given by Playwright routes
(`answer_with`). Screenshots of the
banner and of the account page at phone and desktop size land in screenshots/."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect

from tests.browser.axe import assert_accessible
from tests.browser.dialer import buy_pack, sign_in
from tests.servers import REPO, LocalHost

SCREENSHOTS = REPO / "screenshots"
SIZES = {"phone": (390, 844), "desktop": (1280, 800)}


def answer_with(
    page: Page,
    method: str,
    path: str,
    status: int,
    body: Any,
    headers: dict[str, str] | None = None,
) -> list[Request]:
    """Answers `method path` as the endpoint's contract says; returns the requests it saw."""
    seen: list[Request] = []

    def handle(route: Route) -> None:
        if route.request.method != method:
            route.fallback()
            return
        seen.append(route.request)
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        kind = "application/problem+json" if status >= 400 else "application/json"
        route.fulfill(
            status=status,
            body=content,
            headers={"Content-Type": kind, **(headers or {})},
        )

    page.route(re.compile(re.escape(path) + "$"), handle)
    return seen


def account(page: Page, host: LocalHost) -> str:
    email = sign_in(page, host)
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.locator("#cookie-list li").first).to_be_visible()
    return email


def requests_to(page: Page, method: str, path: str) -> Callable[[], list[str]]:
    seen: list[str] = []
    page.on(
        "request",
        lambda r: seen.append(r.url) if r.method == method and r.url.endswith(path) else None,
    )
    return lambda: seen


def test_the_account_page_offers_every_privacy_control(page: Page, host: LocalHost) -> None:
    email = account(page, host)
    controls = page.locator("#privacy-controls")
    expect(controls.get_by_role("button", name="Download my data")).to_be_visible()
    expect(controls.get_by_label("E-mail address")).to_have_value(email)
    expect(controls.get_by_label("Name")).to_have_value("")
    expect(controls.get_by_role("switch", name="Allow analytics")).not_to_be_checked()
    expect(controls.get_by_label("Type DELETE to confirm")).to_have_value("")
    expect(controls.get_by_role("button", name="Delete my account")).to_be_visible()
    assert_accessible(page, "account (privacy controls)")


def test_the_correction_form_checks_the_address_before_sending_it(
    page: Page, host: LocalHost
) -> None:
    account(page, host)
    sent = requests_to(page, "PATCH", "/api/me")
    field = page.get_by_label("E-mail address")
    for bad in ("", "not-an-address"):
        field.fill(bad)
        page.get_by_role("button", name="Save").click()
        assert field.evaluate("(input) => input.validity.valid") is False
    assert page.get_by_label("Name").get_attribute("maxlength") == "100"
    assert sent() == []


def test_a_corrected_email_is_shown_unverified_until_the_next_sign_in(
    page: Page, host: LocalHost
) -> None:
    account(page, host)
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r) if r.method == "PATCH" else None)
    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_label("E-mail address").fill("Ada@Example.org")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#profile-status")).to_have_text(
        "Saved. Your new address is unverified until you next sign in."
    )
    expect(page.locator("#profile-unverified")).to_be_visible()
    expect(page.locator("#who")).to_have_text("ada@example.org")
    expect(page.locator("#who-name")).to_have_text("Ada Lovelace")
    assert json.loads(sent[0].post_data or "") == {
        "name": "Ada Lovelace",
        "email": "Ada@Example.org",
    }
    me = page.request.get(host.base_url + "/api/me").json()
    assert (me["email"], me["name"], me["email_verified"]) == (
        "ada@example.org",
        "Ada Lovelace",
        False,
    )
    # Saving again with nothing changed sends nothing.
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#profile-status")).to_have_text("Nothing to change.")
    assert len(sent) == 1


def test_a_refused_correction_shows_the_servers_sentence_beside_the_form(
    page: Page, host: LocalHost
) -> None:
    account(page, host)
    # The browser's own check lets "x@y" through; the server's does not.
    page.get_by_label("E-mail address").fill("x@y")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#profile-error")).to_contain_text("is not an email address")
    expect(page.locator("#error")).to_be_hidden()


def test_deleting_needs_the_word_typed_and_sends_nothing_until_then(
    page: Page, host: LocalHost
) -> None:
    account(page, host)
    sent = requests_to(page, "DELETE", "/api/me")
    page.get_by_label("Type DELETE to confirm").fill("delete")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#delete-error")).to_have_text("Type DELETE, in capitals, to confirm.")
    expect(page.get_by_label("Type DELETE to confirm")).to_be_focused()
    assert sent() == []


def test_a_deleted_account_is_signed_out_here_with_what_was_erased_and_kept(
    page: Page, host: LocalHost
) -> None:
    account(page, host)
    buy_pack(page, "USD 5.00")
    page.get_by_role("link", name="Account", exact=True).click()
    sent = requests_to(page, "DELETE", "/api/me")
    page.get_by_label("Type DELETE to confirm").fill("DELETE")
    page.get_by_role("button", name="Delete my account").click()
    summary = page.locator("#account-deleted")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(page.locator("#tabs")).to_be_hidden()
    expect(page.get_by_role("textbox", name="Email", exact=True)).to_be_visible()
    erased = page.locator("#deleted-erased li")
    # Only the kinds the account had: no calls, no caller ID, no consent were ever made.
    expect(erased).to_have_text(
        [
            "Sign-in identity: 1 record",
            "Profile: 1 record",
            "Sign-in session: 1 record",
            "Checkout started: 1 record",
        ]
    )
    kept = page.locator("#deleted-kept li")
    # Kinds kept for one reason share its sentence: the books, and who paid with what.
    expect(kept).to_have_count(2)
    books = kept.filter(has_text="Ledger entry: 1 record")
    expect(books).to_contain_text("Payment: 1 record")
    expect(books).to_contain_text("accounting law requires")
    expect(kept.filter(has_text="Who paid with a PaymentIntent: 1 record")).to_have_count(1)
    expect(books).to_contain_text(str(datetime.now(UTC).year + 10))
    assert len(sent()) == 1
    assert_accessible(page, "account deleted")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "account-deleted-desktop.png")
    # This browser forgets the cookie choice too: the banner asks again.
    assert page.evaluate("() => localStorage.getItem('ownnumber.consent')") is None
    # Signed out for real: the session is gone at the server.
    assert page.request.get(host.base_url + "/api/me").status == 401


def test_deleting_during_a_call_says_to_hang_up_first(page: Page, host: LocalHost) -> None:
    account(page, host)
    problem = {"title": "Call in progress", "status": 409, "detail": "Hang up first."}
    answer_with(page, "DELETE", "/api/me", 409, problem)
    page.get_by_label("Type DELETE to confirm").fill("DELETE")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#delete-error")).to_have_text("Hang up first.")
    expect(page.locator("#tabs")).to_be_visible()


def test_download_my_data_saves_the_zip_and_too_many_say_when_to_try_again(
    page: Page, host: LocalHost
) -> None:
    account(page, host)
    button = page.get_by_role("button", name="Download my data")
    with page.expect_download() as download:
        button.click()
    assert download.value.suggested_filename.endswith(".zip")
    path = download.value.path()
    with zipfile.ZipFile(path) as archive:
        assert "data.json" in archive.namelist()
    expect(page.locator("#export-status")).to_contain_text("Your data is downloaded")
    # EXPORTS_PER_USER_PER_HOUR is 3 in the sample settings: the fourth is refused.
    for _ in range(2):
        with page.expect_download():
            button.click()
        expect(button).to_be_enabled()
    with page.expect_response(lambda r: r.url.endswith("/api/me/export")) as refused:
        button.click()
    assert refused.value.status == 429
    expect(page.locator("#export-status")).to_contain_text("You can try again at")


def test_an_export_wanting_a_fresh_sign_in_goes_through_one_and_back_to_the_account(
    page: Page, host: LocalHost
) -> None:
    account(page, host)
    problem = {"title": "Sign in again", "status": 401, "detail": "…", "code": "reauth_required"}
    answer_with(page, "GET", "/api/me/export", 401, problem)
    with page.expect_request(re.compile(r"/api/auth/login\?")) as login:
        page.get_by_role("button", name="Download my data").click()
    assert login.value.url.endswith("/api/auth/login?prompt=login&returnTo=%2F%23%2Faccount")


@pytest.mark.parametrize("size", list(SIZES))
def test_screens_of_the_banner_and_the_account_page(
    browser: Browser, host: LocalHost, size: str
) -> None:
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
    try:
        page = context.new_page()
        SCREENSHOTS.mkdir(exist_ok=True)
        page.goto(host.base_url + "/")
        expect(page.locator("#consent-banner")).to_be_visible()
        assert_accessible(page, f"cookie banner ({size})")
        page.screenshot(path=SCREENSHOTS / f"consent-banner-{size}.png")

        page.get_by_role("button", name="Necessary only").click()
        sign_in(page, host)
        page.get_by_role("link", name="Account", exact=True).click()
        expect(page.locator("#cookie-list li").first).to_be_visible()
        expect(page.locator("#analytics-status")).to_contain_text("Analytics off")
        assert_accessible(page, f"account ({size})")
        # What a person sees as they scroll to each part of it.
        for part in ("export-title", "cookies-title", "delete-title"):
            page.locator(f"#{part}").evaluate("(node) => node.scrollIntoView()")
            page.screenshot(path=SCREENSHOTS / f"account-{part.split('-')[0]}-{size}.png")
    finally:
        context.close()

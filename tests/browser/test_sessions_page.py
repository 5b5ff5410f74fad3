"""Where you are signed in, in a real browser: the sessions list, ending one of them from
another, and signing out everywhere."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.dialer import sign_in
from tests.servers import LocalHost

FIREFOX_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
)


def test_a_second_browser_is_listed_and_can_be_signed_out_from_the_first(
    page: Page, browser: Browser, host: LocalHost
) -> None:
    email = sign_in(page, host)
    other = browser.new_context(user_agent=FIREFOX_ON_WINDOWS)
    try:
        laptop = other.new_page()
        laptop.goto(host.base_url + "/")
        laptop.get_by_label("Email").fill(email)
        laptop.get_by_role("button", name="Sign in").click()
        expect(laptop.locator("#balance-box")).to_be_visible()

        page.goto(host.base_url + "/#/account")
        page.reload()
        sessions = page.locator("#sessions li")
        expect(sessions).to_have_count(2)
        expect(page.locator("#sessions li", has_text="this browser")).to_have_count(1)
        firefox = page.locator("#sessions li", has_text="Firefox on Windows")
        expect(firefox).to_have_count(1)

        firefox.get_by_role("button", name="Sign out Firefox on Windows").click()
        expect(sessions).to_have_count(1)
        assert laptop.request.get(host.base_url + "/api/me").status == 401
        expect(page.locator("#who")).to_have_text(email)
        # The laptop's page finds out on its next request, and shows the sign-in.
        laptop.get_by_role("link", name="Credit", exact=True).click()
        expect(laptop.get_by_label("Email")).to_be_visible()
    finally:
        other.close()


def test_signing_out_everywhere_returns_to_the_sign_in(page: Page, host: LocalHost) -> None:
    sign_in(page, host, "/#/account")
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page.get_by_label("Email")).to_be_visible()
    expect(page.locator("#balance-box")).to_be_hidden()
    assert page.request.get(host.base_url + "/api/me").status == 401

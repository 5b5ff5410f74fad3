"""The production sign-in page in headless Chromium: Continue with Google, all the way through
the loopback OpenID provider and back to a signed-in page."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.browser.dialer import money
from tests.sign_in_servers import EntraSite, OidcProvider


@pytest.fixture
def site_page(browser: Browser, entra_site: EntraSite) -> Iterator[Page]:
    # The test CA is not Chromium's: its errors are ignored for this context only. Nothing
    # leaves loopback (the provider's page asks a CDN for its stylesheet).
    context = browser.new_context(ignore_https_errors=True)

    def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    context.route("**/*", loopback_only)
    page = context.new_page()
    errors: list[str] = []
    # Our pages must run without a script error or a CSP refusal (the provider's are its own).
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error"
            and page.url.startswith(entra_site.base_url)
            and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


def test_the_production_page_offers_google_and_signs_in_through_it(
    site_page: Page, entra_site: EntraSite, oidc_provider: OidcProvider
) -> None:
    sub = f"sub-{uuid.uuid4().hex[:12]}"
    email = f"{sub}@example.com"
    oidc_provider.set_user(sub, {"email": email, "email_verified": True, "name": "Grace"})
    site_page.goto(entra_site.base_url + "/")
    google = site_page.get_by_role("link", name="Continue with Google")
    expect(google).to_be_visible()
    expect(google).to_have_attribute("href", "/api/auth/login?returnTo=%2F")
    expect(site_page.get_by_label("Email")).to_be_hidden()  # no dev sign-in here
    expect(site_page.locator("#mode")).to_be_hidden()  # hidden stays hidden, whatever its class
    expect(site_page.get_by_text("not wired up")).to_have_count(0)

    google.click()
    # The provider's own authorization page: pick the subject, as a person would.
    site_page.wait_for_url(f"{oidc_provider.base_url}/oauth2/authorize?**")
    site_page.locator('input[name="sub"]').fill(sub)
    site_page.get_by_role("button", name="Authorize").click()

    site_page.wait_for_url(entra_site.base_url + "/")
    expect(site_page.locator("#who")).to_have_text(email)
    expect(site_page.locator("#balance")).to_have_text(money("USD 0.00"))

"""Consent in a real browser: the banner for a signed-out visitor, "Necessary only" keeping
Application Insights unloaded, "Allow analytics" loading it (posting to a loopback fake
ingestion endpoint, never a phone number), withdrawal on the account page unloading it and
deleting its cookies, Global Privacy Control as a refusal that no click overrides, the choice
carried from the banner to the account, and the cookie list the registry declares."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Request,
    Response,
    Route,
    expect,
)

from local_host.azurite import Azurite
from shared.privacy.policy import POLICY_VERSION
from shared.privacy.registry import COOKIES
from tests.browser.axe import assert_accessible
from tests.browser.conftest import _watched_page
from tests.browser.dialer import sign_in
from tests.servers import LocalHost

SDK_PATH = "/vendor/applicationinsights/applicationinsights-web.min.js"
IKEY = "00000000-0000-0000-0000-000000000000"
AI_COOKIES = {"ai_user", "ai_session"}
UK_LANDLINE = "+44 20 7946 0958"
AI_COOKIES_SET = (
    "() => /(^|; )ai_user=/.test(document.cookie) && /(^|; )ai_session=/.test(document.cookie)"
)
GPC_SCRIPT = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"


@pytest.fixture(scope="module")
def analytics_host(azurite: Azurite) -> Iterator[LocalHost]:
    """A sandbox whose browsers get a connection string; its ingestion endpoint is the host's
    own origin, where each test's route answers /v2/track (nothing leaves the machine)."""
    server = LocalHost(azurite.connection_string)
    server.env["APPLICATIONINSIGHTS_BROWSER_CONNECTION_STRING"] = (
        f"InstrumentationKey={IKEY};IngestionEndpoint={server.base_url}/"
    )
    server.start()
    yield server
    server.stop()


def envelopes(body: str) -> list[dict[str, Any]]:
    """The telemetry items of one post: a JSON array, or one JSON object a line."""
    body = body.strip()
    if not body:
        return []
    if body.startswith("["):
        found: list[dict[str, Any]] = json.loads(body)
        return found
    return [json.loads(line) for line in body.splitlines() if line.strip()]


class Watch:
    """What a page asked for: every URL, the SDK script, and the telemetry it posted."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.urls: list[str] = []
        self.telemetry: list[dict[str, Any]] = []
        page.on("request", self._seen)
        page.route("**/v2/track", self._ingest)

    def _seen(self, request: Request) -> None:
        self.urls.append(request.url)
        if request.url.endswith("/v2/track"):
            self.telemetry.extend(envelopes(request.post_data or ""))

    def _ingest(self, route: Route) -> None:
        count = len(envelopes(route.request.post_data or ""))
        route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({"itemsReceived": count, "itemsAccepted": count, "errors": []}),
        )

    @property
    def sdk_requested(self) -> bool:
        return any(url.split("?")[0].endswith(SDK_PATH) for url in self.urls)

    def ai_cookies(self) -> set[str]:
        return {c["name"] for c in self.page.context.cookies()} & AI_COOKIES


def is_dependency(item: dict[str, Any]) -> bool:
    return bool(item.get("data", {}).get("baseType") == "RemoteDependencyData")


def carried(response: Response) -> bool:
    """The PUT that carries the banner's choice to the account."""
    return response.url.endswith("/api/me/consent") and response.request.method == "PUT"


def stored_choice(page: Page) -> dict[str, Any] | None:
    raw = page.evaluate("() => localStorage.getItem('ownnumber.consent')")
    return json.loads(raw) if raw else None


def server_consent(page: Page, host: LocalHost, headers: dict[str, str] | None = None) -> Any:
    return page.request.get(host.base_url + "/api/me/consent", headers=headers or {}).json()


def banner(page: Page) -> Any:
    return page.get_by_role("region", name="Cookies and analytics")


@pytest.fixture
def gpc_page(browser: Browser) -> Iterator[Page]:
    """A browser with Global Privacy Control on: the header on every request, the property on
    navigator, as a browser (or an extension) that sends GPC has them."""
    context: BrowserContext = browser.new_context(extra_http_headers={"Sec-GPC": "1"})
    context.add_init_script(GPC_SCRIPT)
    yield from _watched_page(context)


def test_a_signed_out_visitor_is_asked_with_two_equal_choices_and_a_link_to_the_policy(
    page: Page, host: LocalHost
) -> None:
    page.goto(host.base_url + "/")
    region = banner(page)
    expect(region).to_be_visible()
    necessary = region.get_by_role("button", name="Necessary only")
    allow = region.get_by_role("button", name="Allow analytics")
    expect(necessary).to_be_visible()
    expect(allow).to_be_visible()
    # Equal prominence: the same look and the same size.
    assert necessary.get_attribute("class") == allow.get_attribute("class")
    sizes = [b.bounding_box() for b in (necessary, allow)]
    assert sizes[0]
    assert sizes[1]
    assert (round(sizes[0]["width"]), round(sizes[0]["height"])) == (
        round(sizes[1]["width"]),
        round(sizes[1]["height"]),
    )
    expect(region.get_by_role("link", name="Privacy policy")).to_have_attribute("href", "/privacy")
    assert_accessible(page, "cookie banner")


def test_necessary_only_keeps_application_insights_unloaded(
    page: Page, analytics_host: LocalHost
) -> None:
    watch = Watch(page)
    page.goto(analytics_host.base_url + "/")
    banner(page).get_by_role("button", name="Necessary only").click()
    expect(banner(page)).to_be_hidden()
    choice = stored_choice(page)
    assert choice is not None
    assert (choice["analytics"], choice["policy_version"]) == (False, POLICY_VERSION)
    assert set(choice) == {"analytics", "policy_version", "changed_at"}

    page.reload()
    sign_in(page, analytics_host)
    expect(banner(page)).to_be_hidden()  # the choice went with the sign-in
    assert server_consent(page, analytics_host)["analytics"] is False
    assert not watch.sdk_requested
    assert watch.ai_cookies() == set()
    assert watch.telemetry == []


def test_allowing_loads_it_and_it_posts_to_the_ingestion_endpoint_without_a_number(
    page: Page, analytics_host: LocalHost
) -> None:
    watch = Watch(page)
    page.goto(analytics_host.base_url + "/?campaign=12345678901#/call")
    banner(page).get_by_role("button", name="Allow analytics").click()
    expect(banner(page)).to_be_hidden()
    page.wait_for_function(AI_COOKIES_SET)
    assert watch.sdk_requested
    assert watch.ai_cookies() == AI_COOKIES

    sign_in(page, analytics_host)
    page.get_by_label("Phone number").fill(UK_LANDLINE)
    expect(page.locator("#preview")).to_contain_text("United Kingdom")
    # Leaving the page flushes what the SDK holds (it batches for 15 s otherwise).
    with page.expect_request(lambda request: request.url.endswith("/v2/track")):
        page.goto(analytics_host.base_url + "/privacy.html")

    kinds = {item.get("data", {}).get("baseType") for item in watch.telemetry}
    assert {"PageviewData", "RemoteDependencyData"} <= kinds
    calls = {item["data"]["baseData"]["name"] for item in watch.telemetry if is_dependency(item)}
    assert "GET /api/me" in calls
    assert not [name for name in calls if "/api/rates" in name]  # its query holds the number
    sent = json.dumps(watch.telemetry)
    assert "7946" not in sent
    assert "12345678901" not in sent
    assert "?to=" not in sent
    assert "campaign" not in sent
    assert "@example.com" not in sent
    assert {item["iKey"] for item in watch.telemetry} == {IKEY}
    # Nothing but our own origin was asked for anything: no CDN, no configuration call home.
    assert [url for url in watch.urls if not url.startswith(analytics_host.base_url)] == []


def test_withdrawing_on_the_account_page_unloads_it_and_deletes_its_cookies(
    page: Page, analytics_host: LocalHost
) -> None:
    watch = Watch(page)
    page.goto(analytics_host.base_url + "/")
    banner(page).get_by_role("button", name="Allow analytics").click()
    with page.expect_response(carried):
        sign_in(page, analytics_host)
    page.wait_for_function(AI_COOKIES_SET)
    page.get_by_role("link", name="Account", exact=True).click()
    switch = page.get_by_role("switch", name="Allow analytics")
    expect(switch).to_be_checked()
    expect(page.locator("#analytics-status")).to_contain_text("on the banner")
    assert server_consent(page, analytics_host)["source"] == "banner"
    switch.click()
    expect(switch).not_to_be_checked()
    expect(page.locator("#analytics-status")).to_contain_text("Analytics off")
    page.wait_for_function("() => !/(^|; )ai_(user|session)=/.test(document.cookie)")
    assert watch.ai_cookies() == set()
    leftovers = page.evaluate(
        "() => [...Object.keys(localStorage), ...Object.keys(sessionStorage)]"
        ".filter((key) => /^ai_/i.test(key))"
    )
    assert leftovers == []
    answer = server_consent(page, analytics_host)
    assert (answer["analytics"], answer["source"]) == (False, "account")
    assert stored_choice(page)["analytics"] is False  # type: ignore[index]

    # Stopped for good: a reload does not bring it back.
    page.reload()
    expect(page.locator("#balance-box")).to_be_visible()
    assert watch.ai_cookies() == set()


def test_under_gpc_it_never_loads_even_after_clicking_allow_and_the_server_stores_a_refusal(
    gpc_page: Page, analytics_host: LocalHost
) -> None:
    page = gpc_page
    watch = Watch(page)
    page.goto(analytics_host.base_url + "/")
    region = banner(page)
    expect(region).to_contain_text("Global Privacy Control")
    expect(region.get_by_role("button", name="Allow analytics")).to_be_hidden()
    assert_accessible(page, "cookie banner under GPC")
    region.get_by_role("button", name="OK").click()
    expect(region).to_be_hidden()

    sign_in(page, analytics_host)
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.locator("#analytics-gpc")).to_be_visible()
    switch = page.get_by_role("switch", name="Allow analytics")
    switch.click()
    expect(page.locator("#analytics-status")).to_contain_text("Analytics off")
    expect(switch).not_to_be_checked()

    answer = server_consent(page, analytics_host)
    assert (answer["analytics"], answer["gpc"], answer["source"]) == (False, True, "account")
    assert not watch.sdk_requested
    assert watch.ai_cookies() == set()


def test_a_choice_made_signed_out_is_carried_to_the_account_at_sign_in(
    page: Page, host: LocalHost
) -> None:
    page.goto(host.base_url + "/")
    banner(page).get_by_role("button", name="Allow analytics").click()
    with page.expect_response(carried):
        sign_in(page, host)
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.get_by_role("switch", name="Allow analytics")).to_be_checked()
    expect(page.locator("#analytics-status")).to_contain_text("Analytics allowed")
    answer = server_consent(page, host)
    assert (answer["analytics"], answer["source"], answer["gpc"]) == (True, "banner", False)
    assert answer["policy_version"] == POLICY_VERSION


def test_after_that_the_accounts_choice_wins_over_this_browsers(
    page: Page, host: LocalHost
) -> None:
    sign_in(page, host)
    expect(banner(page)).to_be_visible()  # signed in, never chosen: asked
    banner(page).get_by_role("button", name="Necessary only").click()
    expect(banner(page)).to_be_hidden()
    # This browser's memory says otherwise (another visit, signed out): the account wins.
    page.evaluate(
        "(version) => localStorage.setItem('ownnumber.consent', JSON.stringify("
        "{analytics: true, policy_version: version, changed_at: new Date().toISOString()}))",
        POLICY_VERSION,
    )
    page.reload()
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.get_by_role("switch", name="Allow analytics")).not_to_be_checked()
    assert server_consent(page, host)["analytics"] is False
    page.wait_for_function(
        "() => JSON.parse(localStorage['ownnumber.consent']).analytics === false"
    )


def test_a_choice_under_another_policy_version_asks_again(page: Page, host: LocalHost) -> None:
    page.goto(host.base_url + "/")
    page.evaluate(
        "() => localStorage.setItem('ownnumber.consent', JSON.stringify("
        "{analytics: true, policy_version: '2000-01-01', changed_at: '2000-01-01T00:00:00Z'}))"
    )
    page.reload()
    expect(banner(page)).to_be_visible()


def test_the_cookie_list_on_the_page_is_the_registrys(page: Page, host: LocalHost) -> None:
    sign_in(page, host)
    page.get_by_role("link", name="Account", exact=True).click()
    items = page.locator("#cookie-list li")
    expect(items).to_have_count(len(COOKIES))
    shown = items.evaluate_all(
        "(items) => items.map((li) => ({name: li.dataset.cookie,"
        " purpose: li.querySelector('.purpose').textContent,"
        " tag: li.querySelector('.tag').textContent,"
        " sub: li.querySelector('.sub').textContent}))"
    )
    assert [s["name"] for s in shown] == [c.name for c in COOKIES]
    for item, cookie in zip(shown, COOKIES, strict=True):
        assert item["purpose"] == cookie.purpose
        assert cookie.set_by in item["sub"]
        assert cookie.lifetime in item["sub"]
        assert item["tag"].startswith("Necessary" if cookie.necessary else "Analytics")
    links = page.locator("#privacy-controls a")
    expect(links.filter(has_text="Privacy policy")).to_have_attribute("href", "/privacy")
    expect(links.filter(has_text="Record of processing")).to_have_attribute(
        "href", "/privacy/records"
    )

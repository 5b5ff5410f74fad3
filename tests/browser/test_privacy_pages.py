"""The policy and the record of processing in a browser, at phone and desktop size: the
record is rendered from the registry, readable without sideways scrolling of the page, and
axe finds nothing serious."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from shared.privacy.registry import COOKIES, KINDS, PROCESSORS
from tests.browser.axe import assert_accessible
from tests.browser.test_dialer_screens import SCREENSHOTS, SIZES
from tests.servers import LocalHost

PAGE_WIDER_THAN_SCREEN = "() => document.documentElement.scrollWidth > window.innerWidth"


@pytest.mark.parametrize("size", list(SIZES))
def test_the_policy_pages(browser: Browser, host: LocalHost, size: str) -> None:
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(host.base_url + "/privacy")
        expect(page.get_by_role("heading", name="Privacy policy")).to_be_visible()
        # The support address is a setting, filled in from /api/config.
        expect(page.get_by_role("link", name="support@example.org")).to_be_visible()
        assert_accessible(page, f"privacy policy ({size})")
        assert page.evaluate(PAGE_WIDER_THAN_SCREEN) is False
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"privacy-{size}.png")

        page.get_by_role("link", name="record of processing").first.click()
        expect(page).to_have_url(host.base_url + "/privacy/records")
        expect(page.get_by_role("heading", name="Processors and transfers")).to_be_visible()
        for kind in KINDS:
            expect(page.get_by_role("cell", name=kind.title, exact=True)).to_have_count(1)
        processors = page.get_by_role("table", name="Processors")
        for processor in PROCESSORS:
            expect(processors.get_by_role("cell", name=processor.name, exact=True)).to_be_visible()
        cookies = page.get_by_role("table", name="Cookies")
        for cookie in COOKIES:
            expect(cookies.get_by_role("cell", name=cookie.name, exact=True)).to_be_visible()
        assert_accessible(page, f"record of processing ({size})")
        assert page.evaluate(PAGE_WIDER_THAN_SCREEN) is False
        page.screenshot(path=SCREENSHOTS / f"privacy-records-{size}.png")
    finally:
        context.close()
    assert errors == []

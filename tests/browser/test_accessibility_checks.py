"""The accessibility check the page tests use (tests/browser/axe.py) runs on the site as
deployed, under its Content-Security-Policy, and fails on what it should."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import assert_accessible, violations
from tests.servers import LocalHost

BROKEN = """
() => {
  const image = document.createElement("img");
  image.id = "unlabelled-image";
  image.src = "data:image/gif;base64,R0lGODlhAQABAAAAACw=";
  const button = document.createElement("button");
  button.id = "nameless-button";
  document.body.append(image, button);
}
"""


def open_signed_out(page: Page, host: LocalHost) -> None:
    response = page.goto(host.base_url + "/")
    assert response is not None
    # The check runs under the site's real policy: no inline script, no eval.
    assert "script-src 'self';" in response.headers["content-security-policy"]
    expect(page.get_by_label("Email")).to_be_visible()


def test_the_signed_out_screen_has_no_serious_violation(page: Page, host: LocalHost) -> None:
    open_signed_out(page, host)
    scripts = page.locator("script").count()
    assert_accessible(page, "signed-out")
    # axe did run in the page, and no <script> was added to it for that.
    assert page.evaluate("typeof window.axe.version") == "string"
    assert page.locator("script").count() == scripts


def test_an_image_without_alt_and_a_nameless_button_fail_the_check(
    page: Page, host: LocalHost
) -> None:
    open_signed_out(page, host)
    page.evaluate(BROKEN)
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page, "signed-out")
    message = str(failure.value)
    assert message.startswith("The signed-out screen has 2 serious or critical axe violation(s):")
    assert "- image-alt (critical): Images must have alternative text; at #unlabelled-image" in (
        message
    )
    assert "- button-name (critical): Buttons must have discernible text; at #nameless-button" in (
        message
    )


def test_minor_findings_do_not_fail_the_check(page: Page, host: LocalHost) -> None:
    open_signed_out(page, host)
    # Content outside every landmark is a "moderate" finding: reported, not failing.
    page.evaluate(
        "document.body.append(Object.assign(document.createElement('p'), {textContent: 'x'}))"
    )
    assert ("region", "moderate") in {(v["id"], v["impact"]) for v in violations(page)}
    assert_accessible(page, "signed-out")

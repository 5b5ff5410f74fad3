"""static_site/voice-sdk.js: `loadVoiceSdk()` gives the page the real SDK's Device and Call,
from this origin, under the site's CSP, loading it once; without the vendored copy it fails
with a sentence saying what to run."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, Route

from tests.servers import REPO, LocalHost

SDK_URL = "/vendor/twilio-voice/twilio.min.js"
VERSION = json.loads((REPO / "node_modules/@twilio/voice-sdk/package.json").read_text())["version"]

LOAD_TWICE = """
async () => {
  const { loadVoiceSdk } = await import("/voice-sdk.js");
  const [first, second] = await Promise.all([loadVoiceSdk(), loadVoiceSdk()]);
  const third = await loadVoiceSdk();
  return {
    device: typeof first.Device,
    call: typeof first.Call,
    version: first.Device.version,
    same: first.Device === second.Device && second.Device === third.Device,
    isTheGlobal: first.Device === window.Twilio.Device && first.Call === window.Twilio.Call,
    scripts: document.querySelectorAll('script[src="/vendor/twilio-voice/twilio.min.js"]').length,
  };
}
"""

LOAD_ERROR = """
async () => {
  const { loadVoiceSdk } = await import("/voice-sdk.js");
  try {
    await loadVoiceSdk();
    return null;
  } catch (error) {
    return error.message;
  }
}
"""


def test_the_loader_gives_the_real_sdk_once_under_the_sites_csp(
    page: Page, host: LocalHost
) -> None:
    loaded: list[str] = []
    page.on("request", lambda r: loaded.append(r.url) if r.url.endswith(SDK_URL) else None)
    page.goto(host.base_url + "/")

    sdk = page.evaluate(LOAD_TWICE)

    assert sdk == {
        "device": "function",
        "call": "function",
        "version": VERSION,
        "same": True,
        "isTheGlobal": True,
        "scripts": 1,
    }
    assert loaded == [host.base_url + SDK_URL]  # from this origin, once


@pytest.mark.parametrize(
    ("status", "sentence"),
    [
        (
            404,
            "The Twilio Voice SDK is missing from /vendor/twilio-voice/twilio.min.js: run "
            "scripts/bootstrap (or scripts/vendor-sdk) to copy it from node_modules.",
        ),
        (
            503,
            "The Twilio Voice SDK could not be loaded from /vendor/twilio-voice/twilio.min.js "
            "(HTTP 503).",
        ),
    ],
)
def test_without_the_vendored_sdk_the_loader_says_what_to_do(
    page: Page, host: LocalHost, status: int, sentence: str
) -> None:
    page.route(host.base_url + SDK_URL, lambda route: route.fulfill(status=status, body=""))
    page.goto(host.base_url + "/")
    assert page.evaluate(LOAD_ERROR) == sentence
    # The failed script is taken out again, so that a later call can try afresh.
    assert page.locator(f'script[src="{SDK_URL}"]').count() == 0


def test_after_a_failure_a_later_call_loads_it(page: Page, host: LocalHost) -> None:
    failed: list[str] = []

    def unavailable_once(route: Route) -> None:
        if failed:
            route.continue_()
        else:
            failed.append(route.request.url)
            route.fulfill(status=503, body="")

    page.route(host.base_url + SDK_URL, unavailable_once)
    page.goto(host.base_url + "/")
    assert page.evaluate(LOAD_ERROR) == (
        "The Twilio Voice SDK could not be loaded from /vendor/twilio-voice/twilio.min.js; "
        "try again."
    )
    assert page.evaluate(LOAD_TWICE)["version"] == VERSION

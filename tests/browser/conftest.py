"""Headless Chromium (Debian's package), driven by Playwright, against the local host."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.browser.chromium import CHROMIUM_ARGS, chromium_path

# Fake microphones and speakers (a headless machine has none, and getUserMedia would fail
# with NotFoundError). Whether a page may use them is still each context's permission:
# granted in `microphone_page`, refused (NotAllowedError) everywhere else. Hence no
# --use-fake-ui-for-media-stream, which would grant every page.
FAKE_MEDIA = ["--use-fake-device-for-media-stream"]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=[*CHROMIUM_ARGS, *FAKE_MEDIA]
    )
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from _watched_page(browser.new_context())


@pytest.fixture
def microphone_page(browser: Browser) -> Iterator[Page]:
    """A page whose origin the user allowed the microphone (a fake one)."""
    yield from _watched_page(browser.new_context(permissions=["microphone"]))


@pytest.fixture
def mic_denied_page(browser: Browser) -> Iterator[Page]:
    """A page whose origin may not use the microphone: getUserMedia rejects with
    NotAllowedError, as after the user's "Block" (Chromium refuses what was not granted)."""
    yield from _watched_page(browser.new_context(permissions=[]))


def _watched_page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # HTTP errors the page handles (a 401 before sign-in) are not page errors; a script
    # error or a CSP refusal ("Refused to …") is.
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield page
    context.close()
    # A page that throws or breaks its own CSP fails the test that drove it.
    assert errors == []

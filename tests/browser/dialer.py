"""Driving the dialer as a person does: signing in, buying credit, reading what it shows."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.servers import LocalHost

# The page writes negative amounts with a real minus sign (U+2212), as typesetting does.
MINUS = "\u2212"


def money(text: str) -> re.Pattern[str]:
    """The page's money as Intl writes it ("USD 10.00", with a no-break space), as a
    pattern that matches it whatever the space."""
    return re.compile(r"\s*".join(re.escape(part) for part in text.split()))


def sign_in(page: Page, host: LocalHost, path: str = "/") -> str:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    page.goto(host.base_url + path)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#balance-box")).to_be_visible()
    return email


def user_id(page: Page) -> str:
    me = page.request.get(page.url.split("#")[0].rstrip("/") + "/api/me").json()
    return str(me["user_id"])


def buy_pack(page: Page, price: str) -> None:
    """Buys the pack that costs `price` ("USD 10.00") through the sandbox's Checkout."""
    page.goto(page.url.split("#")[0] + "#/credit")
    page.get_by_role("button", name=re.compile(r"^Buy: pay " + money(price).pattern)).click()
    page.get_by_role("button", name=re.compile(r"^Pay .* with card 4242$")).click()
    expect(page.locator("#checkout-status")).to_contain_text("Payment received")

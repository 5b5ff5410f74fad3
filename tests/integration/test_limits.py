"""Abuse and fraud limits through the local host over HTTP (README "Limits"): hosts started
with small limits in their settings; each limit is hit and answers 429, a Retry-After and a
sentence (the voice webhook: TwiML that says why and hangs up), and the limits that guard
money are counted on the balance row, so two hosts on one Azurite count them together."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from local_host.azurite import Azurite
from shared.limits.velocity import Velocity
from shared.money.ledger import HAS_PURCHASED, EntryKind, Ledger
from shared.storage.keys import ACCOUNTS_TABLE, BALANCE_KEY
from shared.storage.rows import Replace
from shared.storage.table_store import Table, TableStore
from tests.conftest import Client, StripeWebhooks
from tests.integration.test_calling import (
    FRANCE,
    GERMANY,
    UK,
    Account,
    Dialled,
    Twilio,
    call_sid,
    make_accounts,
)
from tests.servers import LocalHost

LIMITED = {
    "CALLS_PER_HOUR": "3",
    "DESTINATIONS_PER_DAY": "2",
    "SPEND_PER_DAY": "1.00",
    "FIRST_PURCHASE_MAX": "5.00",
    "CHECKOUTS_PER_USER_PER_HOUR": "2",
    "TOKENS_PER_USER_PER_HOUR": "3",
    "TOKENS_PER_IP_PER_HOUR": "4",
    "RATES_PER_USER_PER_MINUTE": "3",
    "RATES_PER_IP_PER_MINUTE": "4",
    "CHECKOUTS_PER_IP_PER_HOUR": "4",
    "EXPORTS_PER_IP_PER_HOUR": "1",
    "CALLER_ID_ATTEMPTS_PER_IP_PER_HOUR": "1",
    "SIGN_INS_PER_IP_PER_HOUR": "2",
}


@pytest.fixture(scope="module")
def limited(azurite: Azurite) -> Iterator[LocalHost]:
    server = LocalHost(azurite.connection_string, LIMITED).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def second(azurite: Azurite) -> Iterator[LocalHost]:
    """Another instance of the same app, on the same storage."""
    server = LocalHost(azurite.connection_string, LIMITED).start()
    yield server
    server.stop()


_ADDRESSES = itertools.count()


def an_address() -> str:
    """A client address no other client of this run has (the documentation ranges), so that
    the limits per address of one test never meet another's."""
    number = next(_ADDRESSES)
    assert number < 2 * 254, "out of documentation addresses"
    return f"{('198.51.100', '203.0.113')[number // 254]}.{number % 254 + 1}"


class Browser(Client):
    """A client with an address of its own, as Azure's front end would report it: the limits
    per address of one test do not meet another's."""

    def __init__(self, base_url: str, address: str | None = None) -> None:
        super().__init__(base_url)
        self.address = address or an_address()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs["headers"] = {"X-Forwarded-For": self.address, **kwargs.get("headers", {})}
        return super().request(method, path, **kwargs)


@pytest.fixture
def accounts(
    limited: LocalHost, table_store: TableStore, fund: Callable[[str, int], None]
) -> Callable[..., Account]:
    return make_accounts(limited.base_url, table_store, fund, Browser)


def from_address(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def assert_limited(response: requests.Response, words: str) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    wait = response.headers["Retry-After"]
    assert wait.isdigit()
    assert 1 <= int(wait) <= 3600
    body: dict[str, Any] = response.json()
    assert words in body["detail"], body
    assert body["status"] == 429
    return body


def hang_up(twilio: Twilio, dialled: Dialled, seconds: int = 0) -> None:
    """The dialled leg's final report: settles the call, its hold released."""
    response = twilio.status(dialled, "CA" + uuid.uuid4().hex, "completed", 3, duration=seconds)
    assert response.status_code == 200, response.text


def velocity_of(table_store: TableStore, user_id: str) -> Velocity:
    row = table_store.table(ACCOUNTS_TABLE).get(user_id, BALANCE_KEY)
    assert row is not None
    return Velocity.from_fields(row.data)


def test_calls_past_the_hourly_limit_are_refused_in_twiml_and_in_the_preview(
    limited: LocalHost, accounts: Callable[..., Account], table_store: TableStore
) -> None:
    twilio = Twilio(limited.base_url)
    alice = accounts()
    for _ in range(3):
        dialled = twilio.voice(alice.identity, UK)
        assert dialled.dial is not None, dialled.said
        hang_up(twilio, dialled)
    refused = twilio.voice(alice.identity, UK)
    assert refused.refused
    assert "You have placed 3 calls this hour" in refused.said
    assert "you can call again at" in refused.said
    # The dialer's preview says the same before anyone dials (and enables no Call button).
    preview = alice.client.get("/api/rates", params={"to": UK}).json()
    assert preview["allowed"] is False
    assert preview["code"] == "velocity_limit"
    assert preview["reason"] == refused.said
    assert velocity_of(table_store, alice.user_id).calls_this_hour == 3


def test_a_new_number_past_the_daily_limit_is_refused_and_known_numbers_are_not(
    limited: LocalHost, accounts: Callable[..., Account], table_store: TableStore
) -> None:
    twilio = Twilio(limited.base_url)
    bob = accounts()
    for to in (UK, FRANCE):
        dialled = twilio.voice(bob.identity, to)
        assert dialled.dial is not None, dialled.said
        hang_up(twilio, dialled)
    refused = twilio.voice(bob.identity, GERMANY)
    assert refused.refused
    assert "2 different numbers today" in refused.said
    stored = velocity_of(table_store, bob.user_id)
    assert len(stored.destinations_today) == 2
    row = table_store.table(ACCOUNTS_TABLE).get(bob.user_id, BALANCE_KEY)
    assert row is not None
    assert not [v for v in row.data.values() if isinstance(v, str) and "2079460018" in v]
    again = twilio.voice(bob.identity, UK)
    assert again.dial is not None, again.said


def test_the_days_spend_caps_the_time_limit_and_settling_gives_back_the_unused_part(
    limited: LocalHost, accounts: Callable[..., Account], table_store: TableStore
) -> None:
    # The sample deck's UK landline: 0.0150 a minute, billed 60 then 1 s. 1.00 a day buys
    # 66 minutes and a bit; the balance (10.00) pays for far more.
    twilio = Twilio(limited.base_url)
    carol = accounts()
    first = twilio.voice(carol.identity, UK)
    assert first.dial is not None, first.said
    assert 3900 < first.time_limit < 4010
    reserved = velocity_of(table_store, carol.user_id).spent_today_micros
    assert 990_000 <= reserved <= 1_000_000
    hang_up(twilio, first, seconds=60)  # billed one minute: 0.015
    assert velocity_of(table_store, carol.user_id).spent_today_micros == 15_000
    second = twilio.voice(carol.identity, UK)
    assert second.dial is not None, second.said
    assert second.time_limit < first.time_limit


def test_a_credit_posted_during_a_call_keeps_the_velocity_counters(
    limited: LocalHost,
    accounts: Callable[..., Account],
    table_store: TableStore,
) -> None:
    twilio = Twilio(limited.base_url)
    hooks = StripeWebhooks(limited.base_url)
    dave = accounts()
    dialled = twilio.voice(dave.identity, UK)
    assert dialled.dial is not None
    before = velocity_of(table_store, dave.user_id)
    assert before.calls_this_hour == 1
    checkout = dave.client.post("/api/checkout", json={"pack": "5", "nonce": uuid.uuid4().hex})
    assert checkout.status_code == 200, checkout.text
    hooks.sandbox("pay", session_id=checkout.json()["session_id"])
    assert dave.balance() == 15_000_000  # credited through Stripe's webhook, during the call
    assert velocity_of(table_store, dave.user_id) == before
    hang_up(twilio, dialled)


def test_two_instances_count_the_calls_of_an_hour_together(
    limited: LocalHost,
    second: LocalHost,
    accounts: Callable[..., Account],
) -> None:
    erin = accounts()
    here, there = Twilio(limited.base_url), Twilio(second.base_url)
    for twilio in (here, there, here):
        dialled = twilio.voice(erin.identity, UK)
        assert dialled.dial is not None, dialled.said
        hang_up(twilio, dialled)
    refused = there.voice(erin.identity, UK)
    assert refused.refused
    assert "3 calls this hour" in refused.said


def test_a_retried_voice_webhook_is_not_counted_twice(
    limited: LocalHost, accounts: Callable[..., Account], table_store: TableStore
) -> None:
    twilio = Twilio(limited.base_url)
    frank = accounts()
    sid = call_sid()
    first = twilio.voice(frank.identity, UK, sid)
    again = twilio.voice(frank.identity, UK, sid)
    assert first.dial is not None
    assert again.dial is not None
    assert velocity_of(table_store, frank.user_id).calls_this_hour == 1
    hang_up(twilio, first)


def test_a_new_account_may_not_buy_a_large_first_pack(
    limited: LocalHost, accounts: Callable[..., Account]
) -> None:
    grace = accounts(credit=0)
    response = grace.client.post("/api/checkout", json={"pack": "10"})
    assert response.status_code == 403, response.text
    assert "A first purchase can be at most 5.00 USD" in response.json()["detail"]
    # Once a purchase is credited, the account may buy any pack.
    hooks = StripeWebhooks(limited.base_url)
    small = grace.client.post("/api/checkout", json={"pack": "5"})
    assert small.status_code == 200, small.text
    hooks.sandbox("pay", session_id=small.json()["session_id"])
    assert grace.balance() == 5_000_000
    assert grace.client.post("/api/checkout", json={"pack": "25"}).status_code == 200


def test_checkouts_past_the_hourly_limit_are_429_and_a_double_click_counts_once(
    limited: LocalHost, accounts: Callable[..., Account]
) -> None:
    henry = accounts(credit=0)
    nonce = uuid.uuid4().hex
    for _ in range(2):  # one purchase, clicked twice: one checkout
        assert henry.client.post("/api/checkout", json={"pack": "5", "nonce": nonce}).ok
    assert henry.client.post("/api/checkout", json={"pack": "5"}).status_code == 200
    body = assert_limited(
        henry.client.post("/api/checkout", json={"pack": "5"}), "started 2 purchases this hour"
    )
    assert body["title"] == "Too many requests"


def test_token_mints_past_the_per_user_limit_are_429(
    limited: LocalHost, accounts: Callable[..., Account]
) -> None:
    ivan = accounts()  # minted one token already
    for _ in range(2):
        assert ivan.client.post("/api/token").status_code == 200
    assert_limited(ivan.client.post("/api/token"), "calling tokens from your account")


@pytest.mark.parametrize(
    ("method", "path", "words"),
    [
        ("POST", "/api/token", "calling tokens from your network"),
        ("GET", "/api/rates?to=%2B442079460018", "price look-ups from your network"),
        ("POST", "/api/checkout", "purchases started from your network"),
    ],
)
def test_per_address_limits_count_each_client_address_apart(
    limited: LocalHost, method: str, path: str, words: str
) -> None:
    address, other = an_address(), "192.0.2.77"
    client = Client(limited.base_url)  # its requests name their address themselves
    for _ in range(4):  # counted before the session is asked for: these are 401s
        assert client.request(method, path, headers=from_address(address)).status_code == 401
    assert_limited(client.request(method, path, headers=from_address(address)), words)
    assert client.request(method, path, headers=from_address(other)).status_code == 401
    # A client cannot take another address by sending one: Azure's entry is on the right.
    spoofed = client.request(method, path, headers=from_address(f"{an_address()}, {address}"))
    assert spoofed.status_code == 429


def test_rates_past_the_per_user_limit_are_429(
    limited: LocalHost, accounts: Callable[..., Account]
) -> None:
    judy = accounts()
    for _ in range(3):
        assert judy.client.get("/api/rates", params={"to": UK}).status_code == 200
    assert_limited(judy.client.get("/api/rates", params={"to": UK}), "price look-ups")


@pytest.mark.parametrize(
    ("method", "path", "body", "words"),
    [
        ("GET", "/api/me/export", None, "data exports from your network"),
        ("POST", "/api/me/caller-id", {"number": "+447700900123"}, "caller ID verifications"),
    ],
)
def test_exports_and_caller_id_verifications_past_the_per_address_limit_are_429(
    limited: LocalHost, method: str, path: str, body: dict[str, str] | None, words: str
) -> None:
    first, second = Browser(limited.base_url), Browser(limited.base_url)
    first.sign_in()
    second.sign_in()
    second.address = first.address  # another account, from the same address
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    assert first.request(method, path, **kwargs).status_code != 429
    assert_limited(second.request(method, path, **kwargs), words)


def test_sign_ins_past_the_per_address_limit_are_429(limited: LocalHost) -> None:
    address = an_address()
    for _ in range(2):
        Browser(limited.base_url, address).sign_in()
    refused = Browser(limited.base_url, address).post(
        "/api/auth/dev-login", json={"email": "late@example.com"}
    )
    assert_limited(refused, "sign-in attempts from your network")
    Browser(limited.base_url).sign_in()  # another address signs in


def test_the_sign_in_routes_past_the_per_address_limit_answer_a_page_saying_so(
    limited: LocalHost,
) -> None:
    browser = Browser(limited.base_url)
    # Not set up in this sandbox (no AUTH_CLIENT_ID): a page, but counted all the same.
    assert browser.get("/api/auth/login", allow_redirects=False).status_code == 404
    assert browser.get("/api/auth/callback", allow_redirects=False).status_code != 429
    page = browser.get("/api/auth/login", allow_redirects=False)
    assert page.status_code == 429
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Retry-After"].isdigit()
    assert "Too many sign-in attempts" in page.text
    assert "sign-in attempts from your network: at most 2 in an hour" in page.text


def test_every_ledger_write_carries_the_balance_rows_other_fields_through(
    fresh_table: Table,
) -> None:
    ledger = Ledger(fresh_table)
    user = "u-" + uuid.uuid4().hex
    ledger.post(user, "adj-1", 1_000_000, EntryKind.ADJUSTMENT)
    row = fresh_table.get(user, BALANCE_KEY)
    assert row is not None
    counters = {"calls_this_hour": 7, "velocity_hour": "2026120210"}
    fresh_table.commit(user, [Replace(BALANCE_KEY, {**row.data, **counters}, row.etag)])
    ledger.post(user, "pay-1", 5_000_000, EntryKind.CREDIT_PURCHASE)
    ledger.set_flags(user, lambda flags: flags | {"payment_disputed"})
    ledger.post(user, "CA-1", -100_000, EntryKind.CALL_CHARGE)
    balance = ledger.balance(user)
    assert balance.micros == 5_900_000
    assert balance.flags == {"payment_disputed"}
    assert balance.extra == {**counters, HAS_PURCHASED: True}

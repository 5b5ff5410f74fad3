"""Calling through the local host over HTTP, with a client that signs like Twilio.

The client knows only the settings (the sample's auth token and account) and the host's URL:
token → voice → status callbacks (duplicated, shuffled, concurrent), the <Dial action>, and
reconciliation from the Calls API fake, and every forged request changes nothing.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from local_host.azurite import Azurite, connection_string, free_port
from shared.config import TwilioSettings
from shared.money.ledger import FLAG_PAYMENT_DISPUTED, EntryKind, Ledger
from shared.storage.keys import (
    ACCOUNTS_TABLE,
    HOLD_KEY,
    OPEN_CALLS_PARTITION,
    OPEN_CALLS_TABLE,
    call_key,
    open_call_key,
)
from shared.storage.table_store import TableStore
from shared.telephony.calls_api import TwilioCallsApi
from shared.telephony.signature import sign
from shared.telephony.webhook_overrides import OVERRIDES
from tests.conftest import Client
from tests.servers import LocalHost
from tests.traffic import voice_form

AUTH_TOKEN = "sandbox-twilio-auth-token"
ACCOUNT_SID = "AC00000000000000000000000000000000"
APP_SID = "AP00000000000000000000000000000000"
API_KEY_SID = "SK00000000000000000000000000000000"
API_KEY_SECRET = "sandbox-twilio-api-key-secret-not-for-production"
CALLER_ID = "+15005550006"

LONDON = "+442079460018"  # sample deck: 44 United Kingdom landline, 0.0150/min, 60/1
PREMIUM = "+449098790000"
MOSCOW = "+74951234567"  # valid, but the sample deck has no price for Russia
# The status callbacks of an answered leg, numbered as Twilio numbers them.
ANSWERED = (("initiated", 0), ("ringing", 1), ("in-progress", 2), ("completed", 3))

# A deck of round prices for the billing tests (a second host reads it).
TEST_DECK = """\
prefix,country,description,per_minute,increments,connect_fee
44,GB,Test sixty by sixty,0.60,60/60,
33,FR,Test sixty then one,0.30,60/1,0.01
49,DE,Test one by one,0.06,1/1,
1,US,Test short calls,0.60,1/1,
"""
UK, FRANCE, GERMANY, US = "+442079460018", "+33142685300", "+4930123456", "+14155550100"


def call_sid() -> str:
    return "CA" + uuid.uuid4().hex


@dataclass(frozen=True)
class Dialled:
    """What /api/voice answered, read from its XML."""

    response: requests.Response
    root: ET.Element

    @property
    def dial(self) -> ET.Element | None:
        return self.root.find("Dial")

    @property
    def number(self) -> ET.Element:
        dial = self.dial
        assert dial is not None, ET.tostring(self.root)
        number = dial.find("Number")
        assert number is not None
        return number

    @property
    def time_limit(self) -> int:
        assert self.dial is not None, ET.tostring(self.root)
        return int(self.dial.attrib["timeLimit"])

    @property
    def said(self) -> str:
        say = self.root.find("Say")
        return say.text or "" if say is not None else ""

    @property
    def refused(self) -> bool:
        return self.dial is None and self.root.find("Hangup") is not None


class Twilio:
    """Plays Twilio's side: signs every webhook with the account's auth token."""

    def __init__(self, base_url: str, auth_token: str = AUTH_TOKEN) -> None:
        self.base_url = base_url
        self.auth_token = auth_token

    def post(
        self,
        url: str,
        form: dict[str, str],
        *,
        signed_url: str | None = None,
        signature: str | None = "sign",
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """POSTs form to url, signed (by default) for url exactly as Twilio signs."""
        extra = dict(headers or {})
        if signature == "sign":
            extra["X-Twilio-Signature"] = sign(signed_url or url, form, self.auth_token)
        elif signature is not None:
            extra["X-Twilio-Signature"] = signature
        return requests.post(url, data=form, headers=extra, timeout=30)

    def voice_form(self, identity: str, to: str, sid: str) -> dict[str, str]:
        return voice_form(identity, to, sid)

    def voice(self, identity: str, to: str, sid: str | None = None, **kwargs: Any) -> Dialled:
        """The voice webhook for a call placed with a token of `identity` (Account.identity)."""
        form = self.voice_form(identity, to, sid or call_sid())
        response = self.post(f"{self.base_url}/api/voice", form, **kwargs)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/xml")
        return Dialled(response, ET.fromstring(response.content))

    def status(
        self,
        dialled: Dialled,
        child: str,
        status: str,
        sequence: int,
        duration: int | None = None,
    ) -> requests.Response:
        url = dialled.number.attrib["statusCallback"]
        parent = parse_qs(urlsplit(url).query)["call"][0]
        form = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": child,
            "CallStatus": status,
            "Called": dialled.number.text or "",
            "Direction": "outbound-dial",
            "From": CALLER_ID,
            "ParentCallSid": parent,
            "SequenceNumber": str(sequence),
            "Timestamp": "Tue, 24 Nov 2026 10:00:00 +0000",
            "To": dialled.number.text or "",
            "CallbackSource": "call-progress-events",
        }
        if duration is not None:
            form["CallDuration"] = str(duration)
        return self.post(url, form, headers={"I-Twilio-Idempotency-Token": f"{child}-{sequence}"})

    def dial_action(
        self, dialled: Dialled, dial_status: str, child: str | None, duration: int = 0
    ) -> requests.Response:
        assert dialled.dial is not None
        url = dialled.dial.attrib["action"]
        parent = parse_qs(urlsplit(url).query)["call"][0]
        form = {
            "AccountSid": ACCOUNT_SID,
            "CallSid": parent,
            "CallStatus": "completed" if dial_status == "completed" else "in-progress",
            "DialCallStatus": dial_status,
            "DialCallDuration": str(duration),
            "Direction": "inbound",
            "From": "client:someone",
        }
        if child:
            form["DialCallSid"] = child
        return self.post(url, form)


@dataclass
class Account:
    """One signed-in user of a host, with direct views of their ledger and rows."""

    client: Client
    user_id: str
    ledger: Ledger
    table_store: TableStore
    # The Twilio identity of this user's tokens: it names the session they were minted for.
    identity: str

    def balance(self) -> int:
        return self.ledger.balance(self.user_id).micros

    def charges(self) -> list[int]:
        return [
            e.amount_micros
            for e in self.ledger.all_entries(self.user_id)
            if e.kind is EntryKind.CALL_CHARGE
        ]

    def has_hold(self) -> bool:
        return self.table_store.table(ACCOUNTS_TABLE).get(self.user_id, HOLD_KEY) is not None

    def is_indexed(self, sid: str) -> bool:
        """Whether the call is in the open-calls index that reconciliation reads."""
        index = self.table_store.table(OPEN_CALLS_TABLE)
        return index.get(OPEN_CALLS_PARTITION, open_call_key(self.user_id, sid)) is not None

    def call_row(self, sid: str) -> dict[str, Any] | None:
        row = self.table_store.table(ACCOUNTS_TABLE).get(self.user_id, call_key(sid))
        return dict(row.data) if row else None

    def calls(self, **params: Any) -> dict[str, Any]:
        response = self.client.get("/api/calls", params=params)
        assert response.status_code == 200, response.text
        return response.json()


AccountFactory = Callable[..., Account]


def make_accounts(
    base_url: str,
    table_store: TableStore,
    fund: Callable[[str, int], None],
    browser: Callable[[str], Client] = Client,
):
    def new_account(credit: int = 10_000_000) -> Account:
        client = browser(base_url)
        user_id = client.sign_in()["user_id"]
        if credit:
            fund(user_id, credit)
        identity = client.post("/api/token").json()["identity"]
        ledger = Ledger(table_store.table(ACCOUNTS_TABLE))
        return Account(client, user_id, ledger, table_store, identity)

    return new_account


@pytest.fixture(scope="module")
def priced_host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHost]:
    """A host with round test prices, and reconciliation due as soon as a time limit passes."""
    deck = tmp_path_factory.mktemp("deck") / "deck.csv"
    deck.write_text(TEST_DECK)
    server = LocalHost(
        azurite.connection_string,
        {"RATE_DECK_PATH": str(deck), "RECONCILE_MARGIN_SECONDS": "0"},
    ).start()
    yield server
    server.stop()


@pytest.fixture
def priced(
    priced_host: LocalHost, table_store: TableStore, fund: Callable[[str, int], None]
) -> tuple[Twilio, AccountFactory]:
    return Twilio(priced_host.base_url), make_accounts(priced_host.base_url, table_store, fund)


def answered_call(twilio: Twilio, dialled: Dialled, duration: int) -> str:
    """Sends an answered leg's callbacks in order; returns the leg's CallSid."""
    child = call_sid()
    for status, sequence in ANSWERED:
        response = twilio.status(
            dialled, child, status, sequence, duration if status == "completed" else None
        )
        assert response.status_code == 200, response.text
    return child


# --- the token ---------------------------------------------------------------------------


def test_the_token_grants_outgoing_calls_through_the_twiml_app_only(signed_in: Client) -> None:
    user_id = signed_in.get("/api/me").json()["user_id"]
    response = signed_in.post("/api/token")
    assert response.status_code == 200, response.text
    body = response.json()
    claims = jwt.decode(body["token"], API_KEY_SECRET, algorithms=["HS256"])
    assert jwt.get_unverified_header(body["token"])["cty"] == "twilio-fpa;v=1"
    assert claims["iss"] == API_KEY_SID
    assert claims["sub"] == ACCOUNT_SID
    # The identity names the user and the session the token was minted for.
    assert claims["grants"]["identity"] == body["identity"]
    assert re.fullmatch(rf"{user_id}_[0-9a-f]{{32}}", body["identity"])
    assert claims["grants"]["voice"] == {"outgoing": {"application_sid": APP_SID}}
    assert claims["exp"] - claims["nbf"] == 3600
    assert datetime.fromisoformat(body["expires_at"]) == datetime.fromtimestamp(claims["exp"], UTC)


def test_the_token_lifetime_can_be_shorter_than_the_cap_never_longer(signed_in: Client) -> None:
    token = signed_in.post("/api/token", json={"ttl": 600}).json()["token"]
    claims = jwt.decode(token, API_KEY_SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["nbf"] == 600
    # TOKEN_TTL_SECONDS (3600 in the sample settings) is the most a client gets.
    day = signed_in.post("/api/token", json={"ttl": 86400}).json()
    assert day["ttl_seconds"] == 3600
    claims = jwt.decode(day["token"], API_KEY_SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["nbf"] == 3600
    for bad in (86401, 0, "3600", True, 1.5):
        response = signed_in.post("/api/token", json={"ttl": bad})
        assert response.status_code == 400, bad
        assert response.headers["Content-Type"].startswith("application/problem+json")


def test_the_token_needs_a_session_and_our_origin(
    new_client: Callable[[], Client], signed_in: Client
) -> None:
    assert new_client().post("/api/token").status_code == 401
    foreign = signed_in.post("/api/token", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403


# --- rates -------------------------------------------------------------------------------


def test_rates_show_the_price_and_how_long_the_balance_lasts(account: AccountFactory) -> None:
    alice = account(credit=1_000_000)
    rate = alice.client.get("/api/rates", params={"to": "+44 20 7946 0018"}).json()
    assert rate["allowed"] is True
    assert rate["reason"] is None
    assert (rate["e164"], rate["country"], rate["number_type"]) == (LONDON, "GB", "fixed_line")
    assert rate["per_minute_micros"] == 15_000
    assert rate["per_minute"] == "0.015 USD"
    assert rate["increments"] == "60/1"
    assert rate["connect_fee_micros"] == 0
    # 1 USD at 0.015/min in 60/1 increments: 1_000_000 * 60 // 15_000 seconds.
    assert rate["max_seconds"] == 4000
    assert rate["balance_micros"] == 1_000_000


def test_rates_say_why_a_call_is_not_possible(account: AccountFactory) -> None:
    broke = account(credit=0)
    rate = broke.client.get("/api/rates", params={"to": LONDON}).json()
    assert (rate["allowed"], rate["code"], rate["max_seconds"]) == (
        False,
        "insufficient_credit",
        0,
    )
    assert "add credit" in rate["reason"]
    assert rate["per_minute_micros"] == 15_000
    premium = broke.client.get("/api/rates", params={"to": PREMIUM}).json()
    assert (premium["allowed"], premium["code"], premium["e164"]) == (False, "premium_rate", None)
    emergency = broke.client.get("/api/rates", params={"to": "112"}).json()
    assert emergency["code"] == "emergency"
    assert "not supported" in emergency["reason"]
    assert broke.client.get("/api/rates").status_code == 400


def test_rates_need_a_session(client: Client) -> None:
    assert Client(client.base_url).get("/api/rates", params={"to": LONDON}).status_code == 401


# --- the voice webhook -------------------------------------------------------------------


def test_voice_dials_the_number_for_the_time_the_balance_pays_for(
    host: LocalHost, twilio: Twilio, account: AccountFactory
) -> None:
    alice = account(credit=1_000_000)
    sid = call_sid()
    dialled = twilio.voice(alice.identity, "+44 20 7946 0018", sid)
    assert dialled.root.tag == "Response"
    dial = dialled.dial
    assert dial is not None
    assert dial.attrib["answerOnBridge"] == "true"
    assert dial.attrib["callerId"] == CALLER_ID
    assert dial.attrib["timeLimit"] == "4000"
    # Both report URLs carry our connection overrides, so that Twilio retries a 503.
    callbacks = f"user={alice.user_id}&call={sid}#{OVERRIDES.fragment()}"
    assert dial.attrib["action"] == f"{host.base_url}/api/call-status/dial-action?{callbacks}"
    number = dialled.number
    assert number.text == LONDON
    assert number.attrib["statusCallback"] == f"{host.base_url}/api/call-status?{callbacks}"
    assert number.attrib["statusCallbackEvent"] == "initiated ringing answered completed"
    assert number.attrib["statusCallbackMethod"] == "POST"
    assert list(dialled.root) == [dial]
    assert list(dial) == [number]
    assert alice.has_hold()
    [call] = alice.calls()["calls"]
    assert (call["call_sid"], call["to"], call["status"], call["max_seconds"]) == (
        sid,
        LONDON,
        "queued",
        4000,
    )


def test_a_retried_voice_webhook_dials_the_same_call_again(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice = account()
    sid = call_sid()
    first = twilio.voice(alice.identity, LONDON, sid)
    again = twilio.voice(alice.identity, LONDON, sid)
    assert again.response.content == first.response.content
    assert len(alice.calls()["calls"]) == 1


@pytest.mark.parametrize(
    ("to", "credit", "heard"),
    [
        (PREMIUM, 10_000_000, "premium-rate"),
        ("911", 10_000_000, "Emergency calls are not supported"),
        ("+44 20 7946", 10_000_000, "not a valid phone number"),
        (MOSCOW, 10_000_000, "no price"),
        (LONDON, 0, "add credit"),
        (LONDON, -5_000_000, "below zero"),
    ],
)
def test_voice_refuses_with_a_sentence_and_hangs_up(
    twilio: Twilio, account: AccountFactory, to: str, credit: int, heard: str
) -> None:
    user = account(credit=credit)
    dialled = twilio.voice(user.identity, to)
    assert dialled.refused, dialled.response.text
    assert heard in dialled.said
    assert not user.has_hold()
    assert user.calls()["calls"] == []


def test_voice_refuses_an_account_with_an_open_payment_dispute(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice = account()
    alice.ledger.set_flags(alice.user_id, lambda flags: flags | {FLAG_PAYMENT_DISPUTED})
    dialled = twilio.voice(alice.identity, LONDON)
    assert dialled.refused
    assert "dispute" in dialled.said
    assert not alice.has_hold()


def test_voice_refuses_calls_that_are_not_from_our_browsers(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice = account()
    form = twilio.voice_form(alice.identity, LONDON, call_sid())
    form["From"] = "+447700900123"
    response = twilio.post(f"{twilio.base_url}/api/voice", form)
    assert response.status_code == 200
    assert ET.fromstring(response.content).find("Dial") is None
    assert not alice.has_hold()


def test_voice_refuses_a_call_that_names_no_twiml_app_or_another_one(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice = account()
    for application in (None, "AP" + "1" * 32):
        form = twilio.voice_form(alice.identity, LONDON, call_sid())
        if application is None:
            del form["ApplicationSid"]
        else:
            form["ApplicationSid"] = application
        response = twilio.post(f"{twilio.base_url}/api/voice", form)
        assert response.status_code == 200
        assert ET.fromstring(response.content).find("Dial") is None
    assert not alice.has_hold()


def deliver_at_once(twilio: Twilio, identity: str, sid: str, copies: int) -> list[Dialled]:
    """The same voice webhook, delivered `copies` times at once (Twilio's retries racing)."""
    start = threading.Barrier(copies)

    def deliver(_: int) -> Dialled:
        start.wait()
        return twilio.voice(identity, LONDON, sid)

    with ThreadPoolExecutor(copies) as pool:
        return list(pool.map(deliver, range(copies)))


def test_concurrent_deliveries_of_one_voice_webhook_all_get_the_same_dial(
    twilio: Twilio, account: AccountFactory
) -> None:
    for _ in range(3):  # the race is one of timing: try it a few times
        alice = account()
        answers = deliver_at_once(twilio, alice.identity, call_sid(), 6)
        assert all(a.dial is not None for a in answers), [a.said for a in answers]
        assert len({a.response.content for a in answers}) == 1
        assert len(alice.calls()["calls"]) == 1


def test_a_second_call_while_one_is_active_is_refused(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice = account()
    first = twilio.voice(alice.identity, LONDON)
    assert first.dial is not None
    second = twilio.voice(alice.identity, LONDON)
    assert second.refused
    assert "already have a call" in second.said
    assert len(alice.calls()["calls"]) == 1


def test_a_call_is_in_the_open_calls_index_from_dialling_until_it_is_settled(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice = account()
    first, second = call_sid(), call_sid()
    dialled = twilio.voice(alice.identity, LONDON, first)
    assert twilio.voice(alice.identity, LONDON, second).refused
    assert (alice.is_indexed(first), alice.is_indexed(second)) == (True, False)
    answered_call(twilio, dialled, 30)
    assert not alice.is_indexed(first)
    assert not alice.has_hold()


def test_concurrent_calls_of_one_user_dial_only_one(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice = account()
    start = threading.Barrier(6)

    def place(_: int) -> Dialled:
        start.wait()
        return twilio.voice(alice.identity, LONDON)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(place, range(6)))
    assert sum(a.dial is not None for a in answers) == 1
    assert all(a.refused for a in answers if a.dial is None)
    assert len(alice.calls()["calls"]) == 1


# --- signatures --------------------------------------------------------------------------


def forged_requests(twilio: Twilio, form: dict[str, str], url: str) -> list[requests.Response]:
    requested, hashed, fragment = url.partition("#")
    other_url = requested + ("&" if "?" in requested else "?") + "x=1" + hashed + fragment
    evil = "http://evil.example" + url.removeprefix(twilio.base_url)
    return [
        twilio.post(url, form, signature=None),
        twilio.post(url, form, signature=""),
        twilio.post(url, form, signature="bm90IGEgc2lnbmF0dXJl"),
        Twilio(twilio.base_url, "not-the-auth-token").post(url, form),
        # Signed for one URL and replayed to another, either way round.
        twilio.post(url, form, signed_url=other_url),
        twilio.post(other_url, form, signed_url=url),
        # Signed for other fields than the ones sent.
        twilio.post(url, form, signature=sign(url, {**form, "To": "+1"}, AUTH_TOKEN)),
        # Signed for the host the request claims to be for: we never trust Host.
        twilio.post(url, form, signed_url=evil, headers={"Host": "evil.example"}),
        twilio.post(
            url,
            form,
            signed_url=evil,
            headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"},
        ),
    ]


def test_forged_voice_webhooks_are_refused_and_change_nothing(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice = account()
    form = twilio.voice_form(alice.identity, LONDON, call_sid())
    for response in forged_requests(twilio, form, f"{twilio.base_url}/api/voice"):
        assert response.status_code == 403, response.text
        assert response.headers["Content-Type"].startswith("application/problem+json")
    other_account = {**form, "AccountSid": "AC" + "1" * 32}
    assert twilio.post(f"{twilio.base_url}/api/voice", other_account).status_code == 403
    assert not alice.has_hold()
    assert alice.calls()["calls"] == []


def test_the_signature_ignores_proxy_headers_and_checks_our_public_url(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice = account()
    form = twilio.voice_form(alice.identity, LONDON, call_sid())
    response = twilio.post(
        f"{twilio.base_url}/api/voice",
        form,
        headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
    )
    assert response.status_code == 200
    assert ET.fromstring(response.content).find("Dial") is not None


def test_forged_status_callbacks_are_refused_and_change_nothing(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice, mallory = account(), account()
    dialled = twilio.voice(alice.identity, LONDON)
    url = dialled.number.attrib["statusCallback"]
    child = call_sid()
    form = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": child,
        "CallStatus": "completed",
        "CallDuration": "3000",
        "SequenceNumber": "3",
        "ParentCallSid": parse_qs(urlsplit(url).query)["call"][0],
    }
    for response in forged_requests(twilio, form, url):
        assert response.status_code == 403, response.text
    # Twilio's signature for alice's URL does not carry over to mallory's.
    mallory_url = url.replace(alice.user_id, mallory.user_id)
    assert twilio.post(mallory_url, form, signed_url=url).status_code == 403
    assert alice.charges() == []
    assert alice.has_hold()
    assert alice.calls()["calls"][0]["status"] == "queued"


# --- status callbacks and billing ----------------------------------------------------------


def test_duplicated_shuffled_concurrent_callbacks_debit_exactly_once(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice = account(credit=5_000_000)
    dialled = twilio.voice(alice.identity, LONDON)
    child = call_sid()
    callbacks = [
        ("initiated", 0, None),
        ("ringing", 1, None),
        ("in-progress", 2, None),
        ("completed", 3, 61),
    ] * 4
    random.Random(3).shuffle(callbacks)
    start = threading.Barrier(8)

    def deliver(chunk: list[tuple[str, int, int | None]]) -> list[int]:
        start.wait()
        return [twilio.status(dialled, child, *callback).status_code for callback in chunk]

    with ThreadPoolExecutor(8) as pool:
        chunks = list(pool.map(deliver, [callbacks[n::8] for n in range(8)]))
    statuses = [status for chunk in chunks for status in chunk]
    assert statuses == [200] * len(callbacks)
    assert twilio.dial_action(dialled, "completed", child, 61).status_code == 200
    # 61 s at 0.015/min, 60/1: 61 billed seconds, 61 * 15_000 / 60 micros.
    assert alice.charges() == [-15_250]
    assert alice.balance() == 5_000_000 - 15_250
    assert not alice.has_hold()
    [call] = alice.calls()["calls"]
    assert (call["status"], call["duration_seconds"], call["billed_seconds"]) == (
        "completed",
        61,
        61,
    )
    assert call["charge_micros"] == 15_250
    assert call["answered_at"] is not None
    # Settled, the user can call again.
    assert twilio.voice(alice.identity, LONDON).dial is not None


def test_a_repeated_final_callback_changes_nothing(twilio: Twilio, account: AccountFactory) -> None:
    alice = account()
    dialled = twilio.voice(alice.identity, LONDON)
    child = answered_call(twilio, dialled, 30)
    after = alice.balance()
    again = twilio.status(dialled, child, "completed", 3, 9999)
    late = twilio.status(dialled, child, "ringing", 1)
    assert (again.status_code, late.status_code) == (200, 200)
    assert alice.balance() == after
    assert len(alice.charges()) == 1
    assert alice.calls()["calls"][0]["duration_seconds"] == 30


def test_callbacks_never_move_a_call_backwards(twilio: Twilio, account: AccountFactory) -> None:
    alice = account()
    dialled = twilio.voice(alice.identity, LONDON)
    sid = parse_qs(urlsplit(dialled.number.attrib["statusCallback"]).query)["call"][0]
    child = call_sid()
    twilio.status(dialled, child, "in-progress", 2)
    twilio.status(dialled, child, "ringing", 1)
    twilio.status(dialled, child, "initiated", 0)
    row = alice.call_row(sid)
    assert row is not None
    assert (row["status"], row["sequence"], row["child_sid"]) == ("in-progress", 2, child)


@pytest.mark.parametrize("outcome", ["busy", "no-answer", "failed", "canceled"])
def test_an_unanswered_call_costs_nothing_and_frees_the_line(
    twilio: Twilio, account: AccountFactory, outcome: str
) -> None:
    alice = account(credit=1_000_000)
    dialled = twilio.voice(alice.identity, LONDON)
    child = call_sid()
    twilio.status(dialled, child, "initiated", 0)
    assert twilio.status(dialled, child, outcome, 1).status_code == 200
    assert alice.charges() == [0]
    assert alice.balance() == 1_000_000
    assert not alice.has_hold()
    assert alice.calls()["calls"][0]["status"] == outcome


def test_the_dial_action_frees_the_line_when_no_status_callback_came(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice = account()
    dialled = twilio.voice(alice.identity, LONDON)
    child = call_sid()
    response = twilio.dial_action(dialled, "busy", child)
    assert response.status_code == 200
    assert ET.fromstring(response.content).find("Hangup") is not None
    assert alice.charges() == [0]
    assert not alice.has_hold()
    # The leg's own late callback finds the call settled.
    twilio.status(dialled, child, "busy", 1)
    assert alice.charges() == [0]

    failed = twilio.voice(alice.identity, LONDON)
    assert twilio.dial_action(failed, "failed", None).status_code == 200
    assert not alice.has_hold()
    assert alice.charges() == [0]
    assert [c["status"] for c in alice.calls()["calls"]] == ["failed", "busy"]


def test_the_dial_action_settles_an_answered_call_and_the_late_callback_changes_nothing(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice = account()
    dialled = twilio.voice(alice.identity, LONDON)
    child = call_sid()
    assert twilio.dial_action(dialled, "completed", child, 42).status_code == 200
    # 42 s in 60/1 increments is billed as the first 60 s: 60 * 15_000 / 60 micros.
    assert alice.charges() == [-15_000]
    assert not alice.has_hold()
    assert twilio.status(dialled, child, "completed", 3, 42).status_code == 200
    assert alice.charges() == [-15_000]
    [call] = alice.calls()["calls"]
    assert (call["status"], call["duration_seconds"]) == ("completed", 42)


def test_the_final_callback_settles_first_and_the_late_dial_action_changes_nothing(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice = account()
    dialled = twilio.voice(alice.identity, LONDON)
    child = answered_call(twilio, dialled, 42)
    assert twilio.dial_action(dialled, "completed", child, 42).status_code == 200
    assert alice.charges() == [-15_000]


def test_callbacks_about_unknown_calls_are_answered_200_and_change_nothing(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice = account()
    base = f"{twilio.base_url}/api/call-status"
    form = {"AccountSid": ACCOUNT_SID, "CallSid": call_sid(), "CallStatus": "completed"}
    form["CallDuration"] = "60"
    for url in (
        f"{base}?user={alice.user_id}&call={call_sid()}",
        f"{base}?user=u{uuid.uuid4().hex}&call={call_sid()}",
        base,
        f"{base}/dial-action?user={alice.user_id}&call={call_sid()}",
    ):
        response = twilio.post(url, {**form, "DialCallStatus": "busy"})
        assert response.status_code == 200, (url, response.text)
    assert alice.charges() == []
    assert alice.balance() == 10_000_000


def test_calls_are_listed_newest_first_page_by_page(
    twilio: Twilio, account: AccountFactory
) -> None:
    alice = account()
    sids = []
    for duration in (10, 20, 30):
        dialled = twilio.voice(alice.identity, LONDON)
        answered_call(twilio, dialled, duration)
        sids.append(parse_qs(urlsplit(dialled.dial.attrib["action"]).query)["call"][0])
    first = alice.calls(limit=2)
    assert [c["call_sid"] for c in first["calls"]] == sids[:0:-1]
    assert first["continuation"]
    rest = alice.calls(limit=2, continuation=first["continuation"])
    assert [c["call_sid"] for c in rest["calls"]] == sids[:1]
    assert rest["continuation"] is None
    assert [c["duration_seconds"] for c in first["calls"]] == [30, 20]
    assert alice.client.get("/api/calls", params={"continuation": "nonsense"}).status_code == 400
    assert Client(twilio.base_url).get("/api/calls").status_code == 401


# --- exact billing, bounded by the balance ---------------------------------------------------


@pytest.mark.parametrize(
    ("to", "duration", "charge"),
    [
        (UK, 1, 600_000),  # 60/60 at 0.60: one block
        (UK, 60, 600_000),
        (UK, 61, 1_200_000),  # a second started block
        (FRANCE, 5, 310_000),  # 60/1 at 0.30 plus 0.01 to connect: the first 60 s
        (FRANCE, 61, 315_000),  # then per second
        (FRANCE, 0, 0),  # answered and hung up at once: nothing billed
        (GERMANY, 1, 1_000),  # 1/1 at 0.06: 1_000 micros a second
        (GERMANY, 61, 61_000),
        (GERMANY, 3599, 3_599_000),
    ],
)
def test_billing_follows_the_deck_exactly(
    priced: tuple[Twilio, AccountFactory], to: str, duration: int, charge: int
) -> None:
    twilio, account = priced
    alice = account(credit=10_000_000)
    answered_call(twilio, twilio.voice(alice.identity, to), duration)
    assert alice.charges() == [-charge]
    assert alice.balance() == 10_000_000 - charge


@pytest.mark.parametrize(
    ("to", "credit", "time_limit", "most"),
    [
        (UK, 1_000_000, 60, 600_000),  # 1.00 buys one 0.60 block, not two
        (UK, 1_200_000, 120, 1_200_000),
        (FRANCE, 320_000, 62, 320_000),  # 0.01 + 0.30 for 60 s, then 5_000 a second
        (GERMANY, 12_345, 12, 12_000),
    ],
)
def test_no_call_costs_more_than_the_balance_at_dial_time(
    priced: tuple[Twilio, AccountFactory], to: str, credit: int, time_limit: int, most: int
) -> None:
    twilio, account = priced
    alice = account(credit=credit)
    dialled = twilio.voice(alice.identity, to)
    assert dialled.time_limit == time_limit
    # Twilio reports more than the time limit (a late hang-up): billing stops at the limit.
    answered_call(twilio, dialled, time_limit + 500)
    assert alice.charges() == [-most]
    assert alice.balance() == credit - most >= 0
    assert alice.calls()["calls"][0]["billed_seconds"] == time_limit


def test_reconciliation_settles_a_call_whose_callbacks_were_all_lost(
    priced_host: LocalHost, priced: tuple[Twilio, AccountFactory]
) -> None:
    twilio, account = priced
    alice = account(credit=30_000)  # 3 s at 0.60/min, 1/1
    parent = call_sid()
    dialled = twilio.voice(alice.identity, US, parent)
    assert dialled.time_limit == 3
    child = call_sid()
    seeded = requests.post(
        f"{priced_host.base_url}/sandbox/twilio/_seed",
        json={
            "calls": [
                {
                    "sid": parent,
                    "status": "completed",
                    "from": f"client:{alice.user_id}",
                    "to": US,
                    "direction": "inbound",
                    "duration": 5,
                },
                {
                    "sid": child,
                    "parent_call_sid": parent,
                    "status": "completed",
                    "from": CALLER_ID,
                    "to": US,
                    "direction": "outbound-dial",
                    "duration": 3,
                    "start_time": "2026-11-24T10:00:00+00:00",
                    "end_time": "2026-11-24T10:00:03+00:00",
                },
            ]
        },
        timeout=10,
    )
    assert seeded.status_code == 201, seeded.text
    # Reconciliation leaves a call alone until its time limit has passed; then it settles it.
    deadline = time.monotonic() + 20
    while alice.has_hold():
        assert time.monotonic() < deadline, "the call was never reconciled"
        run = requests.post(f"{priced_host.base_url}/admin/functions/reconcile", timeout=30)
        assert run.status_code == 202
    assert alice.charges() == [-30_000]
    [call] = alice.calls()["calls"]
    assert (call["status"], call["billed_seconds"], call["ended_at"][:19]) == (
        "completed",
        3,
        "2026-11-24T10:00:03",
    )
    # Reconciling again, or a late callback, changes nothing.
    requests.post(f"{priced_host.base_url}/admin/functions/reconcile", timeout=30)
    twilio.status(dialled, child, "completed", 3, 3)
    assert alice.charges() == [-30_000]


# --- the Calls API fake ----------------------------------------------------------------------


def test_the_calls_api_fake_answers_the_twilio_sdk_like_twilio(host: LocalHost) -> None:
    parent, child = call_sid(), call_sid()
    seeded = requests.post(
        f"{host.base_url}/sandbox/twilio/_seed",
        json={
            "calls": [
                {"sid": parent, "status": "in-progress", "direction": "inbound"},
                {"sid": child, "parent_call_sid": parent, "status": "completed", "duration": "7"},
            ]
        },
        timeout=10,
    )
    assert seeded.status_code == 201, seeded.text
    api_base = f"{host.base_url}/sandbox/twilio"
    api = TwilioCallsApi(
        TwilioSettings(
            ACCOUNT_SID, AUTH_TOKEN, API_KEY_SID, API_KEY_SECRET, APP_SID, CALLER_ID, api_base
        )
    )
    found = api.fetch(parent)
    assert found is not None
    assert (found.status, found.duration_seconds) == ("in-progress", None)
    [leg] = api.children(parent)
    assert (leg.sid, leg.parent_call_sid, leg.status, leg.duration_seconds) == (
        child,
        parent,
        "completed",
        7,
    )
    assert api.fetch(call_sid()) is None
    assert api.children(call_sid()) == []

    call_url = f"{api_base}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{child}.json"
    raw = requests.get(call_url, auth=(API_KEY_SID, API_KEY_SECRET), timeout=10).json()
    assert (raw["sid"], raw["duration"], raw["parent_call_sid"]) == (child, "7", parent)
    assert raw["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{child}.json"
    wrong = requests.get(call_url, auth=(API_KEY_SID, "wrong"), timeout=10)
    assert wrong.status_code == 401
    assert wrong.json()["code"] == 20003
    missing = requests.get(
        call_url.replace(child, call_sid()), auth=(API_KEY_SID, API_KEY_SECRET), timeout=10
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == 20404
    bad_seed = requests.post(f"{api_base}/_seed", json={"sid": "CA1", "status": "x"}, timeout=10)
    assert bad_seed.status_code == 400


# --- storage faults --------------------------------------------------------------------------


def test_voice_answers_503_while_storage_is_down_so_twilio_retries(
    account: AccountFactory,
) -> None:
    down = LocalHost(connection_string(free_port())).start()
    try:
        twilio = Twilio(down.base_url)
        form = twilio.voice_form(f"u{uuid.uuid4().hex}_{uuid.uuid4().hex}", LONDON, call_sid())
        response = twilio.post(f"{down.base_url}/api/voice", form)
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        callback = f"{down.base_url}/api/call-status?user=u{uuid.uuid4().hex}&call={call_sid()}"
        status = twilio.post(callback, {"AccountSid": ACCOUNT_SID, "CallStatus": "ringing"})
        assert status.status_code == 503
    finally:
        down.stop()

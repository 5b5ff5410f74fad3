"""Sessions end everywhere at once: on sign-out, on expiry and with the account, and the
Twilio tokens minted for a session place no call after it has ended."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.storage.keys import ACCOUNTS_TABLE
from shared.storage.rows import Remove
from shared.storage.table_store import TableStore
from tests.conftest import Client
from tests.integration.test_calling import LONDON, Account, AccountFactory, Twilio

ACCOUNT_PATHS = ("/api/me", "/api/balance", "/api/ledger", "/api/calls")


def refused_with(twilio: Twilio, account: Account, identity: str) -> str:
    """What Twilio's caller hears when the voice webhook refuses the call."""
    dialled = twilio.voice(identity, LONDON)
    assert dialled.refused, dialled.response.text
    return dialled.response.text


def test_a_token_minted_before_sign_out_places_no_call_after_it(
    account: AccountFactory, twilio: Twilio
) -> None:
    alice = account()
    # A long-lived token, asked for before signing out (the cap makes it an hour).
    token = alice.client.post("/api/token", json={"ttl": 86400}).json()
    assert token["ttl_seconds"] == 3600
    assert alice.client.post("/api/auth/logout").status_code == 200

    said = refused_with(twilio, alice, token["identity"])
    assert "signed out" in said
    assert alice.charges() == []
    assert not alice.has_hold()
    assert alice.balance() == 10_000_000


def test_signing_out_ends_only_that_session(account: AccountFactory, twilio: Twilio) -> None:
    alice = account()
    phone = Client(alice.client.base_url)
    phone.sign_in(alice.client.get("/api/me").json()["email"])
    phone_identity = phone.post("/api/token").json()["identity"]
    assert phone_identity != alice.identity

    assert alice.client.post("/api/auth/logout").status_code == 200
    assert alice.client.get("/api/me").status_code == 401
    assert phone.get("/api/me").status_code == 200
    assert twilio.voice(phone_identity, LONDON).dial is not None
    assert refused_with(twilio, alice, alice.identity)


def test_an_identity_naming_another_users_session_places_nothing(
    account: AccountFactory, twilio: Twilio
) -> None:
    alice, bob = account(), account()
    bob_session = bob.identity.split("_")[1]
    # Alice's user id with Bob's (live) session: the session is not in Alice's account.
    refused_with(twilio, alice, f"{alice.user_id}_{bob_session}")
    assert alice.charges() == bob.charges() == []
    assert not alice.has_hold()


def test_a_deleted_account_is_signed_out_everywhere(
    account: AccountFactory, twilio: Twilio, table_store: TableStore
) -> None:
    alice = account()
    for path in ACCOUNT_PATHS:
        assert alice.client.get(path).status_code == 200, path
    # What erasing an account does to its partition: every row goes, sessions included.
    accounts = table_store.table(ACCOUNTS_TABLE)
    for row in list(accounts.rows(alice.user_id)):
        accounts.commit(alice.user_id, [Remove(row.key)])

    for path in ACCOUNT_PATHS:
        response = alice.client.get(path)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["Content-Type"].startswith("application/problem+json")
    assert alice.client.post("/api/token").status_code == 401
    refused_with(twilio, alice, alice.identity)


@pytest.mark.parametrize(
    "cookie",
    [
        "ownnumber_session=",
        "ownnumber_session=u" + "0" * 32 + "." + "0" * 32 + "." + "A" * 43,
        "ownnumber_session=" + "x" * 5000,
        'ownnumber_session="\\ud800"',
    ],
)
def test_a_forged_session_cookie_is_not_signed_in(
    new_client: Callable[[], Client], cookie: str
) -> None:
    response = new_client().get("/api/balance", headers={"Cookie": cookie})
    assert response.status_code == 401


def test_a_session_cookie_with_another_secret_is_not_signed_in(
    new_client: Callable[[], Client],
) -> None:
    client = new_client()
    client.sign_in()
    token = next(iter(client.http.cookies.values()))
    user, session, _ = token.split(".")
    forged = f"ownnumber_session={user}.{session}.{'B' * 43}"
    assert new_client().get("/api/balance", headers={"Cookie": forged}).status_code == 401


def test_the_dev_sign_in_refuses_a_request_that_did_not_come_over_loopback(
    client: Client,
) -> None:
    # The host binds loopback; a request naming a public host must have come through a proxy
    # or a rewritten address, and the dev sign-in is not for such a request.
    response = client.post(
        "/api/auth/dev-login",
        json={"email": f"{uuid.uuid4().hex[:8]}@example.com"},
        headers={"Host": "calls.example.org", "Origin": client.base_url},
    )
    assert response.status_code == 404
    assert "Set-Cookie" not in response.headers


# --- signing out everywhere, and the list of your sessions --------------------------------

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.82 Mobile Safari/537.36"
)


def on_a_phone(alice: Account) -> tuple[Client, str]:
    """Alice signed in on a second device (an Android phone), and that device's identity."""
    phone = Client(alice.client.base_url)
    phone.sign_in(alice.client.get("/api/me").json()["email"], user_agent=CHROME_ANDROID)
    return phone, phone.post("/api/token").json()["identity"]


def session_id(identity: str) -> str:
    return identity.split("_")[1]


def listed(client: Client) -> list[dict[str, Any]]:
    response = client.get("/api/me/sessions")
    assert response.status_code == 200, response.text
    sessions: list[dict[str, Any]] = response.json()["sessions"]
    return sessions


def test_signing_out_everywhere_ends_every_session_and_every_token(
    account: AccountFactory, twilio: Twilio
) -> None:
    alice, bob = account(), account()
    phone, phone_identity = on_a_phone(alice)

    response = alice.client.post("/api/auth/logout-all")
    assert response.status_code == 200, response.text
    assert response.json() == {"signed_in": False, "sessions_ended": 2}
    assert "Max-Age=0" in response.headers["Set-Cookie"]

    for client in (alice.client, phone):
        assert client.get("/api/me").status_code == 401
    # The phone's token was minted for a session that is gone: Twilio's webhook places nothing.
    assert "signed out" in refused_with(twilio, alice, phone_identity)
    refused_with(twilio, alice, alice.identity)
    assert alice.charges() == []
    assert not alice.has_hold()
    # Nobody else is signed out.
    assert bob.client.get("/api/me").status_code == 200
    assert twilio.voice(bob.identity, LONDON).dial is not None


def test_your_sessions_name_each_device_and_mark_this_one(account: AccountFactory) -> None:
    alice = account()
    phone, phone_identity = on_a_phone(alice)
    laptop = Client(alice.client.base_url)
    laptop.sign_in(alice.client.get("/api/me").json()["email"], user_agent=FIREFOX_WINDOWS)

    sessions = listed(laptop)
    by_id = {s["id"]: s for s in sessions}
    assert len(by_id) == 3
    assert {session_id(alice.identity), session_id(phone_identity)} < set(by_id)
    assert by_id[session_id(phone_identity)]["device"] == "Chrome on Android"
    assert by_id[session_id(alice.identity)]["device"] == "Unknown device"  # python-requests
    [current] = [s for s in sessions if s["current"]]
    assert current["device"] == "Firefox on Windows"
    assert set(current) == {
        "id",
        "device",
        "created_at",
        "last_seen_at",
        "signed_in_at",
        "expires_at",
        "current",
    }
    created = datetime.fromisoformat(current["created_at"])
    assert datetime.fromisoformat(current["expires_at"]) - created == timedelta(days=7)
    # The session id, never the cookie's secret.
    secret = next(iter(laptop.http.cookies.values())).split(".")[2]
    assert secret not in json.dumps(sessions)
    assert [s["current"] for s in listed(phone)].count(True) == 1


def test_ending_another_session_signs_that_device_out_and_kills_its_tokens(
    account: AccountFactory, twilio: Twilio
) -> None:
    alice = account()
    phone, phone_identity = on_a_phone(alice)
    response = alice.client.delete(f"/api/me/sessions/{session_id(phone_identity)}")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": session_id(phone_identity),
        "current": False,
        "signed_in": True,
    }
    assert "Set-Cookie" not in response.headers
    assert phone.get("/api/me").status_code == 401
    assert "signed out" in refused_with(twilio, alice, phone_identity)
    assert alice.client.get("/api/me").status_code == 200
    assert [s["id"] for s in listed(alice.client)] == [session_id(alice.identity)]


def test_ending_this_session_signs_out_and_clears_the_cookie(account: AccountFactory) -> None:
    alice = account()
    response = alice.client.delete(f"/api/me/sessions/{session_id(alice.identity)}")
    assert response.status_code == 200, response.text
    assert response.json()["signed_in"] is False
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("ownnumber_session=;")
    assert "Max-Age=0" in cookie
    assert alice.client.get("/api/me").status_code == 401


@pytest.mark.parametrize("wrong", ["bob's", "0" * 32, "not-a-session"])
def test_a_session_that_is_not_yours_cannot_be_ended(account: AccountFactory, wrong: str) -> None:
    alice, bob = account(), account()
    target = session_id(bob.identity) if wrong == "bob's" else wrong
    response = alice.client.delete(f"/api/me/sessions/{target}")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert bob.client.get("/api/me").status_code == 200
    assert alice.client.get("/api/me").status_code == 200


CROSS_SITE = [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    # No Origin (some old browsers on some requests), but the browser says it is cross-site.
    {"Origin": None, "Sec-Fetch-Site": "cross-site"},
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_signing_out_everywhere_refuses_another_site(
    account: AccountFactory, headers: dict[str, str | None]
) -> None:
    alice = account()
    response = alice.client.post("/api/auth/logout-all", headers=headers)
    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers
    assert alice.client.get("/api/me").status_code == 200


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_ending_a_session_refuses_another_site(
    account: AccountFactory, headers: dict[str, str | None]
) -> None:
    alice = account()
    phone, phone_identity = on_a_phone(alice)
    response = alice.client.delete(
        f"/api/me/sessions/{session_id(phone_identity)}", headers=headers
    )
    assert response.status_code == 403
    assert phone.get("/api/me").status_code == 200
    assert len(listed(alice.client)) == 2


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/me/sessions"),
        ("DELETE", "/api/me/sessions/" + "0" * 32),
        ("POST", "/api/auth/logout-all"),
    ],
)
def test_the_session_endpoints_need_a_session(
    new_client: Callable[[], Client], method: str, path: str
) -> None:
    response = new_client().request(method, path)
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/problem+json")


def test_signing_in_again_in_one_browser_ends_the_session_it_held(
    new_client: Callable[[], Client],
) -> None:
    browser = new_client()
    browser.sign_in()
    first = dict(browser.http.cookies)
    browser.sign_in()  # someone else, at the same computer
    assert browser.get("/api/me").status_code == 200
    replayed = new_client()
    replayed.http.cookies.update(first)
    assert replayed.get("/api/me").status_code == 401

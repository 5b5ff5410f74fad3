"""Sessions end everywhere at once: on sign-out, on expiry and with the account, and the
Twilio tokens minted for a session place no call after it has ended."""

from __future__ import annotations

import uuid
from collections.abc import Callable

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

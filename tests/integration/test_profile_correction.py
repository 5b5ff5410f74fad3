"""PATCH /api/me (GDPR Art. 16): the person corrects their name and contact email, and the
correction outlives their next sign-in; a changed address is verified again only when the
provider says that same address is verified."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from shared.identity.accounts import Accounts
from shared.storage.keys import ACCOUNTS_TABLE, IDENTITIES_TABLE, PROFILE_KEY
from shared.storage.table_store import TableStore
from tests.conftest import Client


def patch(client: Client, body: Any, **kwargs: Any) -> requests.Response:
    return client.request("PATCH", "/api/me", json=body, **kwargs)


def an_email() -> str:
    return f"{uuid.uuid4().hex[:12]}@example.com"


def test_a_correction_answers_like_get_me_and_survives_the_next_sign_in(client: Client) -> None:
    email = an_email()
    client.sign_in(email)
    corrected = patch(client, {"name": "  Ada Lovelace ", "email": "Ada@Example.org"})
    assert corrected.status_code == 200, corrected.text
    body = corrected.json()
    assert body == client.get("/api/me").json()
    assert (body["name"], body["email"], body["email_verified"]) == (
        "Ada Lovelace",
        "ada@example.org",
        False,
    )
    assert {"user_id", "created_at", "balance_micros", "balance", "currency", "flags"} <= set(body)
    # Signing in again (the dev sign-in's provider still says the old address).
    again = Client(client.base_url)
    assert again.sign_in(email)["user_id"] == body["user_id"]
    after = again.get("/api/me").json()
    assert (after["name"], after["email"], after["email_verified"]) == (
        "Ada Lovelace",
        "ada@example.org",
        False,
    )


def test_only_what_is_sent_changes(signed_in: Client) -> None:
    before = signed_in.get("/api/me").json()
    named = patch(signed_in, {"name": "Grace"}).json()
    assert (named["name"], named["email"], named["email_verified"]) == (
        "Grace",
        before["email"],
        before["email_verified"],
    )
    # The same address again is no change: its verification stands.
    assert patch(signed_in, {"email": before["email"]}).json() == named


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": "Zero\u200bWidth"},
        {"name": "Bell\x07"},
        {"name": 5},
        {"name": None},
        {"email": "not an address"},
        {"email": "a@b.c\u202e"},
        {"email": ["a@example.com"]},
        {"nickname": "Ada"},
        {"name": "Ada", "role": "admin"},
        ["name"],
        "Ada",
    ],
)
def test_bad_corrections_are_a_400_with_a_sentence(signed_in: Client, body: Any) -> None:
    before = signed_in.get("/api/me").json()
    response = patch(signed_in, body)
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["detail"].endswith(".")
    assert signed_in.get("/api/me").json() == before


def test_a_body_that_is_not_json_is_a_400(signed_in: Client) -> None:
    response = signed_in.request("PATCH", "/api/me", data=b"\xff{")
    assert response.status_code == 400


def test_a_correction_needs_a_session_and_our_origin(client: Client, signed_in: Client) -> None:
    assert patch(Client(client.base_url), {"name": "Ada"}).status_code == 401
    foreign = patch(signed_in, {"name": "Mallory"}, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert signed_in.get("/api/me").json()["name"] != "Mallory"


# --- the sign-in rule, against Azurite: a provider that says names and verifications -------


@pytest.fixture
def accounts(table_store: TableStore) -> Accounts:
    return Accounts(table_store.table(ACCOUNTS_TABLE), table_store.table(IDENTITIES_TABLE))


def test_the_provider_confirms_a_corrected_address_only_by_saying_that_address(
    accounts: Accounts,
) -> None:
    subject = uuid.uuid4().hex
    old, new = an_email(), an_email()
    user = accounts.sign_in("google", subject, old, name="Ada L", email_verified=True)
    assert accounts.correct(user.user_id, email=new).email_verified is False
    # The provider still says the old address, verified: the correction stays, unverified.
    kept = accounts.sign_in("google", subject, old, name="Ada L", email_verified=True)
    assert (kept.email, kept.email_verified) == (new, False)
    # It says the new address, but not that it is verified: still unverified.
    unsure = accounts.sign_in("google", subject, new, email_verified=None)
    assert (unsure.email, unsure.email_verified) == (new, False)
    # It says the new address is verified: now it is.
    confirmed = accounts.sign_in("google", subject, new.upper(), email_verified=True)
    assert (confirmed.email, confirmed.email_verified) == (new, True)


def test_a_corrected_name_is_never_overwritten_by_the_providers(
    accounts: Accounts, table_store: TableStore
) -> None:
    subject = uuid.uuid4().hex
    user = accounts.sign_in("google", subject, an_email(), name="ada", email_verified=True)
    accounts.correct(user.user_id, name="Ada Lovelace")
    again = accounts.sign_in("google", subject, user.email, name="ada", email_verified=True)
    assert again.name == "Ada Lovelace"
    row = table_store.table(ACCOUNTS_TABLE).get(user.user_id, PROFILE_KEY)
    assert row is not None
    assert (row.text("name_source"), row.text("email_source")) == ("user", "")


def test_an_uncorrected_profile_still_follows_the_provider(accounts: Accounts) -> None:
    subject = uuid.uuid4().hex
    accounts.sign_in("google", subject, an_email(), name="Ada", email_verified=True)
    moved = an_email()
    after = accounts.sign_in("google", subject, moved, name="Ada L", email_verified=False)
    assert (after.name, after.email, after.email_verified) == ("Ada L", moved, False)

"""The sign-in service's decisions over real storage (Azurite), with a fake identity provider
in place of MSAL: how long a flow lives, that it is used once, what a failure remembers."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.identity.accounts import Accounts
from shared.identity.errors import (
    InvalidPrompt,
    SignInCancelled,
    SignInFlowExpired,
    SignInFlowUnknown,
    SignInStateMismatch,
)
from shared.identity.identity_provider import IdentityProvider, ProviderAnswer
from shared.identity.sign_in import NOT_RECENTLY_PROVEN, SignIn
from shared.identity.sign_in_flows import SignInFlows
from shared.storage.table_store import Table, TableStore

ISSUER = "https://tenant.ciamlogin.com/tenant-id/v2.0"
START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeProvider(IdentityProvider):
    """Starts flows with states of its own choosing and answers with the claims it is given."""

    client_id: str = "client"
    claims: dict[str, Any] = field(default_factory=dict)
    finished: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0

    def start(self, redirect_uri: str, prompt: str | None) -> dict[str, Any]:
        self.count += 1
        state = f"state-{self.count}-{id(self)}"
        return {
            "state": state,
            "auth_uri": f"https://idp.example/authorize?state={state}&prompt={prompt}",
            "redirect_uri": redirect_uri,
            "code_verifier": "verifier",
            "nonce": "nonce",
        }

    def finish(self, flow: dict[str, Any], response: Mapping[str, str]) -> ProviderAnswer:
        self.finished.append(flow)
        if response.get("error") == "access_denied":
            raise SignInCancelled()
        return ProviderAnswer(claims=self.claims, issuer=ISSUER)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(clock: Clock) -> FakeProvider:
    return FakeProvider(
        claims={
            "iss": ISSUER,
            "aud": "client",
            "exp": START.timestamp() + 3600,
            "oid": "object-1",
            "email": "ada@example.com",
        }
    )


@pytest.fixture
def sign_in(
    provider: FakeProvider, table_store: TableStore, fresh_table: Table, clock: Clock
) -> SignIn:
    accounts = Accounts(fresh_table, table_store.table(fresh_table.name + "ids"), clock)
    flows = SignInFlows(table_store.table(fresh_table.name + "flows"), clock=clock)
    return SignIn(provider, flows, accounts, "https://calls.example.org/api/auth/callback", clock)


def test_a_flow_is_good_for_ten_minutes_and_no_longer(sign_in: SignIn, clock: Clock) -> None:
    fresh = sign_in.begin("/calls", None)
    stale = sign_in.begin("/calls", None)
    clock.now = START + timedelta(minutes=9, seconds=59)
    assert sign_in.complete({"code": "c", "state": fresh.state}, fresh.state).return_to == "/calls"
    clock.now = START + timedelta(minutes=10)
    with pytest.raises(SignInFlowExpired) as expired:
        sign_in.complete({"code": "c", "state": stale.state}, stale.state)
    assert expired.value.return_to == "/"  # an expired flow's page links to a fresh start


def test_of_two_callbacks_with_one_state_exactly_one_gets_the_flow(
    sign_in: SignIn, provider: FakeProvider
) -> None:
    start = sign_in.begin("/", None)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def callback() -> None:
        barrier.wait()
        try:
            sign_in.complete({"code": "c", "state": start.state}, start.state)
            outcomes.append("signed in")
        except SignInFlowUnknown:
            outcomes.append("refused")

    threads = [threading.Thread(target=callback) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "signed in"]
    assert len(provider.finished) == 1  # the code was redeemed once


def test_the_state_is_checked_before_the_flow_is_touched(sign_in: SignIn) -> None:
    start = sign_in.begin("/calls", None)
    with pytest.raises(SignInStateMismatch):
        sign_in.complete({"code": "c", "state": start.state}, "another-browsers-state")
    with pytest.raises(SignInStateMismatch):
        sign_in.complete({"code": "c", "state": start.state}, None)
    assert sign_in.complete({"code": "c", "state": start.state}, start.state).return_to == "/calls"
    # A code still needs its state: only an error may come back without one.
    with pytest.raises(SignInStateMismatch):
        sign_in.complete({"code": "c"}, sign_in.begin("/", None).state)


def test_the_flow_stored_is_what_the_provider_needs_back_without_the_browsers_url(
    sign_in: SignIn, provider: FakeProvider
) -> None:
    start = sign_in.begin("/", "select_account")
    assert "prompt=select_account" in start.auth_uri
    sign_in.complete({"code": "c", "state": start.state}, start.state)
    [flow] = provider.finished
    assert flow["code_verifier"] == "verifier"
    assert flow["state"] == start.state
    assert "auth_uri" not in flow


def test_a_prompt_other_than_the_two_is_refused_before_any_flow(
    sign_in: SignIn, provider: FakeProvider
) -> None:
    with pytest.raises(InvalidPrompt) as refused:
        sign_in.begin("/calls", "none")
    assert refused.value.return_to == "/calls"
    assert provider.count == 0


def test_a_sign_in_is_fresh_only_when_the_credentials_were_just_entered(
    sign_in: SignIn, provider: FakeProvider, clock: Clock
) -> None:
    # Without auth_time, single sign-on may have answered without asking: not fresh.
    plain = sign_in.begin("/", None)
    done = sign_in.complete({"code": "c", "state": plain.state}, plain.state)
    assert done.signed_in_at == NOT_RECENTLY_PROVEN
    # prompt=login made the provider ask for the credentials: fresh as of now.
    again = sign_in.begin("/", "login")
    assert sign_in.complete({"code": "c", "state": again.state}, again.state).signed_in_at == START
    # The token says when the person entered them: that, however the flow was started.
    provider.claims["auth_time"] = int((START - timedelta(hours=2)).timestamp())
    told = sign_in.begin("/", "login")
    signed = sign_in.complete({"code": "c", "state": told.state}, told.state)
    assert signed.signed_in_at == START - timedelta(hours=2)


def test_an_error_without_a_state_uses_up_no_flow(sign_in: SignIn) -> None:
    start = sign_in.begin("/calls", None)
    with pytest.raises(SignInCancelled) as cancelled:
        sign_in.complete({"error": "access_denied"}, start.state)
    assert not cancelled.value.ended_flow
    assert cancelled.value.return_to == "/calls"
    assert sign_in.complete({"code": "c", "state": start.state}, start.state).return_to == "/calls"
    # A code still needs its state: only an error may come back without one.
    with pytest.raises(SignInStateMismatch):
        sign_in.complete({"code": "c"}, sign_in.begin("/", None).state)

"""Signing in through the identity provider: from the link to the session's owner.

`begin` checks where to come back to, has the provider start an auth code flow (PKCE, state
and nonce are MSAL's), keeps the flow server-side and says where to send the browser, with the
state for the browser to keep in a cookie. `complete` takes the callback's answer: it must
carry the state of this browser's cookie (else someone else's sign-in is being finished in
this browser: login CSRF), its flow must be waiting and fresh, and is used up; the provider
redeems the code, the claims must be ours and name a person with an email address, and the
account is found (or made) by the identity, never by the email.

Plain decisions over storage and the port: no SDK.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.identity.accounts import Accounts, Profile
from shared.identity.errors import (
    InvalidPrompt,
    SignInFailed,
    SignInStateMismatch,
    provider_error,
)
from shared.identity.id_token import SignedInIdentity, identity_from_claims
from shared.identity.identity_provider import IdentityProvider
from shared.identity.return_to import safe_return_to
from shared.identity.sign_in_flows import PendingSignIn, SignInFlows

# Where the provider sends the browser back: PUBLIC_BASE_URL + this is the redirect URI to
# register with the app (functions/entra_sign_in.py serves it).
CALLBACK_PATH = "/api/auth/callback"
# select_account lets a person with several Google accounts choose; login asks for the
# password again (a fresh sign-in). Nothing else is passed on to the provider.
PROMPTS = frozenset({"select_account", "login"})
# MSAL's states are a couple of dozen characters; anything far longer is not one of ours.
MAX_STATE_CHARS = 512


@dataclass(frozen=True)
class SignInStart:
    auth_uri: str
    state: str


# What a session's sign-in time is when nothing proves the person entered credentials just
# now: single sign-on at the provider can answer without asking, so such a sign-in is never
# fresh enough for a dangerous action (which then asks for prompt=login).
NOT_RECENTLY_PROVEN = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SignedIn:
    profile: Profile
    return_to: str
    # When the person last proved who they are, for the fresh-sign-in rule.
    signed_in_at: datetime = NOT_RECENTLY_PROVEN


@dataclass
class SignIn:
    provider: IdentityProvider
    flows: SignInFlows
    accounts: Accounts
    redirect_uri: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def begin(self, return_to: str | None, prompt: str | None) -> SignInStart:
        path = safe_return_to(return_to)
        if prompt and prompt not in PROMPTS:
            failure = InvalidPrompt()
            failure.return_to = path
            raise failure
        flow = self.provider.start(self.redirect_uri, prompt or None)
        self.flows.save(flow, path, prompt or "")
        return SignInStart(auth_uri=str(flow["auth_uri"]), state=str(flow["state"]))

    def complete(self, response: Mapping[str, str], browser_state: str | None) -> SignedIn:
        if response.get("error") and not response.get("state") and not response.get("code"):
            # RFC 6749 (4.1.2.1) has the provider send the state back with an error too, and
            # Entra does; some providers drop it. Such an answer is shown for what it says, but
            # ends no flow: anyone could send a browser here with an error and no state, and
            # must not be able to cancel its sign-in in progress.
            failure = provider_error(str(response.get("error")))
            failure.ended_flow = False
            if browser_state and len(browser_state) <= MAX_STATE_CHARS:
                failure.return_to = self.flows.return_to_of(browser_state) or failure.return_to
            raise failure
        state = response.get("state") or ""
        if not state or len(state) > MAX_STATE_CHARS or not _same(state, browser_state):
            raise SignInStateMismatch()
        pending = self.flows.take(state)
        try:
            answer = self.provider.finish(pending.flow, response)
            identity = identity_from_claims(
                answer.claims,
                issuer=answer.issuer,
                client_id=self.provider.client_id,
                now=self.clock(),
            )
            profile = self.accounts.sign_in(
                identity.issuer,
                identity.subject,
                identity.email,
                name=identity.name,
                email_verified=identity.email_verified,
            )
        except SignInFailed as failure:
            failure.return_to = pending.return_to
            raise
        return SignedIn(profile, pending.return_to, self._proven_at(identity, pending))

    def _proven_at(self, identity: SignedInIdentity, pending: PendingSignIn) -> datetime:
        """The token's auth_time when it says; now when the provider was told to ask for the
        credentials (prompt=login); otherwise not recently proven."""
        if identity.auth_time is not None:
            return identity.auth_time
        if pending.prompt == "login":
            return self.clock()
        return NOT_RECENTLY_PROVEN


def _same(state: str, browser_state: str | None) -> bool:
    if not browser_state:
        return False
    return hmac.compare_digest(state.encode(), browser_state.encode())

"""The port to the identity provider: what the sign-in service asks of it. The real one is
shared/identity/entra.py (MSAL against Entra External ID); tests of decisions use fakes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProviderAnswer:
    """The ID token's claims (as the token endpoint gave them), and the issuer the provider's
    discovery document names, which the token's `iss` must equal."""

    claims: Mapping[str, object]
    issuer: str | None


class IdentityProvider(ABC):
    client_id: str

    @abstractmethod
    def start(self, redirect_uri: str, prompt: str | None) -> dict[str, Any]:
        """A new auth code flow: MSAL's dict, with `auth_uri` (for the browser) and `state`
        among what it needs back to finish."""

    @abstractmethod
    def finish(self, flow: dict[str, Any], response: Mapping[str, str]) -> ProviderAnswer:
        """Redeems the callback's answer for tokens, or raises the SignInFailed that says why
        not (cancelled, refused, unverifiable, unreachable)."""

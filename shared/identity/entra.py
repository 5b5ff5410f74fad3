"""Microsoft Entra External ID through MSAL: the only module that imports msal.

AUTH_AUTHORITY is the tenant's authority, `https://<tenant>.ciamlogin.com/<tenant-id>`.
MSAL (1.22 and later) knows ciamlogin.com hosts: it skips instance discovery for them and reads
`<authority>/v2.0/.well-known/openid-configuration`. `instance_discovery=False` asks the same of
any other host, so that a custom URL domain of the tenant, or the OpenID provider of the tests
(on loopback, over TLS, under a tenant path), is read the same way instead of being looked up
at login.microsoftonline.com.

An app is built for each sign-in step, with a token cache of its own that is dropped with it:
OwnNumber keeps no Microsoft tokens (it wants to know who signed in, nothing more), and one app
shared by every request would pile up everyone's tokens in memory. What is worth sharing is
shared: the discovery document (MSAL's http_cache keeps it a day) and the HTTP connections.

Every round trip to the provider is bounded by a time-out and by what is left of the request's
deadline. TLS is verified by requests as everywhere else: with the system's CAs, or with the
bundle REQUESTS_CA_BUNDLE names (requests reads it for every request; the tests point it at the
test CA of their loopback provider).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from shared import deadline
from shared.config import AuthSettings
from shared.identity.errors import (
    SignInTokenInvalid,
    SignInUnavailable,
    provider_error,
)
from shared.identity.identity_provider import IdentityProvider, ProviderAnswer

logger = logging.getLogger("ownnumber.sign_in")

# The ID token's `email` claim: Entra adds it when the app's token configuration asks for the
# optional claim and this scope is granted (standard OpenID Connect, and what other providers
# need to release the address at all). MSAL adds openid, profile and offline_access itself.
SCOPES = ["email"]
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 5.0

# MSAL warns on every flow that form_post is "recommended". The answer comes back in the query
# on purpose: form_post arrives as a cross-site POST, which carries no SameSite=Lax cookie, so
# the browser's state cookie (our defence against login CSRF) would be lost; and the code in
# the query is single-use, bound to the flow's PKCE verifier, and worth nothing without our
# client secret. A decision taken once is not a warning for every sign-in.
warnings.filterwarnings(
    "ignore", message="response_mode='form_post' is recommended", category=UserWarning
)


class _BoundedAdapter(HTTPAdapter):
    """Gives every request a time-out, never longer than the request has left."""

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        left = deadline.remaining()
        if left is not None and left <= 0:
            raise requests.Timeout("the request's deadline has passed")
        connect, read = CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS
        if left is not None:
            connect, read = min(connect, left), min(read, left)
        kwargs["timeout"] = (connect, read)
        return super().send(request, *args, **kwargs)


class EntraSignIn(IdentityProvider):
    def __init__(self, settings: AuthSettings) -> None:
        self.client_id = settings.client_id
        self._settings = settings
        # Discovery documents, kept by MSAL across the apps built here (it holds no tokens).
        self._http_cache: dict[Any, Any] = {}
        self._http = requests.Session()
        adapter = _BoundedAdapter(pool_maxsize=16)
        self._http.mount("https://", adapter)
        self._http.mount("http://", adapter)

    def start(self, redirect_uri: str, prompt: str | None) -> dict[str, Any]:
        app = self._app()
        try:
            flow = app.initiate_auth_code_flow(
                scopes=SCOPES, redirect_uri=redirect_uri, prompt=prompt
            )
        except ValueError as error:
            logger.error("sign_in.msal_refused_flow: %s", type(error).__name__)
            raise SignInUnavailable() from None
        if not isinstance(flow, dict) or "auth_uri" not in flow or "state" not in flow:
            raise SignInUnavailable()
        return flow

    def finish(self, flow: dict[str, Any], response: Mapping[str, str]) -> ProviderAnswer:
        app = self._app()
        try:
            result = app.acquire_token_by_auth_code_flow(dict(flow), dict(response))
        except ValueError:
            # State or nonce mismatch, or an answer with neither a code nor an error. MSAL's
            # message quotes the state and the nonce: it is not logged.
            raise SignInTokenInvalid() from None
        except requests.RequestException as error:
            logger.warning("sign_in.provider_unreachable: %s", type(error).__name__)
            raise SignInUnavailable() from None
        if not isinstance(result, dict):
            raise SignInTokenInvalid()
        if "error" in result:
            raise provider_error(str(result["error"]))
        claims = result.get("id_token_claims")
        if not isinstance(claims, dict):
            raise SignInTokenInvalid()
        # MSAL keeps the issuer its discovery document names (there is no public accessor);
        # if a release renames it, every sign-in fails closed, as a token from elsewhere would.
        issuer = getattr(app.authority, "_issuer", None)
        return ProviderAnswer(claims=claims, issuer=issuer if isinstance(issuer, str) else None)

    def _app(self) -> Any:
        import msal

        try:
            return msal.ConfidentialClientApplication(
                self._settings.client_id,
                client_credential=self._settings.client_secret,
                authority=self._settings.authority,
                http_client=self._http,
                http_cache=self._http_cache,
                instance_discovery=False,
                token_cache=msal.TokenCache(),
            )
        except requests.RequestException as error:
            logger.warning("sign_in.provider_unreachable: %s", type(error).__name__)
            raise SignInUnavailable() from None
        except ValueError as error:
            # A discovery document that is missing or not JSON: a wrong AUTH_AUTHORITY, or a
            # provider in trouble. Either way someone must look, and the person can only wait.
            logger.error("sign_in.discovery_failed: %s", type(error).__name__)
            raise SignInUnavailable() from None

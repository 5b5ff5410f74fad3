"""Sign-in with Google through Entra External ID, against a real OpenID Connect provider.

The host runs in production mode behind TLS (tests/sign_in_servers.py); its MSAL talks to
oidc-provider-mock over TLS with the test CA. The client here is the browser: it keeps
cookies, follows redirects, and picks the subject on the provider's authorization page with
the form post a person's click would send.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.identity.accounts import identity_key
from shared.storage.keys import (
    ACCOUNTS_TABLE,
    IDENTITIES_TABLE,
    IDENTITY_KEY,
    PROFILE_KEY,
    SIGN_IN_FLOW_KEY,
    SIGN_IN_FLOWS_TABLE,
)
from shared.storage.rows import Replace
from shared.storage.table_store import TableStore
from tests.conftest import Client
from tests.sign_in_servers import CLIENT_ID, EntraSite, OidcProvider

STATE_COOKIE = "__Host-ownnumber_signin"


class Browser:
    """A browser, as far as signing in goes."""

    def __init__(self, site: EntraSite) -> None:
        self.site = site
        self.http = site.ca.client()

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        if url.startswith("/"):
            url = self.site.base_url + url
        return self.http.get(url, timeout=30, **kwargs)

    def start(self, query: str = "returnTo=/") -> str:
        """Follows the sign-in link; returns where it sends the browser: the provider."""
        response = self.get(f"/api/auth/login?{query}", allow_redirects=False)
        assert response.status_code == 302, response.text
        return response.headers["Location"]

    def authorize(self, auth_uri: str, sub: str) -> str:
        """Signs in at the provider as sub; returns the callback URL it redirects back to."""
        page = self.get(auth_uri)
        assert page.status_code == 200
        assert 'name="sub"' in page.text  # the provider's own authorization form
        answer = self.http.post(auth_uri, data={"sub": sub}, allow_redirects=False, timeout=30)
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]

    def deny(self, auth_uri: str) -> str:
        answer = self.http.post(
            auth_uri, data={"action": "deny"}, allow_redirects=False, timeout=30
        )
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]

    def sign_in(self, sub: str, return_to: str = "/") -> requests.Response:
        """The whole round: link, provider, callback, and the page it lands on."""
        callback = self.authorize(self.start(f"returnTo={quote(return_to, safe='/')}"), sub)
        return self.get(callback)

    def me(self) -> requests.Response:
        return self.get("/api/me")


@pytest.fixture
def browser(entra_site: EntraSite) -> Browser:
    return Browser(entra_site)


@pytest.fixture
def new_browser(entra_site: EntraSite) -> Any:
    return lambda: Browser(entra_site)


@pytest.fixture
def person(oidc_provider: OidcProvider) -> Any:
    """A new person at the provider: their subject, with the claims given (a verified email and
    a name unless told otherwise)."""

    def make(**claims: Any) -> str:
        sub = f"sub-{uuid.uuid4().hex[:12]}"
        defaults = {"email": f"{sub}@example.com", "email_verified": True, "name": "Ada Lovelace"}
        oidc_provider.set_user(sub, {**defaults, **claims})
        return sub

    return make


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def assert_failure_page(response: requests.Response, status: int, words: str) -> None:
    """A page for a person: the site's stylesheet, the sentence, a way to try again; no
    traceback, no session."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert '<link rel="stylesheet" href="/styles.css">' in response.text
    assert words in response.text
    assert 'href="/api/auth/login?returnTo=' in response.text
    assert "Traceback" not in response.text
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "ownnumber_session" not in response.headers.get("Set-Cookie", "")


def test_the_production_config_names_entra_as_the_sign_in(browser: Browser) -> None:
    config = browser.get("/api/config").json()
    assert config["mode"] == "production"
    assert config["sign_in"] == "entra"


def test_signing_in_with_google_starts_a_session_and_returns_to_the_page(
    browser: Browser, person: Any
) -> None:
    sub = person(email="Ada@Example.com", name="Ada Lovelace")
    assert browser.me().status_code == 401
    landed = browser.sign_in(sub, return_to="/history?tab=calls")
    assert landed.status_code == 200
    assert landed.url == browser.site.base_url + "/history?tab=calls"
    # The last hop set the session and cleared the flow's cookie.
    assert [r.status_code for r in landed.history][-1] == 302
    assert STATE_COOKIE not in browser.http.cookies
    me = browser.me()
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "ada@example.com"
    assert me.json()["name"] == "Ada Lovelace"
    assert me.json()["email_verified"] is True


def test_the_login_link_carries_pkce_state_and_nonce_and_keeps_the_flow_on_the_server(
    browser: Browser, table_store: TableStore
) -> None:
    response = browser.get(
        "/api/auth/login?returnTo=/calls&prompt=select_account", allow_redirects=False
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(browser.site.provider.base_url + "/oauth2/authorize?")
    asked = query_of(location)
    assert asked["client_id"] == CLIENT_ID
    assert asked["redirect_uri"] == browser.site.base_url + "/api/auth/callback"
    assert asked["code_challenge_method"] == "S256"
    assert len(asked["code_challenge"]) >= 43
    assert asked["nonce"]
    assert asked["prompt"] == "select_account"
    assert {"openid", "email"} <= set(asked["scope"].split())
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{STATE_COOKIE}={asked['state']};")
    for attribute in ("Path=/", "HttpOnly", "SameSite=Lax", "Secure", "Max-Age=600"):
        assert attribute in cookie
    partition = hashlib.sha256(asked["state"].encode()).hexdigest()
    row = table_store.table(SIGN_IN_FLOWS_TABLE).get(partition, SIGN_IN_FLOW_KEY)
    assert row is not None
    assert row.text("return_to") == "/calls"
    lifetime = row.get("expires_at") - row.get("created_at")  # type: ignore[operator]
    assert lifetime == timedelta(minutes=10)
    # The verifier stays here; the browser only ever saw its challenge.
    assert '"code_verifier"' in row.text("flow")
    assert "auth_uri" not in row.text("flow")


def test_the_same_person_signing_in_again_finds_the_same_account_by_identity_not_email(
    new_browser: Any, person: Any, oidc_provider: OidcProvider, table_store: TableStore
) -> None:
    sub = person(email="first@example.com")
    first = new_browser()
    first.sign_in(sub)
    user_id = first.me().json()["user_id"]
    # The same person, another day, with a new address at the provider: the same account.
    oidc_provider.set_user(sub, {"email": "second@example.com", "email_verified": True})
    again = new_browser()
    again.sign_in(sub)
    assert again.me().json()["user_id"] == user_id
    assert again.me().json()["email"] == "second@example.com"
    assert again.me().json()["name"] == ""  # the provider no longer says one
    # Someone else who claims that first address is someone else.
    other = new_browser()
    other.sign_in(person(email="first@example.com"))
    assert other.me().json()["user_id"] != user_id
    # One identity row, keyed by a hash of issuer and subject (the issuer from discovery).
    issuer = oidc_provider.http.get(oidc_provider.discovery_url).json()["issuer"]
    identity = table_store.table(IDENTITIES_TABLE).get(identity_key(issuer, sub), IDENTITY_KEY)
    assert identity is not None
    assert identity.text("user_id") == user_id
    profile = table_store.table(ACCOUNTS_TABLE).get(user_id, PROFILE_KEY)
    assert profile is not None
    assert profile.text("provider") == issuer


def test_a_callback_opened_in_another_browser_is_refused_and_spoils_nothing(
    new_browser: Any, person: Any
) -> None:
    victim, attacker = new_browser(), new_browser()
    # Login CSRF: the attacker's own callback link, opened in the victim's browser.
    callback = attacker.authorize(attacker.start(), person())
    refused = victim.get(callback, allow_redirects=False)
    assert_failure_page(refused, 400, "started in another tab or browser")
    assert victim.me().status_code == 401
    # The flow was not touched: the browser that started it still finishes it.
    assert attacker.get(callback).status_code == 200
    assert attacker.me().status_code == 200


def test_a_callback_whose_state_was_changed_is_refused(browser: Browser, person: Any) -> None:
    callback = browser.authorize(browser.start(), person())
    tampered = callback.replace("state=", "state=x")
    assert_failure_page(browser.get(tampered, allow_redirects=False), 400, "link was changed")
    assert browser.me().status_code == 401
    # Refusing someone else's state kept this browser's own sign-in (and its cookie) going.
    assert browser.get(callback).status_code == 200
    assert browser.me().status_code == 200


def test_a_replayed_callback_is_refused_even_with_its_cookie(browser: Browser, person: Any) -> None:
    auth_uri = browser.start("returnTo=/calls")
    state = query_of(auth_uri)["state"]
    callback = browser.authorize(auth_uri, person())
    assert browser.get(callback).status_code == 200
    # Replayed by someone holding the URL and the cookie it was sent with: the flow is gone.
    replayer = Browser(browser.site)
    replayer.http.cookies.set(STATE_COOKIE, state, domain="127.0.0.1", path="/")
    replayed = replayer.get(callback, allow_redirects=False)
    assert_failure_page(replayed, 400, "has been used already")
    assert replayer.me().status_code == 401


def test_a_used_code_redeemed_with_a_new_flow_is_refused_by_the_provider(
    browser: Browser, person: Any
) -> None:
    first = browser.authorize(browser.start(), person())
    assert browser.get(first).status_code == 200
    # A second sign-in in the same browser, answered with the first one's code.
    second = query_of(browser.start("returnTo=/calls"))
    code = query_of(first)["code"]
    replay = f"/api/auth/callback?code={code}&state={second['state']}"
    refused = browser.get(replay, allow_redirects=False)
    assert_failure_page(refused, 401, "no longer accepts this sign-in")
    assert "returnTo=%2Fcalls" in refused.text  # try again goes back where it was going


def test_a_flow_older_than_ten_minutes_is_refused(
    browser: Browser, person: Any, table_store: TableStore
) -> None:
    auth_uri = browser.start()
    callback = browser.authorize(auth_uri, person())
    flows = table_store.table(SIGN_IN_FLOWS_TABLE)
    partition = hashlib.sha256(query_of(auth_uri)["state"].encode()).hexdigest()
    row = flows.get(partition, SIGN_IN_FLOW_KEY)
    assert row is not None
    aged = datetime.now(UTC) - timedelta(minutes=11)
    data = {**row.data, "created_at": aged, "expires_at": aged + timedelta(minutes=10)}
    flows.commit(partition, [Replace(SIGN_IN_FLOW_KEY, data)])
    assert_failure_page(browser.get(callback, allow_redirects=False), 400, "expired")
    assert browser.me().status_code == 401
    assert flows.get(partition, SIGN_IN_FLOW_KEY) is None  # used up all the same


def test_cancelling_at_the_provider_says_so_and_offers_to_try_again(
    browser: Browser,
) -> None:
    callback = browser.deny(browser.start("returnTo=/calls"))
    assert query_of(callback)["error"] == "access_denied"
    page = browser.get(callback, allow_redirects=False)
    assert_failure_page(page, 401, "You cancelled the sign-in.")
    assert 'href="/api/auth/login?returnTo=%2Fcalls"' in page.text
    # The mock's answer carries no state, so it ends no flow: anyone could send a browser an
    # error without a state, and must not cancel its sign-in in progress by it.
    assert "Set-Cookie" not in page.headers
    assert browser.me().status_code == 401


def test_an_error_without_a_state_does_not_cancel_the_sign_in_under_way(
    browser: Browser, person: Any
) -> None:
    approved = browser.authorize(browser.start("returnTo=/calls"), person())
    # Another site sends the browser to our callback with an error of its own making.
    forged = browser.get(approved.split("?")[0] + "?error=server_error", allow_redirects=False)
    assert forged.status_code == 401
    assert "Set-Cookie" not in forged.headers
    # The real answer still completes the sign-in.
    done = browser.get(approved, allow_redirects=False)
    assert done.status_code == 302, done.text
    assert browser.me().status_code == 200


@pytest.mark.parametrize(
    ("claims", "status", "words"),
    [
        ({"email": None}, 403, "did not share an email address"),
        ({"email": "not an address"}, 403, "not one OwnNumber can use"),
        ({"email_verified": False}, 403, "is not verified yet"),
    ],
    ids=["missing-email", "malformed-email", "unverified-email"],
)
def test_an_identity_without_a_verified_email_makes_no_account(
    browser: Browser,
    oidc_provider: OidcProvider,
    table_store: TableStore,
    claims: dict[str, Any],
    status: int,
    words: str,
) -> None:
    sub = f"sub-{uuid.uuid4().hex[:12]}"
    given = {"email": f"{sub}@example.com", "email_verified": True, **claims}
    oidc_provider.set_user(sub, {k: v for k, v in given.items() if v is not None})
    callback = browser.authorize(browser.start(), sub)
    assert_failure_page(browser.get(callback, allow_redirects=False), status, words)
    assert browser.me().status_code == 401
    issuer = oidc_provider.http.get(oidc_provider.discovery_url).json()["issuer"]
    assert table_store.table(IDENTITIES_TABLE).get(identity_key(issuer, sub), IDENTITY_KEY) is None


@pytest.mark.parametrize(
    "query",
    [
        "returnTo=//evil.example/",
        "returnTo=https://evil.example/",
        "returnTo=/%5Cevil.example/",
        "returnTo=%2F%2Fevil.example%2F",
        "returnTo=%252F%252Fevil.example",
        "returnTo=/%252F/evil.example",
        "returnTo=/%0D%0ASet-Cookie:x=1",
        "returnTo=evil.example",
        "returnTo=/api/me",
    ],
)
def test_return_to_must_be_a_page_of_this_site(browser: Browser, query: str) -> None:
    refused = browser.get(f"/api/auth/login?{query}", allow_redirects=False)
    assert_failure_page(refused, 400, "must be a page of this site")
    assert "Location" not in refused.headers
    assert STATE_COOKIE not in refused.headers.get("Set-Cookie", "")


@pytest.mark.parametrize("prompt", ["none", "consent", "login select_account"])
def test_only_the_two_prompts_are_passed_on(browser: Browser, prompt: str) -> None:
    refused = browser.get(f"/api/auth/login?prompt={prompt}", allow_redirects=False)
    assert_failure_page(refused, 400, "select_account or login")
    fresh = browser.get("/api/auth/login?prompt=login", allow_redirects=False)
    assert query_of(fresh.headers["Location"])["prompt"] == "login"


def test_a_callback_without_a_state_is_refused(browser: Browser) -> None:
    browser.start()
    refused = browser.get("/api/auth/callback?code=abc", allow_redirects=False)
    assert_failure_page(refused, 400, "started in another tab or browser")


def test_the_log_names_events_never_the_email_the_code_or_the_state(
    browser: Browser, person: Any, entra_site: EntraSite
) -> None:
    sub = person(email="log-check@example.com")
    auth_uri = browser.start()
    callback = browser.authorize(auth_uri, sub)
    assert browser.get(callback).status_code == 200
    browser.get(callback, allow_redirects=False)  # and a failure
    log = entra_site.host.output()
    assert "sign_in.completed" in log
    assert "sign_in.failed: state_mismatch" in log
    for secret in (
        "log-check@example.com",
        query_of(callback)["code"],
        query_of(auth_uri)["state"],
    ):
        assert secret not in log


def test_without_entra_settings_the_sandbox_has_no_such_sign_in(client: Client) -> None:
    page = client.get("/api/auth/login?returnTo=/", allow_redirects=False)
    assert page.status_code == 404
    assert "not set up on this server" in page.text
    assert "Location" not in page.headers
    assert client.get("/api/config").json()["sign_in"] == "dev"


_ODD_VALUES = st.sampled_from(
    ["", "/", "%ff%fe", "%ED%A0%80", "%00", "%0D%0A", "//x", "x" * 2000, "%2F%2F", "é", "&&=="]
) | st.text(max_size=40).map(lambda text: quote(text, safe=""))


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(["/api/auth/login", "/api/auth/callback"]),
    query=st.dictionaries(
        st.sampled_from(["returnTo", "prompt", "state", "code", "error", "error_description"]),
        _ODD_VALUES,
        max_size=4,
    ),
    cookie=st.sampled_from([None, f"{STATE_COOKIE}=abc", f"{STATE_COOKIE}=", "a=b; ;=;"]),
)
def test_no_odd_sign_in_request_gets_a_5xx_or_anything_but_a_page(
    entra_site: EntraSite, path: str, query: dict[str, str], cookie: str | None
) -> None:
    http = entra_site.ca.client()
    url = entra_site.base_url + path + "?" + "&".join(f"{k}={v}" for k, v in query.items())
    headers = {"Cookie": cookie} if cookie else {}
    response = http.get(url, headers=headers, allow_redirects=False, timeout=30)
    assert response.status_code < 500, (url, response.text[:300])
    if response.status_code == 302:
        # Only a real start goes anywhere: to the provider, never where the query says.
        assert path == "/api/auth/login"
        assert response.headers["Location"].startswith(entra_site.provider.base_url + "/")
    else:
        assert response.status_code >= 400
        assert response.headers["Content-Type"].startswith("text/html")
        assert "Traceback" not in response.text

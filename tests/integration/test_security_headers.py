"""Every API response carries the security headers of host.json's customHeaders, through the
local host over HTTP: each route the app registers (a new one is tested as soon as it exists),
the router's own 404 and 405, problem responses, TwiML, the export's ZIP and the sign-in
redirects; the static site keeps the headers of staticwebapp.config.json."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import pytest
import requests

from tests.conftest import Client
from tests.integration.test_calling import AccountFactory, Twilio
from tests.integration.test_entra_sign_in import Browser
from tests.servers import REPO, LocalHost
from tests.sign_in_servers import EntraSite, OidcProvider

SITE_HEADERS: dict[str, str] = json.loads(
    (REPO / "static_site" / "staticwebapp.config.json").read_text()
)["globalHeaders"]
# Functions that set a cache policy of their own for public data (no session read, nobody's
# data in them); every other answer under /api is no-store.
PUBLIC_DATA = {"countries", "privacy_cookies", "privacy_records"}
# Headers a response must carry exactly once: a second value would leave the browser to pick.
ONCE = (
    "X-Content-Type-Options",
    "Content-Security-Policy",
    "Strict-Transport-Security",
    "Referrer-Policy",
    "Cache-Control",
)


def registered_routes() -> list[tuple[str, str, str]]:
    """(function name, method, path) of every HTTP function the app registers, read in a
    fresh interpreter: get_functions() works once per app object, and another test module
    holds this process's."""
    probe = (
        "import json, function_app\n"
        "found = []\n"
        "for f in function_app.app.get_functions():\n"
        "    t = f.get_trigger().get_dict_repr()\n"
        "    if t['type'] == 'httpTrigger':\n"
        "        methods = [str(getattr(m, 'value', m)) for m in t.get('methods') or []]\n"
        "        found.append([f.get_function_name(), methods, t['route']])\n"
        "print(json.dumps(found))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    routes = []
    for name, methods, route in json.loads(done.stdout.splitlines()[-1]):
        # No methods: the function answers any (the local host's list, as the host's).
        for method in methods or ["GET", "POST", "PUT", "PATCH", "DELETE"]:
            # Any value for a path parameter: anonymous, the answer is a refusal anyway.
            routes.append((name, method.upper(), "/api/" + re.sub(r"\{[^}]*\}", "x", route)))
    return routes


ROUTES = registered_routes()


def header_values(response: requests.Response, name: str) -> list[str]:
    # requests joins repeated headers with a comma; urllib3's own dict keeps them apart.
    return list(response.raw.headers.getlist(name))


def assert_api_headers(response: requests.Response, cache_control: str = "no-store") -> None:
    where = f"{response.request.method} {response.url} ({response.status_code})"
    for name in ONCE:
        assert len(header_values(response, name)) == 1, (
            f"{where}: {name} {header_values(response, name)}"
        )
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff", where
    directives = [d.strip() for d in headers["Content-Security-Policy"].split(";")]
    assert "frame-ancestors 'none'" in directives, where
    assert headers["Strict-Transport-Security"] == SITE_HEADERS["Strict-Transport-Security"], where
    # The site's policy, or a stricter one a function chose (the sign-in pages: no-referrer).
    assert headers["Referrer-Policy"] in (SITE_HEADERS["Referrer-Policy"], "no-referrer"), where
    assert headers["Cache-Control"] == cache_control, where


def test_the_routes_are_read_from_the_app() -> None:
    # Were the discovery to find nothing, every test below would pass by not running.
    names = {name for name, _, _ in ROUTES}
    assert len(names) >= 30
    assert {"balance", "voice", "export", "auth_login", "stripe_webhook"} <= names


@pytest.mark.parametrize(("name", "method", "path"), ROUTES, ids=[f"{m} {p}" for _, m, p in ROUTES])
def test_every_route_answers_anonymous_callers_with_the_headers(
    client: Client, name: str, method: str, path: str
) -> None:
    response = client.request(method, path, allow_redirects=False)
    if name in PUBLIC_DATA:
        assert response.status_code == 200, response.text[:300]
        assert response.headers["Cache-Control"].startswith("public, max-age="), path
        assert_api_headers(response, response.headers["Cache-Control"])
    else:
        assert_api_headers(response)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/api/nope", 404), ("GET", "/API/Nope/deeper", 404), ("PUT", "/api/balance", 405)],
)
def test_the_routers_own_answers_carry_the_headers(
    client: Client, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert_api_headers(response)


@pytest.mark.parametrize(
    "path",
    [
        "/api/me",
        "/api/balance",
        "/api/ledger",
        "/api/calls",
        "/api/payments",
        "/api/me/sessions",
        "/api/me/consent",
        "/api/me/caller-id",
    ],
)
def test_authenticated_json_is_never_stored(signed_in: Client, path: str) -> None:
    response = signed_in.get(path)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    assert_api_headers(response)


def test_a_token_and_the_export_zip_carry_the_headers(signed_in: Client) -> None:
    token = signed_in.post("/api/token")
    assert token.status_code == 200, token.text[:300]
    assert_api_headers(token)
    export = signed_in.get("/api/me/export")
    assert export.status_code == 200, export.text[:300]
    assert export.headers["Content-Type"] == "application/zip"
    assert_api_headers(export)


def test_twiml_carries_the_headers(
    host: LocalHost, twilio: Twilio, account: AccountFactory
) -> None:
    dialled = twilio.voice(account().identity, "+442079460958")
    assert_api_headers(dialled.response)


def test_the_sign_in_redirects_and_pages_carry_the_headers(
    entra_site: EntraSite, oidc_provider: OidcProvider
) -> None:
    browser = Browser(entra_site)
    login = browser.get("/api/auth/login?returnTo=/", allow_redirects=False)
    assert login.status_code == 302
    assert_api_headers(login)
    sub = f"sub-{uuid.uuid4().hex[:12]}"
    oidc_provider.set_user(sub, {"email": f"{sub}@example.com", "email_verified": True})
    callback = browser.authorize(login.headers["Location"], sub)
    answered = browser.get(callback, allow_redirects=False)
    assert answered.status_code == 302, answered.text[:300]
    assert_api_headers(answered)
    # Their own Referrer-Policy (the callback's URL holds the code) wins over host.json's.
    assert answered.headers["Referrer-Policy"] == "no-referrer"
    # A failure is a page with a policy of its own (its stylesheet allowed), kept as it is.
    failed = browser.get("/api/auth/callback?state=forged&code=x", allow_redirects=False)
    assert failed.status_code in (400, 403), failed.text[:300]
    assert failed.headers["Content-Type"].startswith("text/html")
    assert "style-src 'self'" in failed.headers["Content-Security-Policy"]
    assert_api_headers(failed)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/", 200), ("GET", "/privacy", 200), ("GET", "/missing.js", 404), ("POST", "/", 405)],
)
def test_the_site_keeps_the_headers_of_its_config(
    client: Client, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    for name, value in SITE_HEADERS.items():
        assert header_values(response, name) == [value], f"{method} {path}: {name}"
    # The API's no-store is not the site's business (its scripts are no-cache, by route).
    assert response.headers.get("Cache-Control") != "no-store"

"""The foundation's endpoints through the local host over HTTP, good input and bad."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import requests

from shared.identity.sessions import Sessions
from shared.money.ledger import EntryKind, Ledger
from shared.storage.keys import ACCOUNTS_TABLE
from shared.storage.table_store import TableStore
from tests.conftest import Client
from tests.servers import PRODUCTION, LocalHost


def is_problem(response: requests.Response, status: int) -> bool:
    body = response.json()
    return (
        response.status_code == status
        and response.headers["Content-Type"].startswith("application/problem+json")
        and body["status"] == status
        and isinstance(body["detail"], str)
        and len(body["detail"]) > 10
    )


def test_health_reports_storage_ok(client: Client) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "storage": "ok"}


def test_config_lists_mode_currency_and_packs(client: Client) -> None:
    config = client.get("/api/config").json()
    assert config["mode"] == "sandbox"
    assert config["currency"] == "USD"
    assert [p["id"] for p in config["credit_packs"]] == ["5", "10", "25"]
    assert config["credit_packs"][0]["credit_micros"] == 5_000_000
    assert config["credit_packs"][0]["price"] == "5.00 USD"


def test_dev_login_sets_an_http_only_lax_session_cookie(client: Client) -> None:
    response = client.post("/api/auth/dev-login", json={"email": "Ana@Example.com"})
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("ownnumber_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    # The cookie lasts the session's absolute lifetime (SESSION_ABSOLUTE_SECONDS, 30 days).
    assert "Max-Age=2592000" in cookie.split("; ")
    assert "Secure" not in cookie  # plain-http loopback
    assert response.json()["email"] == "ana@example.com"


def test_signing_in_twice_with_one_email_is_one_user(new_client: Callable[[], Client]) -> None:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    first, second = new_client().sign_in(email), new_client().sign_in(email.upper())
    assert first["user_id"] == second["user_id"]
    assert first["user_id"].startswith("u")
    assert email not in first["user_id"]


def test_me_shows_profile_and_a_zero_balance(signed_in: Client) -> None:
    me = signed_in.get("/api/me").json()
    assert me["balance_micros"] == 0
    assert me["balance"] == "0.00 USD"
    assert me["email"].endswith("@example.com")


def test_balance_and_ledger_show_posted_entries_newest_first(
    signed_in: Client, table_store: TableStore
) -> None:
    user_id = signed_in.get("/api/me").json()["user_id"]
    ledger = Ledger(table_store.table(ACCOUNTS_TABLE))
    ledger.post(user_id, "pay_a", 10_000_000, EntryKind.CREDIT_PURCHASE)
    ledger.post(user_id, "CA_b", -1_234_567, EntryKind.CALL_CHARGE)
    ledger.post(user_id, "pay_c", 5_000_000, EntryKind.CREDIT_PURCHASE)

    balance = signed_in.get("/api/balance").json()
    assert balance["balance_micros"] == 13_765_433
    assert balance["balance"] == "13.765433 USD"

    page = signed_in.get("/api/ledger", params={"limit": 2}).json()
    assert [e["id"] for e in page["entries"]] == ["pay_c", "CA_b"]
    rest = signed_in.get("/api/ledger", params={"continuation": page["continuation"]}).json()
    assert [e["id"] for e in rest["entries"]] == ["pay_a"]
    assert rest["continuation"] is None


def test_logout_ends_the_session_on_the_server(signed_in: Client) -> None:
    cookie = signed_in.http.cookies.get("ownnumber_session")
    assert signed_in.post("/api/auth/logout").status_code == 200
    # Replaying the old cookie must not work: the session row is gone, not just the cookie.
    replay = requests.get(
        signed_in.base_url + "/api/me", headers={"Cookie": f"ownnumber_session={cookie}"}
    )
    assert is_problem(replay, 401)


@pytest.mark.parametrize("path", ["/api/me", "/api/balance", "/api/ledger"])
@pytest.mark.parametrize("cookie", [None, "ownnumber_session=forged", "ownnumber_session="])
def test_account_endpoints_need_a_live_session(client: Client, path: str, cookie: str) -> None:
    headers = {"Cookie": cookie} if cookie else {}
    assert is_problem(client.get(path, headers=headers), 401)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"{not json", {"Content-Type": "application/json"}),
        (b"[1, 2]", {"Content-Type": "application/json"}),
        (b'{"email": 42}', {"Content-Type": "application/json"}),
        (b'{"email": "not-an-email"}', {"Content-Type": "application/json"}),
        (b"", {}),
        (b"\xff\xfe", {"Content-Type": "application/json"}),
    ],
)
def test_bad_dev_login_bodies_are_400(client: Client, body: bytes, headers: dict[str, str]) -> None:
    assert is_problem(client.post("/api/auth/dev-login", data=body, headers=headers), 400)


def test_a_request_from_another_origin_may_not_sign_in(client: Client) -> None:
    response = client.post(
        "/api/auth/dev-login",
        json={"email": "a@example.com"},
        headers={"Origin": "https://evil.example"},
    )
    assert is_problem(response, 403)
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"limit": "0"}, "between"),
        ({"limit": "x"}, "whole number"),
        ({"continuation": "%%"}, "not one this API gave out"),
    ],
)
def test_bad_ledger_parameters_are_400(signed_in: Client, params: dict, fragment: str) -> None:
    response = signed_in.get("/api/ledger", params=params)
    assert is_problem(response, 400)
    assert fragment in response.json()["detail"]


def test_unknown_routes_are_404_and_wrong_methods_405(client: Client) -> None:
    assert is_problem(client.get("/api/no-such-thing"), 404)
    wrong = client.post("/api/balance")
    assert is_problem(wrong, 405)
    assert wrong.headers["Allow"] == "GET"


def test_the_site_is_served_with_its_security_headers(client: Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    script = client.get("/app.js")
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert script.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("path", ["/../local.settings.sample.json", "/staticwebapp.config.json"])
def test_the_site_never_serves_files_outside_its_root_or_its_config(
    client: Client, path: str
) -> None:
    response = requests.get(client.base_url + path)
    assert "TWILIO" not in response.text
    assert "globalHeaders" not in response.text


@pytest.fixture(scope="module")
def production(azurite_connection: str) -> Iterator[LocalHost]:
    server = LocalHost(azurite_connection, PRODUCTION).start()
    yield server
    server.stop()


def test_dev_login_does_not_exist_outside_the_sandbox(production: LocalHost) -> None:
    client = Client(production.base_url)
    response = client.post("/api/auth/dev-login", json={"email": "a@example.com"})
    assert is_problem(response, 404)
    assert "Set-Cookie" not in response.headers
    assert client.get("/api/config").json()["sign_in"] == "entra"


def test_on_https_the_session_is_read_from_the_host_prefixed_cookie_only(
    production: LocalHost, table_store: TableStore
) -> None:
    # PUBLIC_BASE_URL is https here: a session started as the sign-in flow will start it.
    sessions = Sessions(
        table_store.table(ACCOUNTS_TABLE),
        absolute=timedelta(days=30),
        idle=timedelta(days=7),
        reauth_max_age=timedelta(minutes=10),
    )
    token, session = sessions.start("u" + uuid.uuid4().hex)
    url = production.base_url + "/api/me/sessions"
    answer = requests.get(url, headers={"Cookie": f"__Host-session={token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert [s["id"] for s in answer.json()["sessions"]] == [session.session_id]
    loopback_name = requests.get(url, headers={"Cookie": f"ownnumber_session={token}"}, timeout=30)
    assert is_problem(loopback_name, 401)
    logout = requests.post(
        production.base_url + "/api/auth/logout",
        headers={"Cookie": f"__Host-session={token}", "Origin": "https://calls.example.org"},
        timeout=30,
    )
    assert logout.status_code == 200
    assert logout.headers["Set-Cookie"].split("; ") == [
        "__Host-session=",
        "Path=/",
        "HttpOnly",
        "SameSite=Lax",
        "Max-Age=0",
        "Secure",
    ]
    assert sessions.resolve(token) is None

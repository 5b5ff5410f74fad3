"""The edge's session helpers as the runtime calls them, with real func.HttpRequests and no
servers: the cookie on https and on loopback, starting a session at sign-in, and the fresh
sign-in that dangerous actions will need (401, code reauth_required)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import azure.functions as func
import pytest

from functions import _edge
from shared.config import Settings, load_settings
from shared.identity.sessions import Session, Sessions
from shared.storage.rows import Insert, Op, Row
from shared.storage.table_store import Table
from tests.servers import PRODUCTION, SAMPLE_SETTINGS

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
USER = "u" + "ab" * 16
TOKEN = f"{USER}.{'cd' * 16}.{'S' * 43}"
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"


def settings(*, https: bool) -> Settings:
    values = dict(json.loads(SAMPLE_SETTINGS.read_text())["Values"])
    return load_settings({**values, **PRODUCTION} if https else values)


class Accounts:
    """An account partition with no sessions yet, keeping what is written to it."""

    def __init__(self) -> None:
        self.written: list[Op] = []

    def rows(self, partition: str, prefix: str = "") -> Iterator[Row]:
        return iter(())

    def commit(self, partition: str, ops: Sequence[Op]) -> None:
        self.written.extend(ops)


class OneSession(Sessions):
    """Sessions that know one cookie value, signed in `signed_in_ago` before the clock."""

    def __init__(self, accounts: Any, signed_in_ago: timedelta = timedelta()) -> None:
        super().__init__(
            cast(Table, accounts),
            absolute=timedelta(days=30),
            idle=timedelta(days=7),
            reauth_max_age=timedelta(minutes=10),
            clock=lambda: NOW,
        )
        self.signed_in_ago = signed_in_ago

    def resolve(self, token: str) -> Session | None:
        if token != TOKEN:
            return None
        return Session(
            USER,
            "cd" * 16,
            NOW - timedelta(days=1),
            NOW,
            NOW - self.signed_in_ago,
            "Firefox on Windows",
            NOW + timedelta(days=29),
            NOW + timedelta(days=7),
        )


@pytest.fixture
def use(monkeypatch: pytest.MonkeyPatch) -> Any:
    def wire(sessions: Sessions, *, https: bool = False) -> None:
        deps = SimpleNamespace(settings=settings(https=https), sessions=sessions)
        monkeypatch.setattr(_edge, "services", lambda: deps)

    return wire


def request(cookie: str | None = None, **headers: str) -> func.HttpRequest:
    if cookie is not None:
        headers["cookie"] = cookie
    return func.HttpRequest("POST", "http://127.0.0.1:7071/api/x", body=b"", headers=headers)


@_edge.endpoint
def dangerous(req: func.HttpRequest) -> func.HttpResponse:
    """What the delete-account, caller-ID and export endpoints will do first."""
    session = _edge.require_fresh_session(req)
    return _edge.json_response({"user_id": session.user_id})


# --- a fresh sign-in ---------------------------------------------------------------------


def test_a_sign_in_ten_minutes_old_may_still_do_a_dangerous_thing(use: Any) -> None:
    use(OneSession(Accounts(), signed_in_ago=timedelta(minutes=10)))
    response = dangerous(request(f"ownnumber_session={TOKEN}"))
    assert response.status_code == 200
    assert json.loads(response.get_body()) == {"user_id": USER}


def test_an_older_sign_in_is_told_to_sign_in_again_with_a_code(use: Any) -> None:
    use(OneSession(Accounts(), signed_in_ago=timedelta(minutes=10, seconds=1)))
    response = dangerous(request(f"ownnumber_session={TOKEN}"))
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    body = json.loads(response.get_body())
    assert body["code"] == "reauth_required"
    assert body["status"] == 401
    assert "sign in again" in body["detail"]


def test_without_a_session_a_dangerous_thing_is_plain_not_signed_in(use: Any) -> None:
    use(OneSession(Accounts()))
    for cookie in (None, "ownnumber_session=forged"):
        response = dangerous(request(cookie))
        body = json.loads(response.get_body())
        assert (response.status_code, body["title"]) == (401, "Not signed in")
        assert "code" not in body


# --- the cookie --------------------------------------------------------------------------


def test_on_https_the_cookie_is_a_host_only_secure_host_prefixed_one(use: Any) -> None:
    use(OneSession(Accounts()), https=True)
    cookie = _edge.session_cookie(TOKEN, 3600)
    assert cookie.split("; ") == [
        f"__Host-session={TOKEN}",
        "Path=/",
        "HttpOnly",
        "SameSite=Lax",
        "Max-Age=3600",
        "Secure",
    ]
    assert "domain" not in cookie.lower()
    assert _edge.session_token(request(f"__Host-session={TOKEN}")) == TOKEN
    # The loopback name is not read on https: a cookie another host could set counts for nothing.
    assert _edge.session_token(request(f"ownnumber_session={TOKEN}")) is None


def test_on_loopback_http_the_cookie_has_the_local_name_and_is_not_secure(use: Any) -> None:
    use(OneSession(Accounts()))
    cookie = _edge.session_cookie(TOKEN, 60)
    assert cookie == f"ownnumber_session={TOKEN}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
    assert _edge.session_token(request(f"ownnumber_session={TOKEN}")) == TOKEN
    assert _edge.session_token(request(f"__Host-session={TOKEN}")) is None
    assert _edge.cleared_session_cookie().startswith("ownnumber_session=; Path=/;")
    assert "Max-Age=0" in _edge.cleared_session_cookie()


def test_starting_a_session_keeps_the_device_family_and_sets_the_cookie_for_its_whole_life(
    use: Any,
) -> None:
    accounts = Accounts()
    use(OneSession(accounts), https=True)
    session, cookie = _edge.start_session(request(**{"user-agent": FIREFOX_WINDOWS}), USER)
    [insert] = accounts.written
    assert isinstance(insert, Insert)
    assert insert.data["device"] == session.device == "Firefox on Windows"
    assert FIREFOX_WINDOWS not in json.dumps({k: str(v) for k, v in insert.data.items()})
    # Fresh: the sign-in is this request. The cookie lasts the absolute lifetime (30 days).
    assert session.signed_in_at == session.created_at == NOW
    assert cookie.startswith(f"__Host-session={USER}.{session.session_id}.")
    assert "Max-Age=2592000" in cookie.split("; ")
    assert "Secure" in cookie.split("; ")


def test_the_sign_in_flow_may_date_the_sign_in_by_the_providers_auth_time(use: Any) -> None:
    use(OneSession(Accounts()))
    session, _ = _edge.start_session(request(), USER, signed_in_at=NOW - timedelta(hours=1))
    assert session.signed_in_at == NOW - timedelta(hours=1)
    assert session.device == "Unknown device"

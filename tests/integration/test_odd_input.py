"""Odd input on every route is a 4xx with a sentence, never a 500: absurdly deep JSON, text
that is not Unicode, tokens no API gave out, and whatever hypothesis generates."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import function_app
from local_host.sandbox.stripe_signing import stripe_signature
from tests.conftest import Client, StripeWebhooks
from tests.servers import LocalHost

DEEP = b"[" * 50_000 + b"]" * 50_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000


def assert_problem(response: requests.Response, status: int = 400) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["detail"]


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize("path", ["/api/auth/dev-login", "/api/token", "/api/checkout"])
def test_json_nested_past_any_sane_depth_is_a_400(
    signed_in: Client, path: str, body: bytes
) -> None:
    response = signed_in.post(path, data=body, headers={"Content-Type": "application/json"})
    assert_problem(response)
    assert "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
def test_a_signed_stripe_event_nested_past_any_sane_depth_is_a_400(
    stripe_webhooks: StripeWebhooks, body: bytes
) -> None:
    response = stripe_webhooks.http.post(
        stripe_webhooks.base_url + "/api/stripe/webhook",
        data=body,
        headers={
            "Stripe-Signature": stripe_signature(body, StripeWebhooks.SECRET),
            "Content-Type": "application/json",
        },
        timeout=30,
    )
    assert_problem(response)


@pytest.mark.parametrize(
    "email", ["\ud800x@example.com", "a\udfff@example.com", "\udc00\ud800@example.com"]
)
def test_an_email_with_a_lone_surrogate_is_a_400(client: Client, email: str) -> None:
    # json.dumps writes the lone surrogate as the escape \ud800: valid JSON, invalid text.
    response = client.post(
        "/api/auth/dev-login",
        data=json.dumps({"email": email}),
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response)
    assert "not valid Unicode" in response.json()["detail"]


@pytest.mark.parametrize(
    "email", ["a\u0000b@example.com", "a\u200b@example.com", "\u202eliam@example.com"]
)
def test_an_email_with_control_or_invisible_characters_is_a_400(client: Client, email: str) -> None:
    response = client.post("/api/auth/dev-login", json={"email": email})
    assert_problem(response)
    assert "invisible" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/ledger", "/api/calls"])
@pytest.mark.parametrize("size", [2049, 40_000])
def test_a_continuation_token_far_longer_than_ours_is_a_400(
    signed_in: Client, path: str, size: int
) -> None:
    response = signed_in.get(path, params={"continuation": "A" * size})
    assert_problem(response)
    assert "continuation token" in response.json()["detail"]


# --- generated requests at every route -----------------------------------------------------


def _routes() -> list[tuple[str, str]]:
    """(method, path template) of every HTTP function the app registers, as Functions sees them."""
    found = []
    for function in function_app.app.get_functions():
        trigger = function.get_trigger().get_dict_repr()
        if trigger["type"] != "httpTrigger":
            continue
        for method in trigger.get("methods") or ["GET"]:
            found.append(
                (str(getattr(method, "value", method)).upper(), f"/api/{trigger['route']}")
            )
    return found


ROUTES = _routes()
PAGE_ROUTES = ("/api/auth/login", "/api/auth/callback")
# What a client can put in a header at all: Latin-1 without control characters, and (as
# requests insists) no white space at either end.
_SAFE_HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60
).map(str.strip)
_BODY_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
_ODD_QUERY = st.sampled_from(
    [
        "",
        "to=%2B442079460018",
        "to=%ff%fe",
        "to=%ED%A0%80",
        "limit=-1",
        "limit=99999999999999999999",
        "continuation=%00",
        "continuation=" + "A" * 300,
        "ttl=1e309",
        "&&==&",
        "to=" + "9" * 400,
    ]
)


@st.composite
def requests_to_routes(draw: st.DrawFn) -> dict[str, Any]:
    method, template = draw(st.sampled_from(ROUTES))
    path = template.replace(
        "{session_id}", draw(st.sampled_from(["cs_test_x", "..", "%2F", "x" * 300, "%00"]))
    )
    body_kind = draw(st.sampled_from(["json", "bytes", "form", "none"]))
    body: bytes = b""
    if body_kind == "json":
        body = json.dumps(draw(_BODY_VALUES)).encode()
    elif body_kind == "bytes":
        body = draw(st.binary(max_size=200))
    elif body_kind == "form":
        fields = draw(
            st.dictionaries(
                st.sampled_from(
                    ["To", "From", "CallSid", "AccountSid", "CallStatus", "SequenceNumber", "email"]
                ),
                st.text(max_size=30),
                max_size=5,
            )
        )
        body = "&".join(f"{k}={requests.utils.quote(v)}" for k, v in fields.items()).encode()
    headers = draw(
        st.dictionaries(
            st.sampled_from(
                [
                    "Content-Type",
                    "Origin",
                    "Sec-Fetch-Site",
                    "X-Twilio-Signature",
                    "Stripe-Signature",
                    "I-Twilio-Idempotency-Token",
                    "Accept",
                    "X-Forwarded-Host",
                ]
            ),
            _SAFE_HEADER_TEXT,
            max_size=4,
        )
    )
    return {
        "method": method,
        "url": path + ("?" + draw(_ODD_QUERY) if draw(st.booleans()) else ""),
        "body": body,
        "headers": headers,
        "signed_in": draw(st.booleans()),
        "cookie": draw(st.sampled_from([None, "ownnumber_session=" + "x" * 100, "a=b; ;=;"])),
    }


@pytest.fixture(scope="module")
def http(host: LocalHost) -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests_to_routes())
def test_no_generated_request_to_any_route_gets_a_5xx(
    host: LocalHost, http: requests.Session, request: dict[str, Any]
) -> None:
    headers = dict(request["headers"])
    if request["signed_in"]:
        # A session of its own each time: a generated logout must not sign out the next one.
        user = Client(host.base_url)
        user.sign_in(f"{uuid.uuid4().hex[:12]}@example.com")
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in user.http.cookies.items())
        headers.setdefault("Origin", host.base_url)
    elif request["cookie"]:
        headers["Cookie"] = request["cookie"]
    response = http.request(
        request["method"],
        host.base_url + request["url"],
        data=request["body"],
        headers=headers,
        timeout=30,
    )
    assert response.status_code < 500, (request, response.status_code, response.text[:300])
    if response.status_code >= 400:
        # The sign-in routes are where a browser is sent, not an API: they answer with a page.
        kind = "text/html" if request["url"].startswith(PAGE_ROUTES) else "application/problem+json"
        assert response.headers["Content-Type"].startswith(kind), request

"""host.json's customHeaders: the API's security headers, defined once, applied as the
Functions host applies them (added where missing, never over what a function set)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from local_host.custom_headers import CustomHeaders, CustomHeadersError
from local_host.functions_host import FunctionsHost
from local_host.http_types import LocalRequest, LocalResponse

REPO = Path(__file__).resolve().parents[2]
HOST_JSON = REPO / "host.json"
SITE_HEADERS: dict[str, str] = json.loads(
    (REPO / "static_site" / "staticwebapp.config.json").read_text()
)["globalHeaders"]


def api_headers() -> dict[str, str]:
    return dict(CustomHeaders.from_host_config(json.loads(HOST_JSON.read_text())).headers)


def test_the_api_sends_nosniff_no_framing_and_no_store() -> None:
    headers = api_headers()
    assert headers["X-Content-Type-Options"] == "nosniff"
    directives = [d.strip() for d in headers["Content-Security-Policy"].split(";")]
    assert "frame-ancestors 'none'" in directives
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "name", ["Strict-Transport-Security", "Referrer-Policy", "X-Content-Type-Options"]
)
def test_the_api_and_the_site_agree_on_the_headers_they_share(name: str) -> None:
    # One origin in Azure: a page and its /api must not tell the browser two things.
    assert api_headers()[name] == SITE_HEADERS[name]


def test_the_api_does_not_send_the_pages_content_security_policy() -> None:
    # The site's CSP is for documents; the API's only forbids framing (and is no copy of it
    # to keep in step).
    assert api_headers()["Content-Security-Policy"] != SITE_HEADERS["Content-Security-Policy"]


def response(*headers: tuple[str, str]) -> LocalResponse:
    return LocalResponse(200, b"{}", list(headers))


def test_missing_headers_are_added() -> None:
    custom = CustomHeaders((("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store")))
    answered = custom.apply(response(("Content-Type", "application/json")))
    assert answered.headers == [
        ("Content-Type", "application/json"),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
    ]


def test_a_header_the_function_set_wins_whatever_its_case_and_is_sent_once() -> None:
    custom = CustomHeaders((("Cache-Control", "no-store"), ("Referrer-Policy", "same-origin")))
    original = response(
        ("cache-control", "public, max-age=300"), ("REFERRER-POLICY", "no-referrer")
    )
    answered = custom.apply(original)
    assert answered.headers == original.headers
    assert answered is not original


@pytest.mark.parametrize(
    "config",
    [
        {"extensions": {"http": {"customHeaders": ["X-Content-Type-Options"]}}},
        {"extensions": {"http": {"customHeaders": {"X-Content-Type-Options": 1}}}},
        {"extensions": {"http": {"customHeaders": {"": "nosniff"}}}},
    ],
)
def test_custom_headers_that_are_not_names_to_text_are_refused(config: dict[str, Any]) -> None:
    with pytest.raises(CustomHeadersError, match="customHeaders"):
        CustomHeaders.from_host_config(config)


def test_a_host_json_without_custom_headers_adds_none() -> None:
    assert CustomHeaders.from_host_config({"extensions": {"http": {}}}).headers == ()


def request(method: str, path: str) -> LocalRequest:
    return LocalRequest(method, path, "", {}, b"", "http://127.0.0.1:7071")


@pytest.fixture(scope="module")
def functions() -> FunctionsHost:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="public", methods=["GET"])
    def public(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("{}", headers={"Cache-Control": "public, max-age=60"})

    @app.route(route="boom", methods=["GET"])
    def boom(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("boom")

    return FunctionsHost.from_host_json(app, HOST_JSON)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/api/nope", 404), ("POST", "/api/public", 405), ("GET", "/api/boom", 500)],
)
def test_the_hosts_own_answers_carry_the_headers(
    functions: FunctionsHost, method: str, path: str, status: int
) -> None:
    answered = functions.dispatch(request(method, path))
    assert answered.status == status
    for name, value in api_headers().items():
        assert answered.header(name) == value


def test_a_functions_own_cache_policy_is_kept(functions: FunctionsHost) -> None:
    answered = functions.dispatch(request("GET", "/api/public"))
    assert [v for k, v in answered.headers if k.lower() == "cache-control"] == [
        "public, max-age=60"
    ]
    assert answered.header("X-Content-Type-Options") == "nosniff"

"""The OpenAPI document is the API's contract: it names every route the app registers (and
no other), it is a valid OpenAPI 3.1 document, and its error shape is what the edge sends."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import jsonschema_rs
import pytest
import schemathesis

from shared.api_contract.document import PROBLEM_MEDIA_TYPE, openapi_document
from tests.servers import REPO

# The routes the local host answers beside the app's: they are not function_app.app's, are
# never deployed, and so are not in the contract (the spec's description says so).
LOCAL_HOST_ONLY = {
    "/sandbox/": "the simulated Twilio and Stripe, their pages and fakes (local_host/sandbox)",
    "/admin/functions/": "runs a timer now, as the Functions host's admin API does",
}
# Run in a child: app.get_functions() can be called once per app object, and the local host's
# FunctionsHost (which the tests below mean to agree with) is that one call.
_ROUTES_SCRIPT = """
import json, function_app
from local_host.functions_host import FunctionsHost
host = FunctionsHost(function_app.app)
print(json.dumps([[sorted(f.methods), host.route_prefix, f.route.template] for f in host.http]))
"""
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


@pytest.fixture(scope="module")
def registered() -> set[tuple[str, str]]:
    found = subprocess.run(
        [sys.executable, "-c", _ROUTES_SCRIPT],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    routes = json.loads(found.stdout.strip().splitlines()[-1])
    return {
        (method.lower(), f"/{prefix}/{template}")
        for methods, prefix, template in routes
        for method in methods
    }


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def described(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_registered_route_is_in_the_spec_with_its_method(
    registered: set[tuple[str, str]], document: dict[str, Any]
) -> None:
    assert len(registered) > 30  # the discovery found the app's routes at all
    assert registered - described(document) == set()


def test_every_operation_of_the_spec_is_a_registered_route(
    registered: set[tuple[str, str]], document: dict[str, Any]
) -> None:
    assert described(document) - registered == set()


def test_the_local_hosts_own_routes_are_named_and_left_out(document: dict[str, Any]) -> None:
    assert not [p for p in document["paths"] if p.startswith(tuple(LOCAL_HOST_ONLY))]
    assert all(why for why in LOCAL_HOST_ONLY.values())


def test_the_dev_sign_in_is_marked_sandbox_only_and_nothing_else_is(
    document: dict[str, Any],
) -> None:
    marked = [(m, p) for m, p, op in operations(document) if op.get("x-sandbox-only")]
    assert marked == [("post", "/api/auth/dev-login")]


def test_the_spec_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document).validate()


def test_the_validation_does_catch_a_broken_spec(document: dict[str, Any]) -> None:
    broken = openapi_document()
    broken["paths"]["/api/health"]["get"]["responses"] = "none"
    with pytest.raises(jsonschema_rs.ValidationError):
        schemathesis.openapi.from_dict(broken).validate()


@pytest.mark.parametrize("name", sorted(openapi_document()["components"]["schemas"]))
def test_each_schema_is_valid_json_schema_2020_12(name: str, document: dict[str, Any]) -> None:
    jsonschema_rs.meta.validate(document["components"]["schemas"][name])


def test_operation_ids_are_unique_across_paths_and_webhooks(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(document)]
    ids += [op["operationId"] for item in document["webhooks"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_the_webhooks_are_described_as_webhooks_too(document: dict[str, Any]) -> None:
    webhooks = {
        name: (method, op)
        for name, item in document["webhooks"].items()
        for method, op in item.items()
    }
    assert set(webhooks) == {
        "twilioVoice",
        "twilioCallStatus",
        "twilioDialAction",
        "twilioCallerIdStatus",
        "stripeEvent",
    }
    headers = {
        name: {p["$ref"].rsplit("/", 1)[1] for p in op["parameters"] if "$ref" in p}
        for name, (_, op) in webhooks.items()
    }
    for name, found in headers.items():
        wanted = (
            {"Stripe-Signature"}
            if name.startswith("stripe")
            else {"X-Twilio-Signature", "I-Twilio-Idempotency-Token"}
        )
        assert found == wanted, name
        media = next(iter(webhooks[name][1]["requestBody"]["content"]))
        assert media == (
            "application/json"
            if name.startswith("stripe")
            else ("application/x-www-form-urlencoded")
        )


def test_the_session_cookie_scheme_names_the_cookies_the_edge_reads(
    document: dict[str, Any],
) -> None:
    from functions import _edge

    schemes = document["components"]["securitySchemes"]
    assert schemes["session"] == {**schemes["session"], "type": "apiKey", "in": "cookie"}
    assert schemes["session"]["name"] == _edge.SECURE_COOKIE_NAME == "__Host-session"
    assert schemes["sandboxSession"]["name"] == _edge.COOKIE_NAME


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_every_authenticated_operation_answers_401_429_and_503_as_problems(
    document: dict[str, Any],
) -> None:
    authenticated = [
        (m, p, op)
        for m, p, op in operations(document)
        # Logout takes a session if there is one ({}: none is fine) and never answers 401.
        if {"session": []} in op["security"] and {} not in op["security"]
    ]
    assert len(authenticated) >= 20
    for method, path, op in authenticated:
        for status in ("401", "429", "503"):
            response = op["responses"].get(status)
            assert response, f"{method} {path} {status}"
            assert list(response["content"]) == [PROBLEM_MEDIA_TYPE]
        for status in ("429", "503"):
            assert "Retry-After" in op["responses"][status]["headers"], f"{method} {path}"


def test_every_state_changing_browser_request_documents_origin_and_its_403(
    document: dict[str, Any],
) -> None:
    origin = "#/components/parameters/Origin"
    for method, path, op in operations(document):
        takes_origin = any(p.get("$ref") == origin for p in op.get("parameters", []))
        is_webhook = op["x-access"] in ("Twilio signature", "Stripe signature")
        assert takes_origin == (method != "get" and not is_webhook), f"{method} {path}"
        if takes_origin:
            assert "403" in op["responses"], f"{method} {path}"


def test_the_problem_schema_is_what_the_edge_sends(document: dict[str, Any]) -> None:
    from functions._edge import problem

    schema = {**document["components"]["schemas"]["Problem"], "components": document["components"]}
    validator = jsonschema_rs.validator_for(schema)
    plain = problem(404, "Not found", "There is no such thing.")
    coded = problem(401, "Sign in again", "Sign in again.", code="reauth_required")
    for response in (plain, coded):
        assert response.mimetype == PROBLEM_MEDIA_TYPE
        validator.validate(json.loads(response.get_body()))
    with pytest.raises(jsonschema_rs.ValidationError):
        validator.validate({"type": "about:blank", "title": "x", "status": 400})

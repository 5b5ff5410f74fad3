"""Schemathesis against the live API, from the document it serves at /api/openapi.json: for
every operation, generated requests (valid ones, and for operations that take input, invalid
ones) never get a 5xx, and every answer is one the document describes (its status, content
type, headers and schema).

Signed in through the dev sign-in, with our Origin, so that the generated data reaches the
handlers rather than stopping at 401 or 403. The operations that end the session they are sent
with (signing in, out, out everywhere, deleting the account) get a fresh account per example.
Twilio's and Stripe's webhooks are sent unsigned, as anyone could: always 403 (Twilio) or 400
(Stripe), never a 5xx. Derandomised with a fixed number of examples, so a run is the same run
on every machine.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from shared.api_contract.document import openapi_document
from shared.money.ledger import EntryKind, Ledger
from shared.storage.keys import ACCOUNTS_TABLE
from shared.storage.table_store import TableStore
from tests.conftest import Client, StripeWebhooks
from tests.integration.test_calling import LONDON, Twilio, answered_call
from tests.servers import LocalHost

EXAMPLES = int(os.environ.get("OWNNUMBER_FUZZ_EXAMPLES", "8"))
SESSION_COOKIE = "ownnumber_session"  # the sandbox's, on plain-http loopback
# Each of these ends the session it is sent with (dev-login ends the one it replaces).
ENDS_THE_SESSION = {
    ("post", "/api/auth/dev-login"),
    ("post", "/api/auth/logout"),
    ("post", "/api/auth/logout-all"),
    ("delete", "/api/me"),
}
UNSIGNED_WEBHOOK_ANSWER = {"Twilio signature": 403, "Stripe signature": 400}
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]


def _cases() -> list[Any]:
    found = []
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            # Only a query or a body can be made invalid: a header of ours (Origin, the
            # signatures) or a path segment is any string.
            queries = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
            takes_input = bool(queries) or "requestBody" in operation
            modes = [GenerationMode.POSITIVE]
            if takes_input:
                modes.append(GenerationMode.NEGATIVE)
            for mode in modes:
                found.append(
                    pytest.param(
                        method,
                        path,
                        operation["x-access"],
                        mode,
                        id=f"{method} {path} {mode.value}",
                    )
                )
    return found


@pytest.fixture(scope="module")
def schema(host: LocalHost) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_url(f"{host.base_url}/api/openapi.json", timeout=30)
    # The operations are listed from the document built here, at collection, before any host
    # runs: the served one must be that same document.
    assert loaded.raw_schema == openapi_document()
    return loaded


def sign_in(base_url: str) -> str:
    """A new account's session cookie, through the dev sign-in."""
    response = requests.post(
        f"{base_url}/api/auth/dev-login",
        json={"email": f"fuzz-{uuid.uuid4().hex[:12]}@example.com"},
        headers={"Origin": base_url},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.cookies[SESSION_COOKIE]


@pytest.fixture(scope="module")
def session(host: LocalHost) -> str:
    return sign_in(host.base_url)


@pytest.mark.parametrize(("method", "path", "access", "mode"), _cases())
def test_generated_requests_get_only_answers_the_spec_describes(
    host: LocalHost,
    schema: schemathesis.BaseSchema,
    session: str,
    method: str,
    path: str,
    access: str,
    mode: GenerationMode,
) -> None:
    operation = schema[path][method.upper()]
    answers: list[int] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case: schemathesis.Case) -> None:
        cookie = sign_in(host.base_url) if (method, path) in ENDS_THE_SESSION else session
        response = case.call(
            base_url=host.base_url,
            cookies={SESSION_COOKIE: cookie},
            headers={"Origin": host.base_url},
            timeout=30,
        )
        answers.append(response.status_code)
        case.validate_response(response, checks=CHECKS)
        if access in UNSIGNED_WEBHOOK_ANSWER:
            assert response.status_code == UNSIGNED_WEBHOOK_ANSWER[access], response.text
            assert response.headers["content-type"][0].startswith("application/problem+json")

    exercise()
    assert answers  # examples were generated and sent at all
    if access in ("session", "fresh session"):
        # The session went with every request: the generated data reached the handler.
        assert 401 not in answers


# --- the answers about real data -----------------------------------------------------------
# Generated requests rarely make a purchase or a call, so the lists above come back empty.
# These requests, as the dialer makes them for an account with credit, a paid purchase and a
# call, check that full answers (entries with their card and call, a pending caller ID, a
# priced and a refused rate, a deletion's summary) are the ones the document describes.


@pytest.fixture(scope="module")
def rich_account(host: LocalHost, table_store: TableStore) -> dict[str, str]:
    client = Client(host.base_url)
    user_id = client.sign_in()["user_id"]
    Ledger(table_store.table(ACCOUNTS_TABLE)).post(
        user_id, f"test-credit-{uuid.uuid4().hex}", 10_000_000, EntryKind.ADJUSTMENT
    )
    checkout = client.post("/api/checkout", json={"pack": "5"}).json()["session_id"]
    StripeWebhooks(host.base_url).sandbox("pay", session_id=checkout)
    twilio = Twilio(host.base_url)
    identity = client.post("/api/token").json()["identity"]
    answered_call(twilio, twilio.voice(identity, LONDON), 75)
    cookie = client.http.cookies[SESSION_COOKIE]
    return {"cookie": cookie, "checkout": checkout}


REAL_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/me", {}),
    ("PATCH", "/api/me", {"body": {"name": "Ada Lovelace", "email": "ada@example.org"}}),
    ("GET", "/api/balance", {}),
    ("GET", "/api/ledger", {}),
    ("GET", "/api/ledger", {"query": {"limit": 1}}),
    ("GET", "/api/calls", {}),
    ("GET", "/api/payments", {}),
    ("GET", "/api/checkout/{session_id}", {"path_parameters": {"session_id": "checkout"}}),
    ("POST", "/api/checkout", {"body": {"pack": "10", "nonce": "page-view-1"}}),
    ("GET", "/api/rates", {"query": {"to": "(020) 7946-0958", "country": "GB"}}),
    ("GET", "/api/rates", {"query": {"to": "+449098790000"}}),
    ("POST", "/api/token", {"body": {"ttl": 600}}),
    ("GET", "/api/me/sessions", {}),
    ("PUT", "/api/me/consent", {"body": {"analytics": True, "source": "account"}}),
    ("GET", "/api/me/consent", {}),
    # A UK mobile of no one's, fresh per run (the test of caller IDs draws them alike).
    ("POST", "/api/me/caller-id", {"body": {"number": f"+447912{uuid.uuid4().int % 10**6:06d}"}}),
    ("GET", "/api/me/caller-id", {}),
    ("GET", "/api/me/export", {}),
    ("DELETE", "/api/me", {"body": {"confirm": "delete"}}),
]


def test_full_answers_about_real_data_are_the_ones_the_spec_describes(
    host: LocalHost, schema: schemathesis.BaseSchema, rich_account: dict[str, str]
) -> None:
    answered: list[tuple[str, str, int]] = []
    for method, path, data in REAL_REQUESTS:
        if "path_parameters" in data:
            data = {**data, "path_parameters": {"session_id": rich_account["checkout"]}}
        case = schema[path][method].Case(**data)
        response = case.call(
            base_url=host.base_url,
            cookies={SESSION_COOKIE: rich_account["cookie"]},
            headers={"Origin": host.base_url},
            timeout=30,
        )
        case.validate_response(response, checks=CHECKS)
        answered.append((method, path, response.status_code))
    # Each reached its handler and succeeded: these are the answers being checked.
    assert [answer for answer in answered if answer[2] >= 300] == []

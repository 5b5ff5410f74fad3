"""The OpenAPI 3.1 document of the public API, built from operations.py and schemas.py.

Each operation's answers are its own plus those its access implies, so that the errors the
edge (functions/_edge.py) maps are described once: 401 for a missing or ended session, 403
from another origin, 429 and 503 with Retry-After. Twilio's and Stripe's webhooks are in
`paths` (they are routes like any other, and the route test holds paths to the app) and, the
same operations, under `webhooks`, where OpenAPI 3.1 describes requests others make to us.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from shared.api_contract.operations import AUTHENTICATED, OPERATIONS, Access, Answer, Operation
from shared.api_contract.schemas import (
    SANDBOX_SESSION_COOKIE,
    SCHEMAS,
    SESSION_COOKIE,
    Schema,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"

_ORIGIN_RULE = (
    "A state-changing request from a browser must come from this site: an `Origin` header "
    "naming another origin, or none with `Sec-Fetch-Site` other than `same-origin`/`none`, is "
    "refused 403."
)
_DESCRIPTION = f"""Call any phone in the world from a browser tab, pay with prepaid credit.

JSON in and out, except the sign-in pages (redirects and HTML) and Twilio's webhooks (forms
in, TwiML out). Errors are `{PROBLEM_MEDIA_TYPE}`. Every request has a deadline of 8 s (the
export: 120 s); past it, 503 with Retry-After.

Sessions: the `{SESSION_COOKIE}` cookie on https; `{SANDBOX_SESSION_COOKIE}` on plain-http
loopback (the local sandbox), where a `__Host-` cookie cannot be had. {_ORIGIN_RULE}

Operations marked `x-sandbox-only` exist only in the local sandbox. The local host's own
routes (`/sandbox/...`, the simulated Twilio and Stripe; `/admin/functions/...`, the timers)
are not part of the app and not described here."""

# Why each problem can come, where the operation says nothing more specific.
_GENERAL: dict[int, str] = {
    400: "The request is wrong; `detail` says how.",
    401: "No live session (none, expired, or ended).",
    403: "Another origin. " + _ORIGIN_RULE,
    404: "Not found.",
    409: "Conflicts with the account's state.",
    429: "Past a limit; retry after `Retry-After` seconds.",
    502: "A provider refused.",
    503: "Storage or a provider is unreachable, or the deadline passed; retry after "
    "`Retry-After` seconds.",
}
_FRESH_401 = (
    'No live session, or (`"code":"reauth_required"`) a sign-in older than '
    "REAUTH_MAX_AGE_SECONDS: sign in again, then retry."
)
_RETRIED = (429, 503)

_HEADERS: dict[str, dict[str, Any]] = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "required": True,
    },
    "Set-Cookie": {
        "description": "Sets or clears the session cookie.",
        "schema": {"type": "string"},
    },
    "Content-Disposition": {
        "description": 'attachment; filename="ownnumber-export-<YYYY-MM-DD>.zip"',
        "schema": {"type": "string"},
    },
}
_PARAMETERS: dict[str, dict[str, Any]] = {
    "Origin": {
        "name": "Origin",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "Browsers send it. " + _ORIGIN_RULE,
    },
    "X-Twilio-Signature": {
        "name": "X-Twilio-Signature",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "Twilio's HMAC-SHA1 over PUBLIC_BASE_URL's URL of this request (path "
        "and query) and the sorted form; checked against our configured URL, never the Host "
        "header. Missing or wrong: 403, nothing changes.",
    },
    "I-Twilio-Idempotency-Token": {
        "name": "I-Twilio-Idempotency-Token",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "The same on Twilio's retries of one webhook; a retry applies once.",
    },
    "Stripe-Signature": {
        "name": "Stripe-Signature",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": '`t=<unix time>,v1=<HMAC-SHA256 of "{t}.{raw body}">`; bad, or over '
        "300 s old: 400, nothing changes.",
    },
}
_SECURITY_SCHEMES = {
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The session cookie on https: HttpOnly, Secure, SameSite=Lax, Path=/, "
        "no Domain. " + _ORIGIN_RULE,
    },
    "sandboxSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": SANDBOX_SESSION_COOKIE,
        "description": "The session cookie on plain-http loopback (the local sandbox only).",
    },
}
_SESSION_SECURITY: list[dict[str, list[str]]] = [{"session": []}, {"sandboxSession": []}]


@functools.cache
def _document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    webhooks: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        described = operation_object(operation)
        paths.setdefault(operation.path, {})[operation.method] = described
        if operation.webhook:
            as_webhook = copy.deepcopy(described)
            as_webhook["operationId"] = operation.operation_id + "Webhook"
            webhooks[operation.webhook] = {operation.method: as_webhook}
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {"title": "OwnNumber", "version": "1", "description": _DESCRIPTION},
        "servers": [{"url": "/", "description": "This deployment."}],
        "paths": paths,
        "webhooks": webhooks,
        "components": {
            "schemas": SCHEMAS,
            "headers": _HEADERS,
            "parameters": _PARAMETERS,
            "securitySchemes": _SECURITY_SCHEMES,
        },
    }


def openapi_document() -> dict[str, Any]:
    """The document, as a fresh copy (callers may change theirs)."""
    return copy.deepcopy(_document())


def operation_object(operation: Operation) -> dict[str, Any]:
    described: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "x-access": operation.access.value,
        "responses": _responses(operation),
    }
    if operation.access is Access.SANDBOX:
        described["x-sandbox-only"] = True
    if operation.access in AUTHENTICATED:
        described["security"] = _SESSION_SECURITY
    elif operation.access is Access.SESSION_OPTIONAL:
        # An empty requirement: the session is optional.
        described["security"] = [*_SESSION_SECURITY, {}]
    else:
        described["security"] = []
    parameters = [*operation.parameters, *_header_parameters(operation)]
    if parameters:
        described["parameters"] = parameters
    if operation.body is not None:
        described["requestBody"] = {
            "required": operation.body.required,
            "content": {operation.body.media_type: {"schema": operation.body.schema}},
        }
    return described


def _header_parameters(operation: Operation) -> list[dict[str, str]]:
    names: list[str] = []
    if operation.changes_state:
        names.append("Origin")
    if operation.access is Access.TWILIO:
        names += ["X-Twilio-Signature", "I-Twilio-Idempotency-Token"]
    if operation.access is Access.STRIPE:
        names.append("Stripe-Signature")
    return [{"$ref": f"#/components/parameters/{name}"} for name in names]


def _responses(operation: Operation) -> dict[str, Any]:
    responses = {str(status): _answer(answer) for status, answer in operation.answers.items()}
    if operation.pages:
        return responses
    for status, why in sorted(_problems(operation).items()):
        responses[str(status)] = _problem(status, why)
    return responses


def _problems(operation: Operation) -> dict[int, str]:
    implied: dict[int, str] = {}
    if operation.uses_storage:
        implied[503] = _GENERAL[503]
    if operation.access in AUTHENTICATED:
        implied[401] = _FRESH_401 if operation.access is Access.FRESH_SESSION else _GENERAL[401]
        # Every authenticated operation may be rate limited, now or later.
        implied[429] = _GENERAL[429]
    if operation.access is Access.TWILIO:
        implied[403] = "A missing or wrong X-Twilio-Signature, or another account: nothing "
        implied[403] += "changes."
    elif operation.access is Access.STRIPE:
        implied[400] = "A missing, wrong or stale Stripe-Signature: nothing changes."
    elif operation.changes_state:
        implied[403] = _GENERAL[403]
    for status, why in operation.problems.items():
        implied[status] = f"{implied[status]} Or: {why}" if status in implied else why
    return implied


def _answer(answer: Answer) -> dict[str, Any]:
    described: dict[str, Any] = {"description": answer.description}
    if answer.schema is not None:
        described["content"] = {answer.media_type: {"schema": answer.schema}}
    if answer.headers:
        described["headers"] = {
            name: {"$ref": f"#/components/headers/{name}"} for name in answer.headers
        }
    return described


def _problem(status: int, why: str) -> dict[str, Any]:
    schema: Schema = {
        "allOf": [
            {"$ref": "#/components/schemas/Problem"},
            {"properties": {"status": {"const": status}}},
        ]
    }
    described: dict[str, Any] = {
        "description": why,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}},
    }
    if status in _RETRIED:
        described["headers"] = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
    return described

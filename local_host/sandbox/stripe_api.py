"""A loopback fake of the Stripe API endpoints the app calls through `stripe.StripeClient`
(STRIPE_API_BASE_URL defaults here in the sandbox), and the in-memory objects behind it.

Faithful to what the app relies on:
- POST /v1/checkout/sessions: form-encoded in Stripe's bracket notation, the secret key
  checked (Bearer or Basic), Idempotency-Key honoured (the same key and parameters replay
  the first answer with Idempotent-Replayed: true; the same key with other parameters is
  Stripe's 400 idempotency_error), parameters validated as Stripe does for what we send;
- GET /v1/checkout/sessions/{id}, GET /v1/payment_intents/{id} (expand[]=latest_charge),
  GET /v1/refunds?charge=…;
- errors in Stripe's JSON: {"error": {"type", "message", "param"?}}.
Every API request is recorded: GET /sandbox/stripe/_requests answers them, oldest first
({"data": [{method, path, query, params, idempotency_key, stripe_version, authorized,
status, object_id}]}; object_id: the id of the object answered, a session's cs_… say).
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from local_host.http_types import LocalRequest, LocalResponse
from local_host.sandbox.stripe_signing import API_VERSION, stripe_id
from shared.config import SANDBOX_STRIPE_PATH, Settings

_SEGMENT = re.compile(r"\[([^\]]*)\]")


@dataclass
class StripeObjects:
    """What "Stripe" knows, by id: the API reads it, the simulator and the page change it.
    Hold `lock` while reading or changing any of it."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    products: dict[str, str] = field(default_factory=dict)  # by session: what it sells
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def session(self, session_id: str, payment_intent: str = "") -> dict[str, Any] | None:
        """The Checkout Session with this id, or else the one this PaymentIntent paid."""
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None and payment_intent:
                session = next(
                    (s for s in self.sessions.values() if s["payment_intent"] == payment_intent),
                    None,
                )
            return session


class _StripeError(Exception):
    """An API request Stripe would refuse; rendered as Stripe's error JSON."""

    def __init__(
        self, status: int, message: str, kind: str = "invalid_request_error", param: str = ""
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param = status, message, kind, param


class StripeApi:
    """The /v1 endpoints, and the log of the requests made to them."""

    def __init__(self, settings: Settings, objects: StripeObjects) -> None:
        self._secret_key = settings.stripe.secret_key
        self._public = settings.public_base_url
        self.objects = objects
        self._idempotent: dict[str, tuple[str, int, bytes]] = {}
        self._requests: list[dict[str, Any]] = []

    def answer(self, request: LocalRequest, rest: str) -> LocalResponse:
        try:
            form = request.body.decode()
        except UnicodeDecodeError:
            return _stripe_error(_StripeError(400, "The request body is not UTF-8 form data."))
        params = decode_form(parse_qsl(form, keep_blank_values=True))
        query = decode_form(parse_qsl(request.query_string, keep_blank_values=True))
        key = request.headers.get("idempotency-key", "")
        record: dict[str, Any] = {
            "method": request.method,
            "path": f"/v1/{rest}",
            "query": query,
            "params": params,
            "idempotency_key": key,
            "stripe_version": request.headers.get("stripe-version", ""),
            "authorized": self._authorized(request.headers.get("authorization", "")),
        }
        with self.objects.lock:
            response = self._api_answer(request, rest, params, query, key, record["authorized"])
            record["status"] = response.status
            # The id of what the request created or read, so a test finds its own request.
            answer = json.loads(response.body) if response.status == 200 else {}
            record["object_id"] = answer.get("id", "")
            self._requests.append(record)
        return response

    def _api_answer(
        self,
        request: LocalRequest,
        rest: str,
        params: dict[str, Any],
        query: dict[str, Any],
        key: str,
        authorized: bool,
    ) -> LocalResponse:
        if not authorized:
            return _stripe_error(
                _StripeError(401, "Invalid API Key provided: the sandbox's is STRIPE_SECRET_KEY.")
            )
        fingerprint = json.dumps([request.method, rest, params], sort_keys=True)
        if request.method == "POST" and key in self._idempotent:
            first, status, body = self._idempotent[key]
            if first != fingerprint:
                return _stripe_error(
                    _StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters"
                        " they were first used with. Try using a key other than"
                        f" '{key}' if you meant to execute a different request.",
                        kind="idempotency_error",
                    )
                )
            return stripe_json(
                status, body, ("Idempotent-Replayed", "true"), ("Idempotency-Key", key)
            )
        try:
            status, data = self._dispatch(request.method, rest, params, query)
        except _StripeError as error:
            return _stripe_error(error)
        body = json.dumps(data, indent=2).encode()
        if request.method == "POST" and key:
            self._idempotent[key] = (fingerprint, status, body)
        return stripe_json(status, body, ("Idempotency-Key", key) if key else None)

    def _authorized(self, header: str) -> bool:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                credentials = base64.b64decode(credentials).decode().partition(":")[0]
            except ValueError:
                return False
        elif scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.encode(), self._secret_key.encode())

    def _dispatch(
        self, method: str, rest: str, params: dict[str, Any], query: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        parts = rest.strip("/").split("/")
        if method == "POST" and parts == ["checkout", "sessions"]:
            return 200, self._create_session(params)
        if method == "GET" and parts[:2] == ["checkout", "sessions"] and len(parts) == 3:
            return 200, _found(self.objects.sessions, parts[2], "checkout.session")
        if method == "GET" and parts[0] == "payment_intents" and len(parts) == 2:
            intent = dict(_found(self.objects.intents, parts[1], "payment_intent"))
            expand = query.get("expand") or []
            if "latest_charge" in expand and intent.get("latest_charge"):
                intent["latest_charge"] = self.objects.charges[intent["latest_charge"]]
            return 200, intent
        if method == "GET" and parts == ["refunds"]:
            return 200, self._list_refunds(query)
        raise _StripeError(404, f"Unrecognized request URL ({method}: /v1/{rest}).")

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("mode") != "payment":
            raise _StripeError(400, "The payments sandbox plays mode=payment only.", param="mode")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise _StripeError(400, "Missing required param: line_items.", param="line_items")
        total, currency, names = 0, "", []
        for index, item in enumerate(items):
            prefix = f"line_items[{index}]"
            price = item.get("price_data") if isinstance(item, dict) else None
            if not isinstance(price, dict):
                raise _StripeError(400, "The sandbox needs price_data.", param=prefix)
            currency = str(price.get("currency", ""))
            if not re.fullmatch(r"[a-z]{3}", currency):
                raise _StripeError(
                    400, "Invalid currency.", param=f"{prefix}[price_data][currency]"
                )
            unit = _integer(price.get("unit_amount"), f"{prefix}[price_data][unit_amount]")
            quantity = _integer(item.get("quantity"), f"{prefix}[quantity]")
            product = price.get("product_data")
            name = product.get("name") if isinstance(product, dict) else None
            if not name:
                raise _StripeError(
                    400,
                    "Missing required param: product_data[name].",
                    param=f"{prefix}[price_data][product_data][name]",
                )
            if unit < 0 or quantity < 1:
                raise _StripeError(400, "Amounts and quantities must be positive.", param=prefix)
            total += unit * quantity
            names.append(str(name))
        for name in ("success_url", "cancel_url"):
            if name in params and not str(params[name]).startswith(("http://", "https://")):
                raise _StripeError(400, f"Not a valid URL: {name}.", param=name)
        if "success_url" not in params:
            raise _StripeError(400, "Missing required param: success_url.", param="success_url")
        metadata = _metadata(params.get("metadata"), "metadata")
        intent_data = params.get("payment_intent_data") or {}
        intent_metadata = _metadata(intent_data.get("metadata"), "payment_intent_data[metadata]")
        session_id = stripe_id("cs_test_", 58)
        now = int(time.time())
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer": None,
            "customer_details": None,
            "expires_at": now + 24 * 3600,
            "livemode": False,
            "metadata": metadata,
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "ui_mode": "hosted",
            "url": f"{self._public}{SANDBOX_STRIPE_PATH}/pay/{session_id}",
        }
        self.objects.sessions[session_id] = session
        self.objects.products[session_id] = ", ".join(names)
        # Kept for the PaymentIntent that paying creates, as Stripe does.
        self.objects.sessions[session_id]["_intent_metadata"] = intent_metadata
        return public_fields(session)

    def _list_refunds(self, query: dict[str, Any]) -> dict[str, Any]:
        charge, intent = query.get("charge"), query.get("payment_intent")
        found = [
            refund
            for refund in self.objects.refunds.values()
            if (not charge or refund["charge"] == charge)
            and (not intent or refund["payment_intent"] == intent)
        ]
        found.sort(key=lambda refund: refund["created"], reverse=True)
        limit = _integer(query.get("limit", "10"), "limit")
        return {
            "object": "list",
            "data": found[:limit],
            "has_more": len(found) > limit,
            "url": "/v1/refunds",
        }

    def list_requests(self, request: LocalRequest) -> LocalResponse:
        with self.objects.lock:
            body = json.dumps({"data": self._requests}).encode()
        return stripe_json(200, body)


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's bracket notation ('a[b][0][c]=v') into nested dicts and lists."""
    root: dict[str, Any] = {}
    for name, value in pairs:
        head, _, rest = name.partition("[")
        path = [head, *_SEGMENT.findall("[" + rest)] if rest else [head]
        node = root
        for index, segment in enumerate(path):
            last = index == len(path) - 1
            if segment == "":
                segment = str(len(node))  # "a[]=x" appends
            if last:
                node[segment] = value
            else:
                node = node.setdefault(segment, {})
    listed: dict[str, Any] = _listify(root)
    return listed


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {key: _listify(value) for key, value in node.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def public_fields(session: Mapping[str, Any]) -> dict[str, Any]:
    """The object as the API shows it, without what the sandbox keeps on the side."""
    return {key: value for key, value in session.items() if not key.startswith("_")}


def _found(objects: Mapping[str, dict[str, Any]], object_id: str, kind: str) -> dict[str, Any]:
    found = objects.get(object_id)
    if found is None:
        raise _StripeError(404, f"No such {kind}: '{object_id}'", param="id")
    return public_fields(found)


def _integer(value: Any, param: str) -> int:
    if isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value)):
        return int(value)
    raise _StripeError(400, f"Invalid integer: {value}", param=param)


def _metadata(value: Any, param: str) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict) or len(value) > 50:
        raise _StripeError(400, "Metadata is up to 50 keys with string values.", param=param)
    for key, text in value.items():
        if len(key) > 40 or "[" in key or not isinstance(text, str) or len(text) > 500:
            raise _StripeError(400, f"Invalid metadata key or value: {key}.", param=param)
    return dict(value)


def stripe_json(status: int, body: bytes, *headers: tuple[str, str] | None) -> LocalResponse:
    """A JSON answer with the headers Stripe's API answers carry."""
    extra = [header for header in headers if header is not None]
    return LocalResponse(
        status,
        body,
        [
            ("Content-Type", "application/json"),
            ("Request-Id", stripe_id("req_", 14)),
            ("Stripe-Version", API_VERSION),
            *extra,
        ],
    )


def _stripe_error(error: _StripeError) -> LocalResponse:
    body: dict[str, Any] = {"type": error.kind, "message": error.message}
    if error.param:
        body["param"] = error.param
    return stripe_json(error.status, json.dumps({"error": body}).encode())

"""Stripe webhook events as Stripe builds, signs and delivers them.

Used by the payments sandbox and by the tests, which hold nothing but the webhook secret:
the signature is computed here from Stripe's documented scheme, independently of the
stripe library that the app verifies it with.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import time
from collections.abc import Mapping
from typing import Any

import requests

# The API version the sandbox's objects follow (charges do not list their refunds).
API_VERSION = "2026-10-28.endive"
WEBHOOK_PATH = "/api/stripe/webhook"
_ID_ALPHABET = string.ascii_letters + string.digits


def stripe_id(prefix: str, length: int = 24) -> str:
    """An id shaped like Stripe's: a type prefix and base62 characters."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def stripe_signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<body>")."""
    signed_at = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        secret.encode(), f"{signed_at}.".encode() + payload, hashlib.sha256
    ).hexdigest()
    return f"t={signed_at},v1={digest}"


def build_event(
    event_type: str, obj: Mapping[str, Any], created: int | None = None
) -> dict[str, Any]:
    """The event envelope around a snapshot of the object."""
    return {
        "id": stripe_id("evt_"),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()) if created is None else created,
        "data": {"object": json.loads(json.dumps(obj))},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def encode_event(event: Mapping[str, Any]) -> bytes:
    # Stripe sends pretty-printed JSON; the signature covers these exact bytes.
    return json.dumps(event, indent=2).encode()


def deliver(
    base_url: str,
    secret: str,
    event: Mapping[str, Any],
    *,
    timestamp: int | None = None,
    http: requests.Session | None = None,
) -> requests.Response:
    """POSTs the signed event to the app's webhook, as Stripe does."""
    body = encode_event(event)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": stripe_signature(body, secret, timestamp),
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }
    return (http or requests).post(base_url + WEBHOOK_PATH, data=body, headers=headers, timeout=30)

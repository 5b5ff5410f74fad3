"""The checkout request without servers: what we ask Stripe for, and one idempotency key per
intended purchase."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.config import CreditPack
from shared.credit.checkout_requests import checkout_idempotency_key, checkout_request

USER = "u0123456789abcdef0123456789abcdef"
PACK = CreditPack(id="5", price_micros=5_000_000, credit_micros=5_000_000)
BONUS = CreditPack(id="25", price_micros=25_000_000, credit_micros=27_500_000)
NOW = datetime(2026, 11, 22, 12, 0, 30, tzinfo=UTC)


def test_the_checkout_request_carries_the_pack_and_where_to_come_back() -> None:
    request = checkout_request(USER, BONUS, "USD", "https://own.example", "n0nce-abc", NOW)
    assert (request.amount_minor, request.currency) == (2500, "USD")
    assert request.product_name == "OwnNumber credit: 27.50 USD"
    assert request.metadata == {"user_id": USER, "pack": "25", "credit_micros": "27500000"}
    assert request.client_reference_id == USER
    assert request.success_url == "https://own.example/?checkout={CHECKOUT_SESSION_ID}"
    assert request.cancel_url == "https://own.example/?checkout=cancelled"


def test_the_idempotency_key_names_one_intended_purchase() -> None:
    key = checkout_idempotency_key(USER, PACK, "n0nce-abc", NOW)
    assert key == checkout_idempotency_key(USER, PACK, "n0nce-abc", NOW.replace(hour=20))
    assert key != checkout_idempotency_key(USER, PACK, "n0nce-xyz", NOW)
    assert key != checkout_idempotency_key(USER, BONUS, "n0nce-abc", NOW)
    assert key != checkout_idempotency_key("u" + "f" * 32, PACK, "n0nce-abc", NOW)
    repriced = CreditPack(id="5", price_micros=5_000_000, credit_micros=6_000_000)
    assert key != checkout_idempotency_key(USER, repriced, "n0nce-abc", NOW)


def test_without_a_nonce_requests_of_the_same_minute_share_a_key() -> None:
    key = checkout_idempotency_key(USER, PACK, None, NOW)
    assert key == checkout_idempotency_key(USER, PACK, None, NOW.replace(second=59))
    assert key != checkout_idempotency_key(USER, PACK, None, NOW.replace(minute=1))
    assert len(key) <= 255  # Stripe's limit

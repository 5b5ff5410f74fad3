"""The webhook signature without servers, checked by the stripe library on the raw body."""

from __future__ import annotations

import json
import time

import pytest

from local_host.sandbox.stripe_signing import build_event, encode_event, stripe_signature
from shared.config import StripeSettings
from shared.credit.errors import WebhookSignatureInvalid
from shared.credit.stripe_gateway import StripeGateway

SECRET = "whsec_unit"
SESSION = {
    "id": "cs_test_a1",
    "object": "checkout.session",
    "amount_total": 500,
    "metadata": {"pack": "5", "credit_micros": "5000000"},
}


@pytest.fixture
def gateway() -> StripeGateway:
    return StripeGateway(StripeSettings("sk_test_unit", SECRET, "http://127.0.0.1:9/stripe"))


def test_a_correctly_signed_event_is_parsed_into_plain_data(gateway: StripeGateway) -> None:
    body = encode_event(build_event("checkout.session.completed", SESSION))
    parsed = gateway.verify_event(body, stripe_signature(body, SECRET))
    assert parsed.type == "checkout.session.completed"
    assert parsed.object == json.loads(body)["data"]["object"]


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "garbage",
        "t=notanumber,v1=00",
        "SIGNED_WITH_ANOTHER_SECRET",
        "SIGNED_TOO_LONG_AGO",
    ],
)
def test_a_bad_signature_is_refused(gateway: StripeGateway, signature: str | None) -> None:
    body = encode_event(build_event("checkout.session.completed", SESSION))
    if signature == "SIGNED_WITH_ANOTHER_SECRET":
        signature = stripe_signature(body, "whsec_other")
    elif signature == "SIGNED_TOO_LONG_AGO":
        signature = stripe_signature(body, SECRET, int(time.time()) - 301)
    with pytest.raises(WebhookSignatureInvalid):
        gateway.verify_event(body, signature)


def test_a_signature_covers_every_byte_of_the_body(gateway: StripeGateway) -> None:
    body = encode_event(build_event("checkout.session.completed", SESSION))
    signature = stripe_signature(body, SECRET)
    with pytest.raises(WebhookSignatureInvalid):
        gateway.verify_event(body.replace(b"5000000", b"9000000"), signature)
    with pytest.raises(WebhookSignatureInvalid):
        gateway.verify_event(body + b" ", signature)

"""The webhook signature without servers, checked by the stripe library on the raw body."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
import requests.adapters

from local_host.sandbox.stripe_signing import build_event, encode_event, stripe_signature
from shared import deadline
from shared.config import StripeSettings
from shared.credit.errors import WebhookSignatureInvalid
from shared.credit.stripe_gateway import StripeGateway, _deadline_session

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


class _Recording(requests.adapters.BaseAdapter):
    """A transport that answers nothing and keeps the time-out each request was given."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[object] = []

    def send(self, request: Any, **kwargs: Any) -> Any:
        self.timeouts.append(kwargs.get("timeout"))
        raise requests.ConnectionError("not sent")

    def close(self) -> None:
        pass


def test_stripe_requests_wait_no_longer_than_the_request_has_left() -> None:
    session = _deadline_session()
    recorded = _Recording()
    session.mount("http://", recorded)
    with deadline.deadline(2.0), pytest.raises(requests.ConnectionError):
        session.request("GET", "http://127.0.0.1:9/v1/payment_intents/pi_1", timeout=20)
    with deadline.deadline(2.0), pytest.raises(requests.ConnectionError):
        session.request("GET", "http://127.0.0.1:9/v1/refunds", timeout=(20, 20))
    # Outside a request (a timer) the SDK's own time-out stands.
    with pytest.raises(requests.ConnectionError):
        session.request("GET", "http://127.0.0.1:9/v1/refunds", timeout=20)
    first, pair, unbounded = recorded.timeouts
    assert isinstance(first, float)
    assert 1.0 < first <= 2.0
    assert isinstance(pair, tuple)
    assert all(1.0 < part <= 2.0 for part in pair)
    assert unbounded == 20


def test_once_the_request_has_no_time_left_no_stripe_request_starts() -> None:
    session = _deadline_session()
    recorded = _Recording()
    session.mount("http://", recorded)
    with deadline.deadline(0.0), pytest.raises(deadline.DeadlinePassed):
        session.request("GET", "http://127.0.0.1:9/v1/payment_intents/pi_1", timeout=20)
    assert recorded.timeouts == []

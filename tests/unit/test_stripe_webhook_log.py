"""The Stripe webhook's log, without servers: one line per event, with ids and no person."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import azure.functions as func
import pytest

from functions import stripe_webhook
from shared.credit.outcome import Outcome
from shared.credit.stripe_events import StripeEvent

USER = "u0123456789abcdef0123456789abcdef"


def test_each_event_is_logged_once_with_its_id_type_and_outcome_and_nothing_personal(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    event = StripeEvent(
        "evt_1", "checkout.session.completed", {"metadata": {"user_id": USER}, "email": "a@b.c"}
    )
    deps = SimpleNamespace(
        stripe_gateway=SimpleNamespace(verify_event=lambda body, signature: event),
        payments=SimpleNamespace(apply=lambda _: Outcome.APPLIED),
    )
    monkeypatch.setattr(stripe_webhook, "services", lambda: deps)
    handler = stripe_webhook.stripe_webhook._function.get_user_function()
    request = func.HttpRequest("POST", "http://localhost/api/stripe/webhook", body=b"{}")
    with caplog.at_level(logging.INFO, logger="ownnumber"):
        assert handler(request).status_code == 200
    [line] = [r.getMessage() for r in caplog.records if r.name.startswith("ownnumber")]
    assert line == "Stripe event evt_1 (checkout.session.completed): applied"

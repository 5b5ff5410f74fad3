"""How the edge answers errors named after business problems, without servers."""

from __future__ import annotations

import json
import logging

import pytest

from functions._edge import problem_for
from shared.credit.errors import AccountBusy, PaymentInconsistent
from shared.money.errors import EntryIdReused


def test_an_event_id_reused_for_another_amount_is_a_409_and_logged_as_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = EntryIdReused("entry re_123 was applied as refund -1000000, not refund -2000000")
    with caplog.at_level(logging.ERROR, logger="ownnumber"):
        response = problem_for(error)
    assert response.status_code == 409
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "re_123" in record.getMessage()


@pytest.mark.parametrize("error", [AccountBusy("busy"), PaymentInconsistent("re_1 vs pi_1")])
def test_payment_trouble_on_our_side_is_a_503_that_stripe_retries(error: Exception) -> None:
    response = problem_for(error)
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def test_deleting_during_a_call_is_a_409_with_a_code_and_the_sentence() -> None:
    from shared.privacy.errors import CallInProgress

    response = problem_for(CallInProgress("Hang up first: a call is in progress."))
    assert response.status_code == 409
    body = json.loads(response.get_body())
    assert (body["code"], body["detail"]) == (
        "call_in_progress",
        "Hang up first: a call is in progress.",
    )


def test_twilio_unreachable_while_deleting_call_logs_is_a_503_with_retry_after() -> None:
    from shared.calling.calls_api import TwilioApiUnavailable

    response = problem_for(TwilioApiUnavailable("Twilio's API is unreachable: ConnectionError"))
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "ConnectionError" not in response.get_body().decode()

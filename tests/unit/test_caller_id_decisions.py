"""Caller ID's decisions that need no storage: which numbers may be verified, what the state
looks like, what Twilio is told, and the limits' settings."""

from __future__ import annotations

from typing import Any, cast

import pytest

from shared.callerid.caller_ids import (
    NOT_YOURS,
    CallerIds,
    CallerIdView,
    State,
    friendly_name,
)
from shared.callerid.caller_ids_api import CallerIdsApi, ValidationStarted
from shared.callerid.errors import CallerIdRefused
from shared.calling.destination_policy import PolicySettings
from shared.config import CallerIdSettings, ConfigError, load_settings
from tests.unit.test_config import sample


class NoTwilio(CallerIdsApi):
    def start_validation(self, phone_number: str, friendly_name: str, status_callback: str) -> Any:
        raise AssertionError("Twilio must not be asked")

    def delete(self, outgoing_caller_id_sid: str) -> None:
        raise AssertionError("Twilio must not be asked")


def caller_ids(service_number: str = "+447912000001", **policy: Any) -> CallerIds:
    nothing = cast(Any, None)  # acceptable() reads no table
    return CallerIds(
        accounts=nothing,
        owners=nothing,
        limits=nothing,
        api=NoTwilio(),
        policy=PolicySettings(**policy),
        service_number=service_number,
        settings=CallerIdSettings(),
        status_callback_url=lambda user, attempt: f"https://x.example/{user}/{attempt}",
    )


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+44 7912 123456", "+447912123456"),
        ("+44 20 7946 0018", "+442079460018"),
        ("+1 415 555 2671", "+14155552671"),
    ],
)
def test_mobiles_and_landlines_are_accepted_in_e164(raw: str, e164: str) -> None:
    assert caller_ids().acceptable(raw) == e164


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("+44 909 879 0000", "premium-rate"),
        ("+44 800 123 4567", "not a mobile or landline"),
        ("112", "emergency"),
        ("+44 7912", "not a valid phone number"),
        ("+44 7912 000001", "OwnNumber's own numbers"),
    ],
)
def test_other_numbers_are_refused_with_a_sentence(raw: str, words: str) -> None:
    with pytest.raises(CallerIdRefused, match=words):
        caller_ids().acceptable(raw)


def test_the_service_number_is_refused_even_when_the_policy_would_refuse_it_anyway() -> None:
    with pytest.raises(CallerIdRefused, match="OwnNumber's own numbers"):
        caller_ids(service_number="+15005550006").acceptable("+1 500 555 0006")


def test_blocked_countries_cannot_be_verified_either() -> None:
    with pytest.raises(CallerIdRefused, match="FR"):
        caller_ids(blocked_countries=frozenset({"FR"})).acceptable("+33 6 12 34 56 78")


def test_the_state_shows_the_code_only_while_pending_and_the_reason_only_when_failed() -> None:
    pending = CallerIdView(State.PENDING, "+447912123456", code="123456", reason="x")
    assert pending.to_json() == {
        "state": "pending",
        "number": "+447912123456",
        "formatted": "+44 7912 123456",
        "code": "123456",
        "reason": None,
    }
    failed = CallerIdView(State.FAILED, "+447912123456", code="123456", reason="Wrong code.")
    assert failed.to_json()["code"] is None
    assert failed.to_json()["reason"] == "Wrong code."
    assert CallerIdView(State.NONE).to_json()["formatted"] is None


def test_twilio_is_told_a_name_that_says_nothing_about_the_user() -> None:
    name = friendly_name("u" + "a" * 32)
    assert name.startswith("OwnNumber user ")
    assert len(name) == len("OwnNumber user ") + 8
    assert "a" * 8 not in name
    assert friendly_name("u" + "a" * 32) == name != friendly_name("u" + "b" * 32)


def test_the_refusal_for_someone_elses_number_names_nobody() -> None:
    assert NOT_YOURS == "This number can't be verified for your account."


def test_the_limits_default_to_three_an_hour_and_are_bounded() -> None:
    assert load_settings(sample()).caller_id == CallerIdSettings(3, 3)
    values = {
        **sample(),
        "CALLER_ID_ATTEMPTS_PER_USER_PER_HOUR": "5",
        "CALLER_ID_ATTEMPTS_PER_NUMBER_PER_HOUR": "2",
    }
    assert load_settings(values).caller_id == CallerIdSettings(5, 2)
    with pytest.raises(ConfigError, match="CALLER_ID_ATTEMPTS_PER_USER_PER_HOUR"):
        load_settings({**sample(), "CALLER_ID_ATTEMPTS_PER_USER_PER_HOUR": "0"})


def test_the_port_carries_the_code_and_the_call() -> None:
    started = ValidationStarted(validation_code="123456", call_sid="CA" + "0" * 32)
    assert started.validation_code.isdigit()

"""Call velocity decisions (shared.limits.velocity): pure, over the balance row's fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.calling.rating import Rate
from shared.config import LimitSettings
from shared.errors import CallRefused
from shared.limits.velocity import (
    DESTINATIONS_FIELD,
    FIELDS,
    Velocity,
    VelocityLimitReached,
    admit,
    destination_hash,
    settle,
)
from shared.storage.rows import Value

pytestmark = pytest.mark.unit

# 0.60 per minute, per-second billing: a second costs 10,000 micros.
RATE = Rate("44", "GB", "United Kingdom", 600_000, 1, 1)
LIMITS = LimitSettings(calls_per_hour=3, destinations_per_day=2, spend_per_day_micros=6_000_000)
NOON = datetime(2026, 12, 2, 12, 15, 30, tzinfo=UTC)
ALICE = "u-alice"
UK = "+442079460018"
UK2 = "+442079460019"
UK3 = "+442079460020"
HOUR = 3600


def place(
    fields: dict[str, Value], to: str = UK, now: datetime = NOON, seconds: int = 60
) -> dict[str, Value]:
    """The fields after placing one call (balance paying for `seconds`)."""
    admitted = admit(fields, LIMITS, ALICE, to, RATE, seconds, now)
    return {**fields, **admitted.state.to_fields()}


def test_the_calls_of_an_hour_are_counted_and_the_next_is_refused_until_the_next_hour() -> None:
    fields: dict[str, Value] = {"micros": 1}
    for _ in range(3):
        fields = place(fields)
    with pytest.raises(VelocityLimitReached) as refused:
        place(fields)
    assert refused.value.reason == (
        "You have placed 3 calls this hour, the most allowed in an hour; you can call again "
        "at 13:00 UTC."
    )
    assert refused.value.retry_after_seconds == 44 * 60 + 30
    assert refused.value.code == "velocity_limit"
    assert isinstance(refused.value, CallRefused)  # refused as every other call refusal


def test_the_hour_rolls_over_at_the_utc_clock_hour() -> None:
    fields: dict[str, Value] = {}
    for _ in range(3):
        fields = place(fields, now=datetime(2026, 12, 2, 12, 59, 59, tzinfo=UTC))
    fields = place(fields, now=datetime(2026, 12, 2, 13, 0, 0, tzinfo=UTC))
    assert Velocity.from_fields(fields).calls_this_hour == 1
    assert Velocity.from_fields(fields).hour == "2026120213"


def test_a_time_in_another_zone_is_counted_in_utc() -> None:
    fields = place({}, now=datetime(2026, 12, 2, 23, 30, tzinfo=UTC) + timedelta(0))
    local = datetime(2026, 12, 3, 1, 30).astimezone()  # any zone: counted by its UTC hour
    state = Velocity.from_fields(fields).at(local)
    assert state.hour == local.astimezone(UTC).strftime("%Y%m%d%H")


def test_distinct_destinations_are_counted_once_each() -> None:
    fields: dict[str, Value] = {}
    limits = LimitSettings(calls_per_hour=100, destinations_per_day=2)
    for to in (UK, UK, UK2, UK2, UK):
        fields = {**fields, **admit(fields, limits, ALICE, to, RATE, 1, NOON).state.to_fields()}
    assert len(Velocity.from_fields(fields).destinations_today) == 2
    with pytest.raises(VelocityLimitReached) as refused:
        admit(fields, limits, ALICE, UK3, RATE, 1, NOON)
    assert "2 different numbers today" in refused.value.reason
    # The numbers already called today are still allowed.
    assert admit(fields, limits, ALICE, UK, RATE, 1, NOON).max_seconds == 1


def test_the_day_rolls_over_at_midnight_utc() -> None:
    limits = LimitSettings(calls_per_hour=100, destinations_per_day=1)
    before = datetime(2026, 12, 2, 23, 59, 59, tzinfo=UTC)
    fields = admit({}, limits, ALICE, UK, RATE, 1, before).state.to_fields()
    with pytest.raises(VelocityLimitReached) as refused:
        admit(fields, limits, ALICE, UK2, RATE, 1, before)
    assert refused.value.retry_after_seconds == 1
    after = datetime(2026, 12, 3, 0, 0, 0, tzinfo=UTC)
    state = admit(fields, limits, ALICE, UK2, RATE, 1, after).state
    assert state.day == "20261203"
    assert len(state.destinations_today) == 1


def test_hashes_are_stored_never_numbers() -> None:
    fields = place(place({}), to=UK2)
    stored = " ".join(str(value) for value in fields.values())
    assert "442079460018" not in stored
    assert "442079460019" not in stored
    hashes = str(fields[DESTINATIONS_FIELD]).split(",")
    assert hashes == [destination_hash(ALICE, "20261202", n) for n in (UK, UK2)]
    assert all(len(h) == 10 and int(h, 16) >= 0 for h in hashes)
    # Salted with the user and the day: the same number is another hash for another user.
    assert destination_hash("u-bob", "20261202", UK) != hashes[0]
    assert destination_hash(ALICE, "20261203", UK) != hashes[0]
    assert set(fields) == set(FIELDS)


def test_the_time_limit_is_cut_so_that_the_day_cannot_spend_past_its_limit() -> None:
    # 6.00 a day at 0.01 a second: 600 seconds in all.
    first = admit({}, LIMITS, ALICE, UK, RATE, 500, NOON)
    assert first.max_seconds == 500
    assert first.state.spent_today_micros == 5_000_000
    second = admit(first.state.to_fields(), LIMITS, ALICE, UK, RATE, 500, NOON)
    assert second.max_seconds == 100  # the balance paid for 500; the day has 100 left
    assert second.state.spent_today_micros == 6_000_000
    with pytest.raises(VelocityLimitReached) as refused:
        admit(second.state.to_fields(), LIMITS, ALICE, UK, RATE, 500, NOON)
    assert "daily spending limit" in refused.value.reason
    assert refused.value.retry_after_seconds == 11 * HOUR + 44 * 60 + 30


def test_the_cap_honours_the_rates_increments_and_connect_fee() -> None:
    # A 0.10 connect fee and per-minute billing: 1.00 left buys 0.90 of minutes, one minute.
    rate = Rate("44", "GB", "United Kingdom", 600_000, 60, 60, connect_fee_micros=100_000)
    limits = LimitSettings(spend_per_day_micros=1_000_000)
    admitted = admit({}, limits, ALICE, UK, rate, 3600, NOON)
    assert admitted.max_seconds == 60
    assert admitted.state.spent_today_micros == rate.charge(60) <= 1_000_000


def test_settling_gives_back_what_the_call_did_not_cost() -> None:
    fields = admit({}, LIMITS, ALICE, UK, RATE, 500, NOON).state.to_fields()  # 5.00 reserved
    after = settle(fields, reserved_micros=5_000_000, charged_micros=1_200_000, placed=NOON)
    assert Velocity.from_fields(after).spent_today_micros == 1_200_000
    assert Velocity.from_fields(after).calls_this_hour == 1  # the call itself still counts


def test_settling_a_call_placed_yesterday_leaves_todays_spend_alone() -> None:
    fields = admit({}, LIMITS, ALICE, UK, RATE, 500, NOON).state.to_fields()
    after = settle(fields, 5_000_000, 0, placed=NOON - timedelta(days=1))
    assert after == fields


def test_fields_the_row_does_not_have_yet_count_nothing() -> None:
    assert Velocity.from_fields({"micros": 5}) == Velocity()
    assert Velocity.from_fields({"calls_this_hour": True, "velocity_hour": 3}) == Velocity()


def test_a_limit_of_one_says_one_call_not_one_calls() -> None:
    one = LimitSettings(calls_per_hour=1, destinations_per_day=2, spend_per_day_micros=6_000_000)
    first = admit({}, one, ALICE, UK, RATE, 500, NOON)
    with pytest.raises(VelocityLimitReached) as refused:
        admit(first.state.to_fields(), one, ALICE, UK, RATE, 500, NOON)
    assert "You have placed 1 call this hour," in refused.value.reason

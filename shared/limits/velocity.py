"""Call velocity, against international revenue share fraud (IRSF): how many calls a user
places an hour, how many different numbers a day, and what those calls can cost a day.

A stolen account (or a card-tested one) is worth most to a fraudster who can pump minutes to
premium numbers he is paid for: many calls, to many numbers, spending the balance fast. These
limits bound that without a round trip: the state lives on the account's balance row, which
placing a call already reads and rewrites with If-Match, so every instance counts alike.

Pure decisions: the state as the row holds it, the destination, the time and the call's price
in; the new state and the call's time limit out, or VelocityLimitReached saying which limit
was hit and when it frees. Windows are fixed UTC clock hours and days. The day's spend counts
each call's maximum charge when it is placed (its time limit is capped so that the day's spend
cannot pass the limit) and gives back the unused part when the call is settled.

Numbers are never stored: only short hashes salted with the user and the day, enough to tell
today's destinations apart, and overwritten the next day.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from shared.config import LimitSettings
from shared.errors import CallRefused
from shared.limits.errors import how_many
from shared.storage.rows import Value

# The balance row's fields that hold the state (declared in shared.privacy.registry).
HOUR_FIELD = "velocity_hour"
CALLS_FIELD = "calls_this_hour"
DAY_FIELD = "velocity_day"
DESTINATIONS_FIELD = "destinations_today"
SPENT_FIELD = "spent_today_micros"
FIELDS = (HOUR_FIELD, CALLS_FIELD, DAY_FIELD, DESTINATIONS_FIELD, SPENT_FIELD)

# Hex digits kept of a destination's hash: with at most a few dozen numbers a day per user,
# two colliding is a one-in-a-hundred-million event, and a short hash says little of a number.
_HASH_CHARS = 10


class Priced(Protocol):
    """What velocity needs of a rate (shared.calling.rating.Rate is one)."""

    def charge(self, seconds: int) -> int: ...

    def max_seconds(self, balance_micros: int) -> int: ...


@dataclass(frozen=True)
class Velocity:
    hour: str = ""  # the UTC clock hour counted, YYYYMMDDHH
    calls_this_hour: int = 0
    day: str = ""  # the UTC day counted, YYYYMMDD
    destinations_today: tuple[str, ...] = ()  # hashes, never numbers
    spent_today_micros: int = 0

    @classmethod
    def from_fields(cls, fields: Mapping[str, Value]) -> Velocity:
        def text(name: str) -> str:
            value = fields.get(name)
            return value if isinstance(value, str) else ""

        def number(name: str) -> int:
            value = fields.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        return cls(
            hour=text(HOUR_FIELD),
            calls_this_hour=number(CALLS_FIELD),
            day=text(DAY_FIELD),
            destinations_today=tuple(h for h in text(DESTINATIONS_FIELD).split(",") if h),
            spent_today_micros=number(SPENT_FIELD),
        )

    def to_fields(self) -> dict[str, Value]:
        return {
            HOUR_FIELD: self.hour,
            CALLS_FIELD: self.calls_this_hour,
            DAY_FIELD: self.day,
            DESTINATIONS_FIELD: ",".join(self.destinations_today),
            SPENT_FIELD: self.spent_today_micros,
        }

    def at(self, now: datetime) -> Velocity:
        """The state as it stands at `now`: a window that has passed counts nothing."""
        hour, day = _hour(now), _day(now)
        state = self
        if state.hour != hour:
            state = replace(state, hour=hour, calls_this_hour=0)
        if state.day != day:
            state = replace(state, day=day, destinations_today=(), spent_today_micros=0)
        return state


class VelocityLimitReached(CallRefused):
    """A velocity limit refuses the call: `reason` says which and when it frees."""

    code = "velocity_limit"

    def __init__(self, reason: str, retry_after_seconds: int) -> None:
        super().__init__(reason)
        self.retry_after_seconds = max(1, retry_after_seconds)


@dataclass(frozen=True)
class Admitted:
    state: Velocity  # with this call counted
    max_seconds: int  # the call's time limit, capped by what is left of the day's spend


def destination_hash(user_id: str, day: str, e164: str) -> str:
    """A short hash of a dialled number, salted with the user and the day, so that the row
    tells today's destinations apart without holding them (and no two users' hashes match)."""
    text = f"{user_id}\n{day}\n{e164}"
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_CHARS]


def admit(
    fields: Mapping[str, Value],
    limits: LimitSettings,
    user_id: str,
    e164: str,
    rate: Priced,
    max_seconds: int,
    now: datetime,
) -> Admitted:
    """The call counted, its time limit capped by the day's spend; or VelocityLimitReached.

    `fields` are the balance row's, `max_seconds` what the balance pays for (positive)."""
    state = Velocity.from_fields(fields).at(now)
    next_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    next_hour += timedelta(hours=1)
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    midnight += timedelta(days=1)
    if state.calls_this_hour >= limits.calls_per_hour:
        raise VelocityLimitReached(
            f"You have placed {how_many(state.calls_this_hour, 'call')} this hour, the most "
            f"allowed in an hour; you can call again at {next_hour:%H:%M} UTC.",
            _seconds_until(now, next_hour),
        )
    destination = destination_hash(user_id, state.day, e164)
    known = destination in state.destinations_today
    if not known and len(state.destinations_today) >= limits.destinations_per_day:
        raise VelocityLimitReached(
            f"You have called {how_many(len(state.destinations_today), 'different number')} "
            "today, the most allowed in a day; you can call those numbers again now, and new "
            f"ones after midnight UTC ({_seconds_until(now, midnight) // 3600 + 1} h at most).",
            _seconds_until(now, midnight),
        )
    left = limits.spend_per_day_micros - state.spent_today_micros
    capped = min(max_seconds, rate.max_seconds(left))
    if capped <= 0:
        raise VelocityLimitReached(
            "Your calls today have reached the daily spending limit; you can call again after "
            f"midnight UTC ({_seconds_until(now, midnight) // 3600 + 1} h at most).",
            _seconds_until(now, midnight),
        )
    counted = replace(
        state,
        calls_this_hour=state.calls_this_hour + 1,
        destinations_today=(
            state.destinations_today if known else (*state.destinations_today, destination)
        ),
        spent_today_micros=state.spent_today_micros + rate.charge(capped),
    )
    return Admitted(counted, capped)


def settle(
    fields: Mapping[str, Value], reserved_micros: int, charged_micros: int, placed: datetime
) -> dict[str, Value]:
    """The balance row's fields once a call placed at `placed` is settled: the day's spend
    gives back what its reservation counted beyond what it cost. A call placed on an earlier
    day than the one counted changes nothing (that day's spend is gone already)."""
    state = Velocity.from_fields(fields)
    unused = max(0, reserved_micros - charged_micros)
    if not unused or state.day != _day(placed):
        return dict(fields)
    spent = max(0, state.spent_today_micros - unused)
    return {**fields, **replace(state, spent_today_micros=spent).to_fields()}


def _hour(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%d%H")


def _day(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%d")


def _seconds_until(now: datetime, then: datetime) -> int:
    return max(1, math.ceil((then - now).total_seconds()))

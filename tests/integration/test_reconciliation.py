"""Reconciliation against real storage, with Twilio's Calls API played by an in-memory fake and
the clock set by the test: what it settles, what it leaves open, and that one bad hold does not
stop the run."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from shared.call_lifecycle import TwilioCallView
from shared.calls import Calls
from shared.destination_policy import Destination
from shared.ledger import EntryKind, Ledger
from shared.pricing import PricedDestination
from shared.rating import Rate
from shared.reconciliation import reconcile
from shared.records import HOLD_KEY, call_key
from shared.table_store import Replace, Table
from shared.twilio_calls_api import CallsApi

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
MARGIN = timedelta(minutes=5)
GRACE = timedelta(minutes=3)
LANDLINE = PricedDestination(
    Destination("+442079460018", "GB", "fixed_line"),
    Rate("44", "GB", "United Kingdom landline", 15_000, 60, 1),
)


@dataclass
class FakeCallsApi(CallsApi):
    calls: dict[str, TwilioCallView] = field(default_factory=dict)

    def fetch(self, call_sid: str) -> TwilioCallView | None:
        return self.calls.get(call_sid)

    def children(self, parent_call_sid: str) -> list[TwilioCallView]:
        return [c for c in self.calls.values() if c.parent_call_sid == parent_call_sid]

    def parent_ended(self, sid: str) -> None:
        """The browser's call ended without a leg ever being dialled."""
        self.calls[sid] = TwilioCallView(sid, None, "completed", 0, START + timedelta(seconds=5))


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def calls(fresh_table: Table, clock: Clock) -> Calls:
    return Calls(fresh_table, Ledger(fresh_table), "USD", MARGIN, clock=clock)


def a_caller(calls: Calls, credit: int = 10_000_000) -> str:
    """A user whose credit pays for the longest call Twilio allows (four hours)."""
    user_id = "u" + uuid.uuid4().hex
    calls.ledger.post(user_id, f"credit-{user_id}", credit, EntryKind.ADJUSTMENT)
    return user_id


def a_call(calls: Calls, user_id: str) -> str:
    sid = "CA" + uuid.uuid4().hex
    calls.place(user_id, sid, LANDLINE)
    return sid


def test_a_call_whose_dial_never_ran_is_released_soon_after_and_the_user_can_call_again(
    calls: Calls, clock: Clock
) -> None:
    twilio = FakeCallsApi()
    alice = a_caller(calls)
    sid = a_call(calls, alice)
    assert calls.get(alice, sid).max_seconds == 14_400  # type: ignore[union-attr]
    twilio.parent_ended(sid)

    clock.now = START + GRACE
    assert reconcile(calls, twilio, GRACE).due == 0
    clock.now = START + GRACE + timedelta(seconds=1)
    summary = reconcile(calls, twilio, GRACE)

    assert (summary.due, summary.settled) == (1, 1)
    assert calls.accounts.get(alice, HOLD_KEY) is None
    call = calls.get(alice, sid)
    assert call is not None
    assert (call.status, call.charge_micros, call.settled_by) == ("canceled", 0, "reconciliation")
    assert calls.ledger.balance(alice).micros == 10_000_000
    assert not calls.place(alice, "CA" + uuid.uuid4().hex, LANDLINE).replayed


def test_a_call_still_going_on_at_twilio_is_left_to_run(calls: Calls, clock: Clock) -> None:
    twilio = FakeCallsApi()
    alice = a_caller(calls)
    sid = a_call(calls, alice)
    twilio.calls[sid] = TwilioCallView(sid, None, "in-progress", None, None)
    leg = "CA" + uuid.uuid4().hex
    twilio.calls[leg] = TwilioCallView(leg, sid, "in-progress", None, None)
    clock.now = START + timedelta(minutes=10)
    assert reconcile(calls, twilio, GRACE).waiting == 1
    assert not calls.get(alice, sid).is_final  # type: ignore[union-attr]
    assert calls.accounts.get(alice, HOLD_KEY) is not None


def test_a_call_twilio_does_not_know_stays_open_and_is_logged_as_an_error(
    calls: Calls, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    alice = a_caller(calls)
    sid = a_call(calls, alice)
    clock.now = START + timedelta(hours=2)
    with caplog.at_level(logging.ERROR, logger="ownnumber.reconciliation"):
        summary = reconcile(calls, FakeCallsApi(), GRACE)
    assert (summary.due, summary.settled, summary.waiting) == (1, 0, 1)
    assert calls.accounts.get(alice, HOLD_KEY) is not None
    assert not calls.get(alice, sid).is_final  # type: ignore[union-attr]
    assert any(sid in record.getMessage() for record in caplog.records)


def test_one_damaged_call_row_does_not_stop_the_run(calls: Calls, clock: Clock) -> None:
    twilio = FakeCallsApi()
    damaged, healthy = a_caller(calls), a_caller(calls)
    broken_sid, sid = a_call(calls, damaged), a_call(calls, healthy)
    row = calls.accounts.get(damaged, call_key(broken_sid))
    assert row is not None
    calls.accounts.commit(
        damaged, [Replace(row.key, {k: v for k, v in row.data.items() if k != "started_at"})]
    )
    twilio.parent_ended(broken_sid)
    twilio.parent_ended(sid)
    clock.now = START + timedelta(minutes=10)

    summary = reconcile(calls, twilio, GRACE)

    assert (summary.due, summary.settled, summary.failed) == (2, 1, 1)
    assert calls.accounts.get(healthy, HOLD_KEY) is None
    assert calls.accounts.get(damaged, HOLD_KEY) is not None

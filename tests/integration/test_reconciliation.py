"""Reconciliation against real storage, with Twilio's Calls API played by an in-memory fake and
the clock set by the test: what it settles, what it leaves open, that one bad hold does not
stop the run, and that it finds the open calls through their index, reading no account."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.data.tables import TableClient

from shared.calling.calls import Calls
from shared.calling.calls_api import CallsApi
from shared.calling.destination_policy import Destination
from shared.calling.lifecycle import Hold, Source, StatusReport, TwilioCallView
from shared.calling.open_calls import OpenCalls
from shared.calling.pricing import PricedDestination
from shared.calling.rating import Rate
from shared.calling.reconciliation import reconcile
from shared.calling.reports import ReportEffect
from shared.money.ledger import EntryKind, Ledger
from shared.storage.keys import HOLD_KEY, OPEN_CALLS_PARTITION, call_key, open_call_key, session_key
from shared.storage.rows import Insert, Replace
from shared.storage.table_store import Table, TableStore

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
def index(table_store: TableStore) -> Table:
    """The open-calls index of one test."""
    return table_store.table("open" + uuid.uuid4().hex[:20])


@pytest.fixture
def calls(fresh_table: Table, index: Table, clock: Clock) -> Calls:
    return Calls(fresh_table, OpenCalls(index), Ledger(fresh_table), "USD", MARGIN, clock=clock)


# The sign-in session every test caller places calls from (a_caller creates it).
SESSION = session_key("5e55" * 8)


def a_caller(calls: Calls, credit: int = 10_000_000) -> str:
    """A signed-in user whose credit pays for the longest call Twilio allows (four hours)."""
    user_id = "u" + uuid.uuid4().hex
    calls.accounts.commit(user_id, [Insert(SESSION, {"secret_hash": "-"})])
    calls.ledger.post(user_id, f"credit-{user_id}", credit, EntryKind.ADJUSTMENT)
    return user_id


def a_call(calls: Calls, user_id: str) -> str:
    sid = "CA" + uuid.uuid4().hex
    calls.place(user_id, sid, LANDLINE, SESSION)
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
    assert not calls.place(alice, "CA" + uuid.uuid4().hex, LANDLINE, SESSION).replayed


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


def is_indexed(calls: Calls, user_id: str, sid: str) -> bool:
    return calls.open_calls.table.get(OPEN_CALLS_PARTITION, open_call_key(user_id, sid)) is not None


def test_reconciliation_finds_an_open_call_through_its_index_and_unindexes_it_when_settled(
    calls: Calls, clock: Clock
) -> None:
    twilio = FakeCallsApi()
    alice = a_caller(calls)
    sid = a_call(calls, alice)
    row = calls.open_calls.table.get(OPEN_CALLS_PARTITION, open_call_key(alice, sid))
    assert row is not None
    assert (row.get("user_id"), row.get("placed_at"), row.get("time_limit_seconds")) == (
        alice,
        START,
        14_400,
    )
    assert [c.hold.call_sid for c in calls.open_calls.placed_until(START)] == [sid]
    assert list(calls.open_calls.placed_until(START - timedelta(microseconds=1))) == []
    twilio.parent_ended(sid)
    clock.now = START + timedelta(minutes=10)

    summary = reconcile(calls, twilio, GRACE)

    assert (summary.due, summary.settled, summary.cleared) == (1, 1, 0)
    assert calls.get(alice, sid).settled_by == "reconciliation"  # type: ignore[union-attr]
    assert not is_indexed(calls, alice, sid)
    assert reconcile(calls, twilio, GRACE).due == 0


def test_an_index_row_whose_call_was_never_placed_is_removed(calls: Calls, clock: Clock) -> None:
    # A crash between indexing the call and placing it leaves exactly this.
    alice = a_caller(calls)
    sid = "CA" + uuid.uuid4().hex
    assert calls.open_calls.add(alice, Hold(sid, START, 60))
    clock.now = START + timedelta(minutes=10)

    summary = reconcile(calls, FakeCallsApi(), GRACE)

    assert (summary.due, summary.settled, summary.waiting, summary.cleared) == (1, 0, 0, 1)
    assert not is_indexed(calls, alice, sid)
    assert calls.ledger.balance(alice).micros == 10_000_000


def test_settling_a_call_removes_it_from_the_index_and_a_row_left_behind_is_cleared(
    calls: Calls, clock: Clock
) -> None:
    alice = a_caller(calls)
    sid = a_call(calls, alice)
    assert is_indexed(calls, alice, sid)
    busy = StatusReport("busy", START, Source.STATUS_CALLBACK, "CA" + uuid.uuid4().hex, 1)
    assert calls.report(alice, sid, busy).effect is ReportEffect.SETTLED
    assert not is_indexed(calls, alice, sid)

    # Were the removal lost (it is best effort), the settled call's row is cleared.
    calls.open_calls.add(alice, Hold(sid, START, 14_400))
    clock.now = START + timedelta(minutes=10)
    summary = reconcile(calls, FakeCallsApi(), GRACE)
    assert (summary.due, summary.cleared) == (1, 1)
    assert not is_indexed(calls, alice, sid)
    assert calls.get(alice, sid).status == "busy"  # type: ignore[union-attr]


def test_reconciliation_reads_only_the_index_however_many_accounts_there_are(
    calls: Calls, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Many unrelated accounts, each with an old hold that no index row names: a scan of the
    # accounts would find them all due.
    old_hold = Hold("CA" + "0" * 32, START - timedelta(days=1), 60).to_data()
    for n in range(20):
        rows = [Replace(f"ledger:entry-{k}", {"amount_micros": k}) for k in range(49)]
        calls.accounts.commit(f"u-unrelated-{n}", [Replace(HOLD_KEY, old_hold), *rows])
    twilio = FakeCallsApi()
    alice = a_caller(calls)
    sid = a_call(calls, alice)
    twilio.parent_ended(sid)
    clock.now = START + timedelta(minutes=10)
    queried: list[str] = []
    query_entities = TableClient.query_entities

    def spy(client: TableClient, query_filter: str, **kwargs: Any) -> Any:
        queried.append(client.table_name)
        return query_entities(client, query_filter, **kwargs)

    monkeypatch.setattr(TableClient, "query_entities", spy)

    summary = reconcile(calls, twilio, GRACE)

    assert (summary.due, summary.settled, summary.failed) == (1, 1, 0)
    assert queried == [calls.open_calls.table.name]
    assert calls.accounts.get("u-unrelated-0", HOLD_KEY) is not None

"""Placing a call against real storage: one read and two writes when nothing is in the way,
and what a retried webhook, another call, a stale hold or a moving balance make it do instead."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from shared.calling.calls import Calls
from shared.calling.lifecycle import Hold, Source, StatusReport
from shared.calling.open_calls import OpenCalls
from shared.calling.placing import AnotherCallActive, CallAlreadyEnded
from shared.calling.reconciliation import reconcile
from shared.money.ledger import EntryKind, Ledger
from shared.storage.keys import BALANCE_KEY, HOLD_KEY
from shared.storage.rows import Op, Row
from shared.storage.table_store import Table, TableStore
from tests.integration.test_reconciliation import (
    GRACE,
    LANDLINE,
    MARGIN,
    SESSION,
    START,
    Clock,
    FakeCallsApi,
    a_caller,
    is_indexed,
)


@dataclass
class Counted(Table):
    """A table that notes each round trip, and can let a rival write just before a commit."""

    trips: list[str] = field(default_factory=list)
    rival: Callable[[], None] | None = None

    def get(self, partition: str, key: str) -> Row | None:
        self.trips.append(f"get {key}")
        return super().get(partition, key)

    def commit(self, partition: str, ops: Sequence[Op]) -> None:
        self.trips.append("commit")
        rival, self.rival = self.rival, None
        if rival is not None:
            rival()
        super().commit(partition, ops)


@pytest.fixture
def accounts(fresh_table: Table) -> Counted:
    return Counted(fresh_table.client, fresh_table.name)


@pytest.fixture
def index(table_store: TableStore) -> Counted:
    table = table_store.table("open" + uuid.uuid4().hex[:20])
    return Counted(table.client, table.name)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def calls(accounts: Counted, index: Counted, clock: Clock) -> Calls:
    return Calls(accounts, OpenCalls(index), Ledger(accounts), "USD", MARGIN, clock=clock)


def a_sid() -> str:
    return "CA" + uuid.uuid4().hex


def held_by(calls: Calls, user_id: str) -> str:
    row = calls.accounts.get(user_id, HOLD_KEY)
    return row.text("call_sid") if row else ""


def test_placing_a_call_reads_the_balance_then_indexes_and_commits_it(
    calls: Calls, accounts: Counted, index: Counted
) -> None:
    alice = a_caller(calls)
    accounts.trips.clear()
    sid = a_sid()

    placement = calls.place(alice, sid, LANDLINE, SESSION)

    assert not placement.replayed
    assert accounts.trips == [f"get {BALANCE_KEY}", "commit"]
    assert index.trips == ["commit"]
    assert held_by(calls, alice) == sid
    assert is_indexed(calls, alice, sid)


def test_a_retried_webhook_gets_the_call_its_first_delivery_placed(calls: Calls) -> None:
    alice = a_caller(calls)
    sid = a_sid()
    first = calls.place(alice, sid, LANDLINE, SESSION)
    again = calls.place(alice, sid, LANDLINE, SESSION)
    assert again.replayed
    assert again.record == first.record
    assert len(calls.history(alice, 10).calls) == 1
    assert is_indexed(calls, alice, sid)


def test_a_retried_webhook_gets_its_call_even_when_the_balance_fell_meanwhile(
    calls: Calls,
) -> None:
    alice = a_caller(calls, credit=1_000_000)
    sid = a_sid()
    first = calls.place(alice, sid, LANDLINE, SESSION)
    calls.ledger.post(alice, "refund", -1_000_000, EntryKind.REFUND)
    again = calls.place(alice, sid, LANDLINE, SESSION)
    assert again.replayed
    assert again.record.max_seconds == first.record.max_seconds == 4000


def test_a_retried_webhook_after_the_call_ended_is_refused_and_leaves_no_index_row(
    calls: Calls,
) -> None:
    alice = a_caller(calls)
    sid = a_sid()
    calls.place(alice, sid, LANDLINE, SESSION)
    calls.report(alice, sid, StatusReport("busy", START, Source.STATUS_CALLBACK, a_sid(), 1))
    assert not is_indexed(calls, alice, sid)
    with pytest.raises(CallAlreadyEnded):
        calls.place(alice, sid, LANDLINE, SESSION)
    assert not is_indexed(calls, alice, sid)
    assert held_by(calls, alice) == ""


def test_a_second_call_is_refused_and_leaves_no_index_row(calls: Calls) -> None:
    alice = a_caller(calls)
    first, second = a_sid(), a_sid()
    calls.place(alice, first, LANDLINE, SESSION)
    with pytest.raises(AnotherCallActive):
        calls.place(alice, second, LANDLINE, SESSION)
    assert (is_indexed(calls, alice, first), is_indexed(calls, alice, second)) == (True, False)
    assert held_by(calls, alice) == first
    assert calls.get(alice, second) is None


def test_a_stale_hold_gives_way_to_a_new_call(
    calls: Calls, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    alice = a_caller(calls)
    lost, sid = a_sid(), a_sid()
    calls.place(alice, lost, LANDLINE, SESSION)
    clock.now = START + timedelta(hours=5)  # past the longest call, the margin and the grace

    with caplog.at_level(logging.ERROR, logger="ownnumber.calls"):
        placement = calls.place(alice, sid, LANDLINE, SESSION)

    assert not placement.replayed
    assert held_by(calls, alice) == sid
    assert any(lost in record.getMessage() for record in caplog.records)
    # The call that lost its hold stays as it was, for an operator; reconciliation no longer
    # looks at it, and goes on looking after the new one.
    assert not calls.get(alice, lost).is_final  # type: ignore[union-attr]
    summary = reconcile(calls, FakeCallsApi(), GRACE)
    assert (summary.due, summary.cleared) == (1, 1)
    assert (is_indexed(calls, alice, lost), is_indexed(calls, alice, sid)) == (False, True)


def test_a_balance_that_moves_while_placing_is_read_again_and_sets_the_time_limit(
    calls: Calls, accounts: Counted, index: Counted, fresh_table: Table
) -> None:
    alice = a_caller(calls, credit=1_000_000)
    rival = Ledger(fresh_table)  # another instance, crediting the account meanwhile
    accounts.rival = lambda: rival.post(alice, "top-up", 1_000_000, EntryKind.ADJUSTMENT)
    accounts.trips.clear()

    placement = calls.place(alice, a_sid(), LANDLINE, SESSION)

    # 2.00 at 0.015/min: 8000 s, not the 4000 s that 1.00 paid for when first read.
    assert placement.record.max_seconds == 8000
    assert accounts.trips == [f"get {BALANCE_KEY}", "commit"] * 2
    assert index.trips == ["commit"]


def test_an_index_row_keeps_the_start_and_time_limit_of_its_call(calls: Calls) -> None:
    alice = a_caller(calls, credit=1_000_000)
    sid = a_sid()
    calls.place(alice, sid, LANDLINE, SESSION)
    [indexed] = calls.open_calls.placed_until(START)
    assert (indexed.user_id, indexed.hold) == (alice, Hold(sid, START, 4000))

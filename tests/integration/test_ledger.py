"""The ledger against a real Azurite: exactly-once posting, ordering, and the invariant."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.money.errors import EntryIdReused, LedgerBusy
from shared.money.ledger import Balance, EntryKind, Ledger, Planned, PostStatus
from shared.storage.keys import JOURNAL_PREFIX
from shared.storage.rows import Insert, Replace
from shared.storage.table_store import Table


def user() -> str:
    return "u" + uuid.uuid4().hex


def test_a_post_moves_the_balance_and_records_the_entry(fresh_table: Table) -> None:
    ledger, alice = Ledger(fresh_table), user()
    result = ledger.post(alice, "pay_1", 5_000_000, EntryKind.CREDIT_PURCHASE, {"pack": "5"})
    assert result.status is PostStatus.APPLIED
    assert result.entry.balance_after_micros == 5_000_000
    assert ledger.balance(alice).micros == 5_000_000
    [entry] = ledger.entries(alice).entries
    assert (entry.entry_id, entry.amount_micros, entry.details) == (
        "pay_1",
        5_000_000,
        {"pack": "5"},
    )


def test_the_same_event_twice_is_applied_once(fresh_table: Table) -> None:
    ledger, alice = Ledger(fresh_table), user()
    ledger.post(alice, "pay_1", 5_000_000, EntryKind.CREDIT_PURCHASE)
    again = ledger.post(alice, "pay_1", 5_000_000, EntryKind.CREDIT_PURCHASE)
    assert again.status is PostStatus.ALREADY_APPLIED
    assert ledger.balance(alice).micros == 5_000_000
    assert len(ledger.all_entries(alice)) == 1


def test_an_event_id_reused_for_another_amount_is_refused(fresh_table: Table) -> None:
    ledger, alice = Ledger(fresh_table), user()
    ledger.post(alice, "pay_1", 5_000_000, EntryKind.CREDIT_PURCHASE)
    with pytest.raises(EntryIdReused):
        ledger.post(alice, "pay_1", 6_000_000, EntryKind.CREDIT_PURCHASE)
    assert ledger.balance(alice).micros == 5_000_000


def test_the_balance_may_go_negative_and_back(fresh_table: Table) -> None:
    ledger, alice = Ledger(fresh_table), user()
    ledger.post(alice, "re_1", -2_000_000, EntryKind.REFUND)
    assert ledger.balance(alice).micros == -2_000_000
    ledger.post(alice, "pay_1", 5_000_000, EntryKind.CREDIT_PURCHASE)
    assert ledger.balance(alice).micros == 3_000_000


def test_entries_list_newest_first_across_pages(fresh_table: Table) -> None:
    ledger, alice = Ledger(fresh_table), user()
    for n in range(7):
        ledger.post(alice, f"e{n}", n + 1, EntryKind.ADJUSTMENT)
    seen: list[str] = []
    continuation = None
    while True:
        page = ledger.entries(alice, limit=3, continuation=continuation)
        assert len(page.entries) <= 3
        seen += [e.entry_id for e in page.entries]
        continuation = page.continuation
        if continuation is None:
            break
    assert seen == [f"e{n}" for n in reversed(range(7))]


def test_flags_change_without_moving_money(fresh_table: Table) -> None:
    ledger, alice = Ledger(fresh_table), user()
    ledger.post(alice, "pay_1", 1_000_000, EntryKind.CREDIT_PURCHASE)
    ledger.set_flags(alice, lambda flags: flags | {"disputed"})
    assert ledger.balance(alice).flags == {"disputed"}
    ledger.post(alice, "pay_2", 1_000_000, EntryKind.CREDIT_PURCHASE)
    assert ledger.balance(alice).flags == {"disputed"}
    assert ledger.balance(alice).micros == 2_000_000


def test_flags_and_other_rows_change_in_one_transaction_and_say_whether_anything_did(
    fresh_table: Table,
) -> None:
    ledger, alice = Ledger(fresh_table), user()
    ledger.post(alice, "pay_1", 1_000_000, EntryKind.CREDIT_PURCHASE)
    assert ledger.set_flags(alice, lambda flags: flags | {"disputed"}, also=[Insert("note", {})])
    assert fresh_table.get(alice, "note") is not None
    assert not ledger.set_flags(alice, lambda flags: flags | {"disputed"})

    # A row that changes alone still commits with the balance row (its ETag guards both).
    assert ledger.set_flags(alice, lambda flags: flags, also=lambda _: [Insert("other", {})])
    # If the other row fails (on every attempt, as post's do), the flags do not change either.
    with pytest.raises(LedgerBusy):
        Ledger(fresh_table, max_attempts=3).set_flags(
            alice, lambda flags: frozenset(), also=[Insert("note", {})]
        )
    assert ledger.balance(alice).flags == {"disputed"}
    assert ledger.balance(alice).micros == 1_000_000


def test_concurrent_posts_with_duplicates_keep_the_invariant(fresh_table: Table) -> None:
    """20 threads post 1,000 entries to 4 accounts; 100 of them reuse an id that another
    thread is posting at the same time. Afterwards every account's balance equals the sum
    of its ledger rows, each id is applied exactly once, and the journal agrees.

    Each thread has its own Ledger, as separate worker processes would: nothing in-process
    serialises them, so every race is decided by Table Storage (ETags, duplicate creates)."""
    ledger = Ledger(fresh_table)
    rng = random.Random(20261121)
    accounts = [user() for _ in range(4)]
    originals = [
        (rng.choice(accounts), f"evt-{n}", rng.randint(-3_000_000, 9_000_000)) for n in range(900)
    ]
    duplicates = rng.sample(originals, 100)
    threads = 20
    # Each duplicate goes to a different thread than its original, at about the same
    # position in that thread's queue, so the two race.
    queues: list[list[tuple[str, str, int]]] = [[] for _ in range(threads)]
    for index, item in enumerate(originals):
        queues[index % threads].append(item)
    for item in duplicates:
        home = originals.index(item) % threads
        other = (home + 1 + rng.randrange(threads - 1)) % threads
        position = queues[home].index(item)
        queues[other].insert(min(position, len(queues[other])), item)
    assert sum(len(q) for q in queues) == 1000

    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work(queue: list[tuple[str, str, int]]) -> None:
        own = Ledger(fresh_table)
        start.wait()
        for account, entry_id, amount in queue:
            result = own.post(account, entry_id, amount, EntryKind.ADJUSTMENT)
            with lock:
                outcomes[result.status.value] += 1

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, queues))

    assert outcomes == {"applied": 900, "already_applied": 100}
    for account in accounts:
        expected = {eid: amount for acc, eid, amount in originals if acc == account}
        rows = ledger.all_entries(account)
        assert {e.entry_id: e.amount_micros for e in rows} == expected
        balance = ledger.balance(account)
        assert balance.micros == sum(e.amount_micros for e in rows) == sum(expected.values())
        assert balance.seq == len(expected)
        journal = list(fresh_table.rows(account, JOURNAL_PREFIX))
        assert sorted(r.integer("seq") for r in journal) == list(range(1, len(expected) + 1))


# --- entries whose amount is planned from rows read on each attempt -------------------------


def counter_plan(table: Table, user_id: str, calls: list[int]) -> Callable[[Balance], Planned]:
    """Posts the value of the row "counter" and increments it, If-Match, in the same write."""

    def plan(_balance: Balance) -> Planned:
        row = table.get(user_id, "counter")
        assert row is not None
        calls.append(row.integer("value"))
        value = row.integer("value")
        return Planned(-value, [Replace("counter", {"value": value + 1}, row.etag)])

    return plan


def test_a_planned_entry_commits_with_the_rows_it_was_planned_from(fresh_table: Table) -> None:
    ledger, alice, calls = Ledger(fresh_table), user(), []
    fresh_table.commit(alice, [Insert("counter", {"value": 7})])
    plan = counter_plan(fresh_table, alice, calls)
    result = ledger.post_planned(alice, "re_1", EntryKind.REFUND, {"refund": "re_1"}, plan)
    assert (result.status, result.entry.amount_micros) == (PostStatus.APPLIED, -7)
    assert fresh_table.get(alice, "counter").integer("value") == 8
    assert ledger.balance(alice).micros == -7


def test_a_planned_entry_redelivered_is_already_applied_without_planning_again(
    fresh_table: Table,
) -> None:
    ledger, alice, calls = Ledger(fresh_table), user(), []
    fresh_table.commit(alice, [Insert("counter", {"value": 7})])
    plan = counter_plan(fresh_table, alice, calls)
    ledger.post_planned(alice, "re_1", EntryKind.REFUND, None, plan)
    # The counter moved on: a plan now would say -8, and the ledger would call that reused.
    again = ledger.post_planned(alice, "re_1", EntryKind.REFUND, None, plan)
    assert (again.status, again.entry.amount_micros) == (PostStatus.ALREADY_APPLIED, -7)
    assert calls == [7]
    assert ledger.balance(alice).micros == -7
    with pytest.raises(EntryIdReused):
        ledger.post_planned(alice, "re_1", EntryKind.DISPUTE, None, plan)


def test_a_planned_entry_is_planned_again_when_its_rows_change_under_it(
    fresh_table: Table,
) -> None:
    ledger, alice, calls = Ledger(fresh_table), user(), []
    fresh_table.commit(alice, [Insert("counter", {"value": 7})])
    inner = counter_plan(fresh_table, alice, calls)

    def racing(balance: Balance) -> Planned:
        planned = inner(balance)
        if len(calls) == 1:  # another instance changes the row after this attempt read it
            row = fresh_table.get(alice, "counter")
            fresh_table.commit(alice, [Replace("counter", {"value": 10}, row.etag)])
        return planned

    result = ledger.post_planned(alice, "re_1", EntryKind.REFUND, None, racing)
    assert calls == [7, 10]
    assert result.entry.amount_micros == -10
    assert fresh_table.get(alice, "counter").integer("value") == 11
    assert [e.amount_micros for e in ledger.all_entries(alice)] == [-10]

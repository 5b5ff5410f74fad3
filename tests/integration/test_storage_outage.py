"""Storage dying in the middle of traffic, and Stripe's API failing, with the senders behaving
as Twilio and Stripe really do (tests/traffic.py):

- Stripe redelivers any non-2xx until it gets a 2xx (bounded here, with a short back-off);
- Twilio retries a failure only as the URL's connection overrides say (rc=2 tries more, on
  5xx and time-outs), then gives the delivery up. An outage outlasts those retries, so some
  reports are lost, as they would be at Twilio: the calls they were about are settled by
  reconciliation from Twilio's Calls API (the sandbox's fake, told how every call ended), and
  a call whose voice webhook was lost was never dialled, so the user dials it again.

So the totals are exactly those of a run without the outage, computed independently, except
where Azurite itself forgets acknowledged writes (SIGKILL): there only the invariants are
asserted. While storage is down, every webhook answer is a 503 with Retry-After in
problem+json, and none takes longer than the request deadline.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from local_host.azurite import Azurite, free_port
from shared.deadline import REQUEST_DEADLINE_SECONDS
from shared.money.ledger import EntryKind, Ledger
from shared.storage.keys import ACCOUNTS_TABLE, BALANCE_KEY, CALL_PREFIX, HOLD_KEY
from shared.storage.table_store import TableStore
from tests.servers import LocalHost
from tests.storage_proxy import StorageProxy
from tests.traffic import (
    FINAL,
    HOST_SETTINGS,
    Failure,
    Plan,
    PlannedCall,
    Senders,
    StripeApiFake,
    Traffic,
    User,
    Workers,
    call_cost,
    deck_prices,
    expected_kinds,
    funder,
    make_plan,
    open_calls,
    price_of,
    read_books,
    sign_up,
    wait_for,
)

USERS, CALLS_PER_USER, PAYMENTS, REFUNDS, DISPUTES = 10, 4, 20, 5, 2
# An answer may overrun the request deadline by its own trip back on a loaded 2-core machine.
SLACK_SECONDS = 3.0
# When the fault starts: after this many deliveries (of some 550), so that it lands mid-run.
FAULT_AFTER = 120
# How long storage stays down: until this many webhook failures were seen (more than Twilio's
# retries of any one delivery), or at most this long.
FAILURES_DURING_OUTAGE, LONGEST_OUTAGE_SECONDS = 25, 6.0


@dataclass
class Site:
    """One host on its own Azurite (data on disk), with the fakes of Stripe's and Twilio's
    APIs, and the store read directly (never through the proxy)."""

    azurite: Azurite
    host: LocalHost
    store: TableStore
    stripe_api: StripeApiFake
    proxy: StorageProxy | None

    def health(self) -> int:
        try:
            return requests.get(f"{self.host.base_url}/api/health", timeout=5).status_code
        except requests.RequestException:
            return 0

    def reconcile(self) -> None:
        wait_for(lambda: self.health() == 200, 30, "storage coming back")
        # The local host runs the timer before it answers (202, as Functions' admin API does);
        # a run that fails (storage faltering again, a table it had to create again) is
        # followed by the next on the timer's schedule, as here by another try.
        for _ in range(5):
            response = requests.post(f"{self.host.base_url}/admin/functions/reconcile", timeout=60)
            if response.status_code == 202:
                return
            time.sleep(0.2)
        raise AssertionError(self.host.output()[-4000:])

    def twilio_knows(self, *calls: dict[str, str]) -> None:
        """Tells the Calls API fake how calls went, as Twilio's own records say."""
        response = requests.post(
            f"{self.host.base_url}/sandbox/twilio/_seed", json={"calls": list(calls)}, timeout=10
        )
        assert response.status_code == 201, response.text


@contextmanager
def open_site(data_dir: Path, proxied: bool) -> Iterator[Site]:
    azurite = Azurite(free_port(), data_dir).start()
    proxy = StorageProxy(azurite.port) if proxied else None
    stripe_api = StripeApiFake()
    settings = {
        **HOST_SETTINGS,
        "STRIPE_API_BASE_URL": stripe_api.base_url,
        # Every open call is due at once: reconciliation asks Twilio, which answers for the
        # calls it knows to have ended and leaves the others (not found: waiting).
        "RECONCILE_GRACE_SECONDS": "0",
        "RECONCILE_MARGIN_SECONDS": "0",
    }
    storage = proxy.connection_string if proxy else azurite.connection_string
    host = LocalHost(storage, settings).start()
    try:
        yield Site(azurite, host, TableStore(azurite.connection_string), stripe_api, proxy)
    finally:
        host.stop()
        stripe_api.close()
        if proxy:
            proxy.close()
        azurite.stop()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with open_site(tmp_path / "azurite", proxied=False) as opened:
        yield opened


@pytest.fixture
def proxied_site(tmp_path: Path) -> Iterator[Site]:
    """The same, with a TCP proxy between the host and Azurite that can play a dead store."""
    with open_site(tmp_path / "azurite", proxied=True) as opened:
        yield opened


@dataclass
class Run:
    plan: Plan
    users: list[User]
    senders: Senders
    traffic: Traffic
    workers: Workers
    outage_failures: list[Failure]
    seconds: float


def run_traffic(
    site: Site,
    seed: int,
    fault: Callable[[], Callable[[], None]] | None,
    *,
    prepared: Callable[[Plan], None] | None = None,
    strict: bool = True,
    early: int | None = None,
) -> Run:
    """Plays the traffic from 16 threads; `fault`, once FAULT_AFTER deliveries are done,
    takes storage down and returns how to bring it back, which is done once enough
    deliveries have failed meanwhile. `prepared` runs once the users exist."""
    rng = random.Random(seed)
    plan = make_plan(rng, USERS, CALLS_PER_USER, PAYMENTS, REFUNDS, DISPUTES, early)
    fund = funder(site.store)
    users = [sign_up(site.host.base_url, fund) for _ in range(USERS)]
    for payment in plan.payments:
        site.stripe_api.know(payment, users[payment.user].user_id)
    if prepared is not None:
        prepared(plan)
    senders = Senders(site.host.base_url)

    def ended(user: int, call: PlannedCall) -> None:
        # Twilio's own record of the call: the browser's leg, and the dialled leg's end.
        parent = {"sid": call.sid, "status": "completed", "direction": "inbound"}
        leg = {"sid": call.child, "parent_call_sid": call.sid, "status": call.final}
        site.twilio_knows(parent, {**leg, "duration": str(call.duration)})

    def recover(user: int, call: PlannedCall, sid: str) -> None:
        # This attempt was never dialled (its voice webhook was lost, or refused while a call
        # whose end was lost still held the account): Twilio's record says it failed.
        site.twilio_knows({"sid": sid, "status": "failed", "direction": "inbound"})
        site.reconcile()

    traffic = Traffic(plan, users, senders, rng, recover=recover, ended=ended, strict=strict)
    workers = Workers(16)
    outage: list[Failure] = []

    def inject() -> None:
        assert fault is not None
        wait_for(lambda: workers.done >= FAULT_AFTER, 60, "the traffic getting going")
        seen = len(senders.failures)
        restore = fault()
        started = time.monotonic()
        while (
            len(senders.failures) - seen < FAILURES_DURING_OUTAGE
            and time.monotonic() - started < LONGEST_OUTAGE_SECONDS
        ):
            time.sleep(0.05)  # polling the senders' failure count, not waiting blindly
        outage.extend(senders.failures[seen:])
        restore()

    injector = threading.Thread(target=inject, daemon=True) if fault else None
    started = time.monotonic()
    if injector:
        injector.start()
    workers.run(traffic.steps())
    if injector:
        injector.join(timeout=60)
    # What the senders gave up on is Twilio's to settle: its Calls API, read by the timer.
    site.reconcile()
    return Run(plan, users, senders, traffic, workers, outage, time.monotonic() - started)


def describe(run: Run) -> str:
    """What the senders went through, for the log of the run (pytest -s shows it)."""
    redials = sum(len(sids) for sids in run.traffic.lost_attempts.values())
    return (
        f"{run.workers.done} steps in {run.seconds:.1f} s: {len(run.senders.failures)} failed "
        f"answers ({len(run.outage_failures)} during the outage), "
        f"{len(run.senders.lost)} Twilio deliveries given up, {redials} calls dialled again"
    )


def assert_failures_were_prompt_503s(run: Run) -> None:
    """Every failed webhook was a 503 with Retry-After in problem+json, within the deadline
    (or, while storage was down, a connection the host never answered: none expected)."""
    assert run.senders.failures, "the fault was not seen by any sender"
    for failure in run.senders.failures:
        assert failure.status == 503, failure
        assert failure.content_type.startswith("application/problem+json"), failure
        assert failure.retry_after is not None, failure
        assert int(failure.retry_after) > 0, failure
        assert failure.seconds < REQUEST_DEADLINE_SECONDS + SLACK_SECONDS, failure


def assert_exact_totals(site: Site, run: Run) -> None:
    prices = deck_prices()
    for n, user in enumerate(run.users):
        sids = [call.sid for call in run.plan.calls[n]]
        lost = run.traffic.lost_attempts.get(n, [])
        books = read_books(site.store, user.user_id, sids + lost)
        expected = run.plan.expected_balance(n, prices)
        assert books.balance == books.entries_sum == expected, (n, books.balance, expected)
        shown = user.client.get("/api/balance").json()
        assert (shown["balance_micros"], shown["flags"]) == (expected, [])
        assert books.kinds == expected_kinds(run.plan, n)
        assert sorted(books.entry_ids) == sorted(books.journal_ids)
        assert not books.hold
        # The attempts that were never dialled were settled free, if they were recorded.
        assert all(books.calls_final[sid] for sid in sids), books.calls_final
        assert all(books.call_charges[sid] in (-1, 0) for sid in lost)
        assert {sid: books.call_charges[sid] for sid in sids} == books.charge_entries
        priced = {c.sid: call_cost(price_of(c.to, prices), c.duration) for c in run.plan.calls[n]}
        assert books.charge_entries == priced
    assert open_calls(site.store, run.users) == []
    assert len(run.traffic.placed) == USERS * CALLS_PER_USER


def test_azurite_stopped_gracefully_mid_traffic_ends_on_the_exact_totals(site: Site) -> None:
    def restart() -> None:
        site.azurite.start()  # the same port and data folder

    def stop() -> Callable[[], None]:
        site.azurite.stop()  # SIGINT: Azurite saves what it acknowledged, then exits
        return restart

    run = run_traffic(site, 1301, stop)
    print(describe(run))
    assert_failures_were_prompt_503s(run)
    assert run.senders.lost, "no Twilio delivery outlasted its retries: reconciliation untested"
    assert_exact_totals(site, run)


def test_a_store_that_drops_every_connection_mid_traffic_ends_on_the_exact_totals(
    proxied_site: Site,
) -> None:
    site = proxied_site
    proxy = site.proxy
    assert proxy is not None

    def die() -> Callable[[], None]:
        proxy.mode = "down"
        proxy.cut()  # requests in flight die with their connection, answered or not

        def back() -> None:
            proxy.mode = "pass"

        return back

    run = run_traffic(site, 1302, die)
    print(describe(run))
    assert_failures_were_prompt_503s(run)
    assert_exact_totals(site, run)


def test_azurite_killed_mid_traffic_leaves_consistent_books(site: Site) -> None:
    """SIGKILL: Azurite loses what it had not saved yet, acknowledged or not. That is the store
    losing data, not the app, so totals may differ; what must hold is that whatever survived
    is whole: each account's balance is the sum of its entries, each entry has its journal
    row, each settled call its charge and each charge its settled call, and nothing is left
    held or open once reconciliation ran."""

    def restart() -> None:
        site.azurite.start()  # the same port and data folder

    def kill() -> Callable[[], None]:
        site.azurite.kill()
        return restart

    def save(_: Plan) -> None:
        # The accounts were just made: Azurite saves them (SIGINT, then the same port and
        # folder again), so that the kill can lose traffic, not the sign-ins calls need.
        site.azurite.stop()
        site.azurite.start()
        wait_for(lambda: site.health() == 200, 30, "the host seeing storage again")

    run = run_traffic(site, 1303, kill, prepared=save, strict=False)
    print(describe(run))
    accounts = site.store.table(ACCOUNTS_TABLE)
    ledger = Ledger(accounts)
    lost_money = held_open = 0
    lost_entries: Counter[str] = Counter()
    prices = deck_prices()
    for n, user in enumerate(run.users):
        entries = ledger.all_entries(user.user_id)
        balance = accounts.get(user.user_id, BALANCE_KEY)
        assert balance is not None
        assert balance.integer("micros") == sum(e.amount_micros for e in entries)
        journal = [row.text("entry_id") for row in accounts.rows(user.user_id, "journal:")]
        assert sorted(journal) == sorted(e.entry_id for e in entries)
        assert balance.integer("seq") == len(journal)
        # A hold left is a call still open as far as the surviving rows say (its index row,
        # or its end, lost with the store): never one whose call is settled or gone.
        hold = accounts.get(user.user_id, HOLD_KEY)
        if hold is not None:
            held = accounts.get(user.user_id, CALL_PREFIX + hold.text("call_sid"))
            assert held is not None, hold.text("call_sid")
            assert held.text("status") not in FINAL, hold.text("call_sid")
            held_open += 1
        charges = {
            str(e.details["call_sid"]): -e.amount_micros
            for e in entries
            if e.kind is EntryKind.CALL_CHARGE
        }
        for row in accounts.rows(user.user_id, CALL_PREFIX):
            if row.text("status") not in FINAL:
                assert hold is not None, row.key
                assert hold.text("call_sid") == row.text("call_sid"), row.key
                continue
            if row.text("child_sid"):
                assert charges.get(row.text("call_sid")) == row.integer("charge_micros"), row.key
        for sid, charge in charges.items():
            charged = accounts.get(user.user_id, CALL_PREFIX + sid)
            assert charged is not None, sid
            assert charged.integer("charge_micros") == charge, sid
        lost_money += abs(balance.integer("micros") - run.plan.expected_balance(n, prices))
        kinds = Counter(e.kind.value for e in entries)
        lost_entries += Counter(expected_kinds(run.plan, n)) - kinds
    # Index rows left are of calls still open (as above); reconciliation removed the rest.
    for key in open_calls(site.store, run.users):
        user_id, _, sid = key.partition(":")
        indexed = accounts.get(user_id, CALL_PREFIX + sid)
        assert indexed is not None, key
        assert indexed.text("status") not in FINAL, key
    assert run.senders.failures, "the kill was not seen by any sender"
    print(
        f"SIGKILL: {lost_money} micros off the plan over all accounts, entries missing "
        f"{dict(lost_entries)}, {held_open} calls left open, "
        f"{len(run.traffic.abandoned)} calls given up"
    )


def test_stripe_failing_while_refunds_come_before_their_payments_ends_on_the_exact_totals(
    site: Site,
) -> None:
    """A refund that comes before its payment makes the app ask Stripe's API about the
    PaymentIntent. That API fails for the first 4 requests about each such payment (a 500,
    no answer at all, a connection dropped, a 500), more than the SDK's own 2 retries: the
    webhook answers 503 within its deadline (not after the SDK's 20 s time-out, three times),
    Stripe redelivers, and the totals still come out exact."""
    failing = 4

    def break_stripe(plan: Plan) -> None:
        for payment in plan.payments:
            if payment.early:
                site.stripe_api.fail[payment.pi] = failing

    run = run_traffic(site, 1304, None, prepared=break_stripe, early=REFUNDS)
    print(describe(run))
    early = [p.pi for p in run.plan.payments if p.early]
    assert len(early) >= 3
    assert {pi: site.stripe_api.failed.get(pi) for pi in early} == dict.fromkeys(early, failing)
    assert_failures_were_prompt_503s(run)
    assert all(f.url == "stripe" for f in run.senders.failures)
    assert len(run.senders.failures) >= len(early)
    assert run.senders.lost == []
    assert_exact_totals(site, run)

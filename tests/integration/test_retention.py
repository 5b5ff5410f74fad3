"""The retention run against a real Azurite, with an injected clock set past the periods.

Every test gets tables of its own (each registry table name plus a suffix), and the run's
writes pass the privacy registry's guard under the names the registry knows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from local_host.azurite import Azurite
from shared.config import PrivacySettings, SessionSettings
from shared.privacy.guard import check_write
from shared.privacy.registry import KINDS
from shared.privacy.retention import ERASURE_GRACE, Retention
from shared.storage import keys
from shared.storage.rows import Insert, Op, Value
from shared.storage.table_store import Table, TableStore

NOW = datetime(2026, 7, 1, 3, 30, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=181)
SESSIONS = SessionSettings(
    absolute_seconds=30 * 86400, idle_seconds=7 * 86400, reauth_max_age_seconds=600
)
TABLES = sorted({kind.table for kind in KINDS})
RowId = tuple[str, str, str]  # table, partition, key


def user() -> str:
    return "u" + uuid.uuid4().hex


def pseudonym() -> str:
    return keys.PSEUDONYM_PREFIX + uuid.uuid4().hex


@dataclass
class World:
    """Tables of one test, and the rows seeded in them: which are due, which must stay."""

    store: TableStore
    suffix: str
    due: set[RowId] = field(default_factory=set)
    kept: set[RowId] = field(default_factory=set)

    def table(self, name: str) -> Table:
        return self.store.table(name + self.suffix)

    def seed(self, table: str, partition: str, key: str, due: bool, **data: Value) -> None:
        self.table(table).commit(partition, [Insert(key, data)])
        (self.due if due else self.kept).add((table, partition, key))

    def rows(self) -> set[RowId]:
        found: set[RowId] = set()
        for name in TABLES:
            continuation = None
            while True:
                page = self.table(name).scan("", {}, continuation=continuation)
                found |= {(name, partition, row.key) for partition, row in page.rows}
                continuation = page.continuation
                if not continuation:
                    break
        return found

    def retention(self, clock: datetime = NOW, **options: object) -> Retention:
        return Retention(
            table=self.table,
            privacy=PrivacySettings(call_retention_days=180),
            sessions=SESSIONS,
            clock=lambda: clock,
            **options,  # type: ignore[arg-type]
        )


@pytest.fixture
def world(azurite: Azurite) -> World:
    suffix = "x" + uuid.uuid4().hex[:8]

    def guarded(table: str, op: Op) -> None:
        check_write(table.removesuffix(suffix), op)

    return World(TableStore(azurite.connection_string, write_check=guarded), suffix)


def seed_call(world: World, user_id: str, started: datetime, due: bool) -> str:
    call_sid = "CA" + uuid.uuid4().hex
    data: dict[str, Value] = {"call_sid": call_sid, "started_at": started, "status": "completed"}
    history = keys.call_history_key(int(started.timestamp() * 1_000_000), call_sid)
    world.seed(keys.ACCOUNTS_TABLE, user_id, keys.call_key(call_sid), due, **data)
    world.seed(keys.ACCOUNTS_TABLE, user_id, history, due, **data, history_key=history)
    return call_sid


def seed_every_kind(world: World) -> dict[str, str]:
    """Rows of every kind the run looks at, some due at NOW and some not."""
    accounts = keys.ACCOUNTS_TABLE
    alice, bob, carol = user(), user(), user()
    # Alice's live account: her books and profile stay whatever the clock says.
    world.seed(accounts, alice, keys.PROFILE_KEY, False, email="a@example.org")
    world.seed(accounts, alice, keys.BALANCE_KEY, False, micros=5, seq=1)
    world.seed(
        accounts, alice, keys.ledger_key("pi_a"), False, amount_micros=5, created_at=LONG_AGO
    )
    world.seed(accounts, alice, keys.journal_key(1), False, entry_id="pi_a", created_at=LONG_AGO)
    world.seed(accounts, alice, keys.payment_key("pi_a"), False, created_at=LONG_AGO)
    world.seed(accounts, alice, keys.CONSENT_PREFIX + "1", False, changed_at=LONG_AGO)
    # Calls: one past its 180 days, one within them, two past them but not settled.
    seed_call(world, alice, LONG_AGO, due=True)
    seed_call(world, alice, NOW - timedelta(days=100), due=False)
    held = seed_call(world, alice, LONG_AGO, due=False)
    world.seed(accounts, alice, keys.HOLD_KEY, False, call_sid=held, placed_at=LONG_AGO)
    open_sid = seed_call(world, bob, LONG_AGO, due=False)
    world.seed(
        keys.OPEN_CALLS_TABLE,
        keys.OPEN_CALLS_PARTITION,
        keys.open_call_key(bob, open_sid),
        False,
        user_id=bob,
        call_sid=open_sid,
        placed_at=LONG_AGO,
    )
    # Sessions: past the absolute end, past the idle end, live.
    session = keys.session_key
    world.seed(
        accounts,
        alice,
        session("1" * 32),
        True,
        created_at=NOW - timedelta(days=31),
        last_seen_at=NOW - timedelta(hours=2),
    )
    world.seed(
        accounts,
        alice,
        session("2" * 32),
        True,
        created_at=NOW - timedelta(days=9),
        last_seen_at=NOW - timedelta(days=8),
    )
    world.seed(
        accounts,
        alice,
        session("3" * 32),
        False,
        created_at=NOW - timedelta(days=9),
        last_seen_at=NOW - timedelta(hours=2),
    )
    # Sign-ins in progress: expired, and still running.
    flows = keys.SIGN_IN_FLOWS_TABLE
    world.seed(
        flows,
        "f" + uuid.uuid4().hex,
        keys.SIGN_IN_FLOW_KEY,
        True,
        expires_at=NOW - timedelta(minutes=1),
    )
    world.seed(
        flows,
        "f" + uuid.uuid4().hex,
        keys.SIGN_IN_FLOW_KEY,
        False,
        expires_at=NOW + timedelta(minutes=5),
    )
    # Checkouts: older than 7 days, and recent.
    world.seed(
        accounts, alice, keys.checkout_key("cs_old"), True, created_at=NOW - timedelta(days=8)
    )
    world.seed(
        accounts, alice, keys.checkout_key("cs_new"), False, created_at=NOW - timedelta(days=1)
    )
    # Caller IDs: Alice's verification lapsed (record and index row go), Bob's is verified,
    # Carol's is under way; an index row left by a start cut short before its record.
    owners = keys.CALLER_ID_OWNERS_TABLE
    pending: dict[str, Value] = {"state": "pending", "attempt": "a" * 32}
    lapsed = NOW - timedelta(minutes=11)
    world.seed(
        accounts,
        alice,
        keys.CALLER_ID_KEY,
        True,
        number="+447700900001",
        started_at=lapsed,
        code="123456",
        **pending,
    )
    world.seed(
        owners,
        "+447700900001",
        keys.CALLER_ID_OWNER_KEY,
        True,
        user_id=alice,
        started_at=lapsed,
        **pending,
    )
    verified: dict[str, Value] = {"state": "verified", "attempt": "b" * 32, "started_at": LONG_AGO}
    world.seed(accounts, bob, keys.CALLER_ID_KEY, False, number="+447700900002", **verified)
    world.seed(owners, "+447700900002", keys.CALLER_ID_OWNER_KEY, False, user_id=bob, **verified)
    recent = NOW - timedelta(minutes=2)
    world.seed(
        accounts,
        carol,
        keys.CALLER_ID_KEY,
        False,
        number="+447700900003",
        started_at=recent,
        **pending,
    )
    world.seed(
        owners,
        "+447700900003",
        keys.CALLER_ID_OWNER_KEY,
        False,
        user_id=carol,
        started_at=recent,
        **pending,
    )
    world.seed(
        owners,
        "+447700900004",
        keys.CALLER_ID_OWNER_KEY,
        True,
        user_id=user(),
        started_at=lapsed,
        **pending,
    )
    # Attempt counters: an hour gone, and the current one.
    limits = keys.LIMITS_TABLE
    world.seed(limits, f"user:{alice}", "2026070102", True, count=1, until=NOW - timedelta(hours=1))
    world.seed(
        limits, f"user:{alice}", "2026070103", False, count=1, until=NOW + timedelta(minutes=30)
    )
    # Books of deleted accounts: one past its legal period, one within it, and an index row
    # that names a live account (never a pseudonym's partition: it must not be touched).
    for books, until, due in (
        (pseudonym(), NOW - timedelta(days=1), True),
        (pseudonym(), NOW + timedelta(days=365), False),
    ):
        intent = "pi_" + uuid.uuid4().hex
        world.seed(accounts, books, keys.ARCHIVE_KEY, due, erased_at=LONG_AGO, kept_until=until)
        world.seed(accounts, books, keys.BALANCE_KEY, due, micros=0, seq=2)
        for n in range(3):
            world.seed(accounts, books, keys.ledger_key(f"e{n}"), due, amount_micros=1)
            world.seed(accounts, books, keys.journal_key(n), due, entry_id=f"e{n}")
        world.seed(accounts, books, keys.payment_key(intent), due, payment_intent_id=intent)
        world.seed(keys.PAYMENTS_TABLE, intent, keys.PAYMENT_OWNER_KEY, due, user_id=books)
        world.seed(keys.ARCHIVES_TABLE, keys.ARCHIVES_PARTITION, books, due, kept_until=until)
    world.seed(keys.ARCHIVES_TABLE, keys.ARCHIVES_PARTITION, alice, False, kept_until=LONG_AGO)
    return {"alice": alice, "bob": bob}


def test_exactly_the_due_rows_go_and_a_second_run_deletes_nothing(world: World) -> None:
    seed_every_kind(world)
    before = world.rows()
    assert before == world.due | world.kept

    first = world.retention().run()

    assert world.rows() == world.kept
    assert first.finished
    assert first.total == len(world.due)
    assert first.unsettled_kept == 4  # the held call and the open one, each with its history
    assert first.archives_refused == 1
    assert first.deleted["call"] == first.deleted["call_history"] == 1
    assert first.deleted["session"] == 2
    assert (first.deleted["caller_id"], first.deleted["caller_id_owner"]) == (1, 2)
    assert (first.deleted["ledger_entry"], first.deleted["archive_index"]) == (3, 1)
    # Counts, never a key: no user id, pseudonym, number or email in the line it logs.
    line = first.line()
    # The identifying partitions: user ids, pseudonyms, numbers, PaymentIntents, hashes.
    for _, partition, _key in before:
        if len(partition) > 12:
            assert partition not in line
    assert "@" not in line
    second = world.retention().run()
    assert (second.total, second.finished) == (0, True)
    assert world.rows() == world.kept


def test_a_run_cut_short_by_its_budget_is_continued_to_the_same_end(world: World) -> None:
    seed_every_kind(world)
    # Enough rows that the budget ends inside a page, inside a partition and inside books.
    many = user()
    for _ in range(130):
        seed_call(world, many, LONG_AGO, due=True)
    books = pseudonym()
    world.seed(keys.ARCHIVES_TABLE, keys.ARCHIVES_PARTITION, books, True, kept_until=LONG_AGO)
    world.seed(keys.ACCOUNTS_TABLE, books, keys.ARCHIVE_KEY, True, kept_until=LONG_AGO)
    for n in range(150):
        world.seed(keys.ACCOUNTS_TABLE, books, keys.journal_key(n), True, entry_id=f"e{n}")

    runs, deleted = 0, 0
    while True:
        runs += 1
        summary = world.retention(row_budget=37).run()
        assert summary.total <= 37
        deleted += summary.total
        if summary.finished:
            break
        assert world.table(keys.RETENTION_TABLE).get(
            keys.RETENTION_PARTITION, keys.RETENTION_PROGRESS_KEY
        ), "a run stopped by its budget saves where it got to"
        assert runs < 100
    assert runs >= len(world.due) // 37
    assert world.rows() == world.kept
    assert deleted == len(world.due)
    assert world.retention().run().total == 0


def test_the_seconds_budget_stops_a_run_and_the_next_goes_on(world: World) -> None:
    many = user()
    for _ in range(3):
        seed_call(world, many, LONG_AGO, due=True)
    # A clock that moves 100 s each time it is read: the calls step deletes its batch, and
    # the next step finds the 150 s spent before it deletes anything.
    ticks = iter(range(0, 10_000, 100))
    stopped = world.retention(monotonic=lambda: float(next(ticks)), seconds=150).run()
    assert not stopped.finished
    assert (stopped.stopped_at, stopped.deleted["call"], stopped.total) == ("call_history", 3, 3)
    finished = world.retention().run()
    assert finished.finished
    assert finished.deleted["call_history"] == 3
    assert world.rows() == world.kept


class Erasures:
    def __init__(self, user_ids: list[str]) -> None:
        self.user_ids = user_ids
        self.asked: list[datetime] = []
        self.resumed: list[str] = []

    def unfinished(self, older_than: datetime) -> list[str]:
        self.asked.append(older_than)
        return self.user_ids

    def resume(self, user_id: str) -> object:
        if user_id == "broken":
            raise RuntimeError(f"cannot resume {user_id}")
        self.resumed.append(user_id)
        return None


def test_unfinished_deletions_are_handed_to_the_erasure_seam(world: World) -> None:
    erasures = Erasures(["u1", "broken", "u2"])
    summary = world.retention(erasures=erasures).run()
    assert erasures.asked == [NOW - ERASURE_GRACE]
    assert erasures.resumed == ["u1", "u2"]
    assert (summary.erasures_resumed, summary.erasures_failed) == (2, 1)
    assert "broken" not in summary.line()


def test_books_cut_short_keep_their_index_row_until_the_last_of_them_is_gone(
    world: World,
) -> None:
    books = pseudonym()
    accounts, archives = world.table(keys.ACCOUNTS_TABLE), world.table(keys.ARCHIVES_TABLE)
    world.seed(keys.ARCHIVES_TABLE, keys.ARCHIVES_PARTITION, books, True, kept_until=LONG_AGO)
    world.seed(keys.ACCOUNTS_TABLE, books, keys.ARCHIVE_KEY, True, kept_until=LONG_AGO)
    for n in range(150):
        world.seed(keys.ACCOUNTS_TABLE, books, keys.journal_key(n), True, entry_id=f"e{n}")

    cut = world.retention(row_budget=120).run()
    assert (cut.finished, cut.stopped_at, cut.total) == (False, "archives", 120)
    # What finds the books again, and what says why the rest are kept, are both still there.
    assert archives.get(keys.ARCHIVES_PARTITION, books) is not None
    assert accounts.get(books, keys.ARCHIVE_KEY) is not None
    rest = world.retention().run()
    assert (rest.finished, rest.total) == (True, 32)
    assert world.rows() == set()


def test_a_saved_position_that_cannot_be_read_starts_its_step_over(world: World) -> None:
    seed_call(world, user(), LONG_AGO, due=True)
    progress = world.table(keys.RETENTION_TABLE)
    saved = {"step": "calls", "position": "not a position"}
    progress.commit(keys.RETENTION_PARTITION, [Insert(keys.RETENTION_PROGRESS_KEY, saved)])
    summary = world.retention().run()
    assert (summary.finished, summary.deleted["call"], summary.deleted["call_history"]) == (
        True,
        1,
        1,
    )
    assert progress.get(keys.RETENTION_PARTITION, keys.RETENTION_PROGRESS_KEY) is None

"""Sessions against real Azurite with an injected clock: when they end (idle, absolute), how
often a request writes (a read per request, a renewal at most once an hour), signing out
everywhere in transactions of at most 100, listing, revoking one, and a fresh sign-in."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from shared.identity.errors import ReauthRequired, SessionNotFound
from shared.identity.sessions import Session, Sessions
from shared.storage.keys import session_key
from shared.storage.rows import Insert, Op, Page, Remove, Row
from shared.storage.table_store import Table
from shared.telephony.access_token import token_ttl

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ABSOLUTE, IDLE, REAUTH = timedelta(days=30), timedelta(days=7), timedelta(minutes=10)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.82 Mobile Safari/537.36"
)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class CountingTable(Table):
    """The real table, noting each round trip; `after_read` runs between a read and whatever
    the caller does next, to stage a race."""

    trips: list[str] = field(default_factory=list)
    after_read: Callable[[], None] | None = None

    def get(self, partition: str, key: str) -> Row | None:
        self.trips.append("read")
        row = super().get(partition, key)
        self._raced()
        return row

    def page(
        self, partition: str, prefix: str, limit: int, continuation: str | None = None
    ) -> Page:
        self.trips.append("query")
        page = super().page(partition, prefix, limit, continuation)
        self._raced()
        return page

    def commit(self, partition: str, ops: Sequence[Op]) -> None:
        self.trips.append(f"write {len(ops)}")
        super().commit(partition, ops)

    def _raced(self) -> None:
        hook, self.after_read = self.after_read, None
        if hook is not None:
            hook()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def table(fresh_table: Table) -> CountingTable:
    return CountingTable(fresh_table.client, fresh_table.name)


@pytest.fixture
def sessions(table: CountingTable, clock: Clock) -> Sessions:
    return Sessions(table, absolute=ABSOLUTE, idle=IDLE, reauth_max_age=REAUTH, clock=clock)


def a_user() -> str:
    return "u" + uuid.uuid4().hex


def resolved(sessions: Sessions, token: str) -> Session:
    session = sessions.resolve(token)
    assert session is not None
    return session


# --- lifetimes ---------------------------------------------------------------------------


def test_a_session_unused_for_the_idle_lifetime_has_ended(sessions: Sessions, clock: Clock) -> None:
    used, _ = sessions.start(a_user())
    unused, session = sessions.start(a_user())
    assert session.expires_at == START + IDLE
    clock.now = START + IDLE - timedelta(seconds=1)
    assert sessions.resolve(used) is not None  # seen: idle from now on
    clock.now = START + IDLE
    assert sessions.resolve(unused) is None
    assert sessions.resolve(used) is not None


def test_a_session_in_daily_use_still_ends_at_its_absolute_lifetime(
    sessions: Sessions, clock: Clock
) -> None:
    token, _ = sessions.start(a_user())
    for _ in range(29):
        clock.advance(days=1)
        assert resolved(sessions, token).idle_end == clock.now + IDLE
    clock.now = START + ABSOLUTE - timedelta(seconds=1)
    assert resolved(sessions, token).seconds_left(clock.now) == 1
    clock.now = START + ABSOLUTE
    assert sessions.resolve(token) is None


def test_a_request_reads_once_and_writes_its_last_sight_at_most_once_an_hour(
    sessions: Sessions, table: CountingTable, clock: Clock
) -> None:
    user = a_user()
    token, session = sessions.start(user)
    table.trips.clear()
    for minutes in (1, 30, 59):
        clock.now = START + timedelta(minutes=minutes)
        assert resolved(sessions, token).last_seen_at == START
    assert table.trips == ["read"] * 3

    clock.now = START + timedelta(hours=1)
    table.trips.clear()
    renewed = resolved(sessions, token)
    assert table.trips == ["read", "write 1"]
    assert (renewed.last_seen_at, renewed.idle_end) == (clock.now, clock.now + IDLE)
    row = table.get(user, session.key)
    assert row is not None
    assert row.get("last_seen_at") == clock.now

    clock.advance(minutes=59)
    table.trips.clear()
    resolved(sessions, token)
    assert table.trips == ["read"]


def test_a_renewal_that_finds_the_session_ended_since_the_read_is_signed_out(
    sessions: Sessions, table: CountingTable, clock: Clock
) -> None:
    user = a_user()
    token, session = sessions.start(user)
    clock.advance(hours=2)
    # Signed out on another device between this request's read and its renewal.
    table.after_read = lambda: Table.commit(table, user, [Remove(session.key)])
    assert sessions.resolve(token) is None
    # The renewal did not bring the row back.
    assert table.get(user, session.key) is None


def test_near_its_absolute_end_a_session_caps_its_tokens_at_what_it_has_left(
    sessions: Sessions, clock: Clock
) -> None:
    token, _ = sessions.start(a_user())
    for _ in range(29):
        clock.advance(days=1)
        resolved(sessions, token)
    # Seen a moment ago, so the idle end is a week off: the absolute end is what binds.
    clock.now = START + ABSOLUTE - timedelta(minutes=5)
    session = resolved(sessions, token)
    assert session.idle_end == clock.now + IDLE
    assert session.seconds_left(clock.now) == 300
    assert token_ttl(None, 3600, session.seconds_left(clock.now)) == 300


def test_an_idle_session_caps_its_tokens_at_its_idle_time_left(
    table: CountingTable, clock: Clock
) -> None:
    # The shortest idle lifetime (two hours) and the longest token cap (a day).
    sessions = Sessions(
        table, absolute=ABSOLUTE, idle=timedelta(hours=2), reauth_max_age=REAUTH, clock=clock
    )
    token, _ = sessions.start(a_user())
    clock.advance(minutes=59)  # not yet due for renewal
    session = resolved(sessions, token)
    assert session.last_seen_at == START
    assert session.seconds_left(clock.now) == 61 * 60
    assert token_ttl(86400, 86400, session.seconds_left(clock.now)) == 61 * 60


def test_a_row_written_before_renewal_existed_counts_from_its_creation(
    sessions: Sessions, table: CountingTable, clock: Clock
) -> None:
    user = a_user()
    token, session = sessions.start(user)
    old = table.get(user, session.key)
    assert old is not None
    legacy = {
        "secret_hash": old.text("secret_hash"),
        "created_at": START,
        "expires_at": START + timedelta(days=7),
    }
    Table.commit(table, user, [Remove(session.key)])
    Table.commit(table, user, [Insert(session.key, legacy)])
    found = resolved(sessions, token)
    assert (found.last_seen_at, found.signed_in_at, found.device) == (
        START,
        START,
        "Unknown device",
    )
    clock.now = START + IDLE
    assert sessions.resolve(token) is None


# --- what a session row holds ------------------------------------------------------------


def test_a_session_keeps_the_device_family_never_the_user_agent(
    sessions: Sessions, table: CountingTable
) -> None:
    user = a_user()
    token, session = sessions.start(user, user_agent=CHROME_ANDROID)
    row = table.get(user, session.key)
    assert row is not None
    assert row.get("device") == "Chrome on Android"
    assert set(row.data) == {
        "secret_hash",
        "created_at",
        "last_seen_at",
        "signed_in_at",
        "device",
    }
    stored = " ".join(str(value) for value in row.data.values())
    assert "Pixel" not in stored
    assert "537.36" not in stored
    assert token.split(".")[2] not in stored  # the secret itself is never stored
    assert resolved(sessions, token).device == "Chrome on Android"


def test_a_new_sign_in_removes_the_users_ended_sessions(
    sessions: Sessions, table: CountingTable, clock: Clock
) -> None:
    user = a_user()
    _, old = sessions.start(user)
    clock.advance(days=3)
    _, live = sessions.start(user)
    clock.advance(days=5)  # the first idled out, the second has two days left
    table.trips.clear()
    _, new = sessions.start(user)
    assert table.trips == ["query", "write 2"]  # the new one inserted, the old one removed
    keys = [row.key for row in table.rows(user, "session:")]
    assert sorted(keys) == sorted([live.key, new.key])
    assert old.key not in keys


# --- a fresh sign-in ---------------------------------------------------------------------


def test_a_sign_in_is_fresh_for_the_reauth_age_and_not_a_second_more(
    sessions: Sessions, clock: Clock
) -> None:
    token, _ = sessions.start(a_user())
    clock.advance(minutes=10)
    sessions.require_fresh(resolved(sessions, token))
    clock.advance(seconds=1)
    with pytest.raises(ReauthRequired, match="sign in again"):
        sessions.require_fresh(resolved(sessions, token))


def test_a_sign_in_dated_by_the_provider_is_as_fresh_as_the_provider_says(
    sessions: Sessions, clock: Clock
) -> None:
    # Single sign-on: the provider signed the person in 20 minutes ago, without asking.
    _, earlier = sessions.start(a_user(), signed_in_at=START - timedelta(minutes=20))
    with pytest.raises(ReauthRequired):
        sessions.require_fresh(earlier)
    # A provider clock ahead of ours is no fresher than now.
    _, ahead = sessions.start(a_user(), signed_in_at=START + timedelta(hours=1))
    assert ahead.signed_in_at == START


# --- listing, revoking one, signing out everywhere ----------------------------------------


def test_the_list_shows_live_sessions_most_recently_seen_first(
    sessions: Sessions, table: CountingTable, clock: Clock
) -> None:
    user, other = a_user(), a_user()
    _, first = sessions.start(user)
    clock.advance(days=2)
    _, second = sessions.start(user, user_agent=CHROME_ANDROID)
    sessions.start(other)
    clock.advance(days=1)
    _, third = sessions.start(user)
    clock.advance(days=5, hours=1)  # the first has idled out; the others are live
    table.trips.clear()
    listed = sessions.live_sessions(user)
    assert table.trips == ["query"]
    assert [s.session_id for s in listed] == [third.session_id, second.session_id]
    assert [s.device for s in listed] == ["Unknown device", "Chrome on Android"]
    assert first.session_id not in {s.session_id for s in listed}


def test_revoking_needs_the_id_of_one_of_your_own_sessions(
    sessions: Sessions, table: CountingTable
) -> None:
    alice, bob = a_user(), a_user()
    alice_token, alice_session = sessions.start(alice)
    bob_token, bob_session = sessions.start(bob)
    for wrong in (bob_session.session_id, "0" * 32, "not-an-id", "", "session:x"):
        with pytest.raises(SessionNotFound):
            sessions.revoke(alice, wrong)
    assert sessions.resolve(bob_token) is not None
    table.trips.clear()
    sessions.revoke(alice, alice_session.session_id)
    assert table.trips == ["read", "write 1"]
    assert sessions.resolve(alice_token) is None
    with pytest.raises(SessionNotFound):
        sessions.revoke(alice, alice_session.session_id)


def test_signing_out_everywhere_ends_every_session_in_transactions_of_at_most_100(
    sessions: Sessions, table: CountingTable, clock: Clock
) -> None:
    user, other = a_user(), a_user()
    tokens = [sessions.start(user)[0] for _ in range(150)]
    other_token, _ = sessions.start(other)
    table.trips.clear()
    assert sessions.end_all(user) == 150
    assert table.trips == ["query", "write 100", "write 50"]
    assert all(sessions.resolve(token) is None for token in tokens)
    assert list(table.rows(user, "session:")) == []
    assert sessions.resolve(other_token) is not None


def test_signing_out_everywhere_while_one_session_signs_out_on_its_own(
    sessions: Sessions, table: CountingTable
) -> None:
    user = a_user()
    started = [sessions.start(user)[1] for _ in range(3)]
    # Between the query and the deletes, one of them signs out by itself.
    table.after_read = lambda: Table.commit(table, user, [Remove(started[0].key)])
    table.trips.clear()
    assert sessions.end_all(user) == 2
    # The batch of three failed on the missing one, undone whole; listed again, then two.
    assert table.trips == ["query", "write 3", "query", "write 2"]
    assert list(table.rows(user, "session:")) == []
    assert table.get(user, session_key(started[1].session_id)) is None

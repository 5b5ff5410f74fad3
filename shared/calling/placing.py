"""Placing a call: recording it and taking the user's single active-call hold in the user's
partition of the accounts table, or refusing it with the CallRefused that says why (another
call in progress, a call already ended, a session ended, or what pricing refuses).

Placing a call is one transaction: the call row, the hold, its history row, and the balance
row rewritten with If-Match (unchanged but for the call velocity counted on it: calls this
hour, numbers and spend today, shared.limits.velocity), so that the time limit was computed
from the balance as it still is when the call is recorded (a refund landing meanwhile makes it
re-read). The call goes into the open-calls index (calling.open_calls) just before, and leaves
it after it is settled (shared.calling.settling). A retried voice webhook is answered with the
call its first delivery placed; a hold that outlived its call for hours gives way to a new
call.

The method that places is long because one loop handles every way the transaction can fail,
each on the row it failed on, so that the usual call costs one read and two writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.calling.errors import CallsBusy
from shared.calling.lifecycle import CallRecord, Hold
from shared.calling.open_calls import OpenCalls
from shared.calling.pricing import InsufficientCredit, PricedDestination, affordable_seconds
from shared.config import LimitSettings
from shared.errors import CallRefused
from shared.limits.velocity import admit
from shared.money.ledger import back_off, balance_from_row
from shared.storage.errors import RowChanged, RowExists
from shared.storage.keys import BALANCE_KEY, HOLD_KEY, call_history_key, call_key
from shared.storage.rows import Insert, Op, Replace, Row, Touch

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table

logger = logging.getLogger("ownnumber.calls")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AnotherCallActive(CallRefused):
    code = "call_in_progress"


class CallAlreadyEnded(CallRefused):
    code = "call_ended"


class SessionEnded(CallRefused):
    """The sign-in session the browser's token was minted for has ended (sign-out, expiry,
    account deletion): its token may place no more calls."""

    code = "session_ended"


@dataclass(frozen=True)
class Placement:
    record: CallRecord
    # True when Twilio asked again about a call already placed (a retried webhook).
    replayed: bool = False


@dataclass
class _Indexing:
    """Whether one delivery of the voice webhook put its call in the open-calls index."""

    tried: bool = False
    added: bool = False  # by this delivery, so it removes the row if the call is refused


@dataclass
class Placing:
    accounts: Table
    open_calls: OpenCalls
    currency: str
    reconcile_margin: timedelta
    clock: Callable[[], datetime]
    max_attempts: int = 30
    # Calls an hour, numbers and spend a day (shared.limits.velocity); None: no such limits.
    velocity: LimitSettings | None = None

    def place(
        self, user_id: str, call_sid: str, priced: PricedDestination, session: str
    ) -> Placement:
        """Record the call and take the user's hold, or raise the CallRefused saying why not.

        `session` is the key of the sign-in session whose token placed the call: the
        transaction requires that row, so a token outliving its session places nothing.
        Usually one read (the balance) and two writes (the open-calls index, then the account's
        transaction): a retried webhook, another call or a stale hold is read only once the
        transaction has failed on its row.
        """
        key = call_key(call_sid)
        indexing = _Indexing()
        try:
            return self._place(user_id, call_sid, key, priced, session, indexing)
        except CallRefused:
            if indexing.added:
                self.open_calls.remove(user_id, call_sid)
            raise

    def _place(
        self,
        user_id: str,
        call_sid: str,
        key: str,
        priced: PricedDestination,
        session: str,
        indexing: _Indexing,
    ) -> Placement:
        stale_hold_etag: str | None = None
        for attempt in range(self.max_attempts):
            balance_row = self.accounts.get(user_id, BALANCE_KEY)
            try:
                max_seconds = affordable_seconds(
                    balance_from_row(balance_row), priced.rate, self.currency
                )
                if balance_row is None:
                    # No balance row is a zero balance, which affordable_seconds refuses; this
                    # holds even if pricing ever let a zero balance through.
                    raise InsufficientCredit("You have no credit; add credit to make calls.")
                now = self.clock()
                # Counted on the balance row this transaction rewrites anyway: global, and no
                # round trip more. The time limit shrinks to what the day's spend has left.
                balance_data = dict(balance_row.data)
                if self.velocity is not None:
                    admitted = admit(
                        balance_row.data,
                        self.velocity,
                        user_id,
                        priced.destination.e164,
                        priced.rate,
                        max_seconds,
                        now,
                    )
                    balance_data.update(admitted.state.to_fields())
                    max_seconds = admitted.max_seconds
            except CallRefused:
                # Twilio asking again about a call placed before the balance moved: that call.
                replayed = self._replay(user_id, key)
                if replayed is None:
                    raise
                return replayed
            hold = Hold(call_sid, now, max_seconds)
            if not indexing.tried:
                indexing.added = self.open_calls.add(user_id, hold)
                indexing.tried = True
            record = CallRecord(
                call_sid=call_sid,
                user_id=user_id,
                to=priced.destination.e164,
                country=priced.destination.country,
                rate=priced.rate,
                max_seconds=max_seconds,
                started_at=now,
                history_key=call_history_key((now - _EPOCH) // timedelta(microseconds=1), call_sid),
            )
            data = record.to_data()
            hold_op: Op = (
                Insert(HOLD_KEY, hold.to_data())
                if stale_hold_etag is None
                else Replace(HOLD_KEY, hold.to_data(), stale_hold_etag)
            )
            try:
                self.accounts.commit(
                    user_id,
                    [
                        # The call first: a retried webhook fails on it, and is replayed.
                        Insert(key, data),
                        Touch(session, {"last_call_at": now}),
                        hold_op,
                        Insert(record.history_key, data),
                        Replace(BALANCE_KEY, balance_data, balance_row.etag),
                    ],
                )
                return Placement(record)
            except RowExists as conflict:
                if conflict.key == HOLD_KEY:
                    held = self.accounts.get(user_id, HOLD_KEY)
                    if held is None or held.text("call_sid") != call_sid:
                        stale_hold_etag = self._stale_hold_etag(held, now)
                        continue
                if conflict.key in (key, HOLD_KEY):
                    replayed = self._replay(user_id, key)
                    if replayed is not None:
                        return replayed
            except RowChanged as conflict:
                if conflict.key == session:
                    raise SessionEnded("You are signed out; sign in again to make calls.") from None
                if conflict.key == HOLD_KEY:
                    stale_hold_etag = None  # the stale hold was replaced or released meanwhile
            back_off(attempt)  # a racing call, report or post: look again
        raise CallsBusy(f"account {user_id} stayed busy while placing a call")

    def _replay(self, user_id: str, key: str) -> Placement | None:
        """The call as placed by an earlier delivery of its webhook, if there was one."""
        row = self.accounts.get(user_id, key)
        if row is None:
            return None
        record = CallRecord.from_row(row)
        if record.is_final:
            raise CallAlreadyEnded("This call has already ended.")
        return Placement(record, replayed=True)

    def _stale_hold_etag(self, row: Row | None, now: datetime) -> str | None:
        """The ETag of another call's hold, which may be replaced once stale (None: released
        meanwhile); AnotherCallActive while it is not."""
        if row is None:
            return None
        current = Hold.from_row(row)
        if not current.is_stale(now, self.reconcile_margin):
            raise AnotherCallActive(
                "You already have a call in progress; hang it up before starting another."
            )
        # Reconciliation could not settle that call for hours: let the user call again, and
        # leave the unsettled call for an operator (its row still says what is known).
        logger.error(
            "Replacing the stale hold of call %s, which was never settled", current.call_sid
        )
        return row.etag

"""Deleting an account (GDPR Art. 17), driven by the registry, idempotent and resumable.

A deletion is an ordered list of steps, recorded in its erasure row (ERASURES_TABLE, keyed by
the user id): the pseudonym the books go to, when it began, the last step done, the counts for
the answer. Every step is safe to repeat, so a deletion cut short anywhere and run again (by
the user retrying, or by the retention timer through `unfinished` and `resume`) ends in
exactly the state one that ran through does.

1. block: the balance row gets FLAG_ACCOUNT_CLOSING, written If-Match on the ETag read BEFORE
   the hold is looked at. Placing a call rewrites the balance row If-Match in the transaction
   that takes the hold, so of a call and a deletion racing, exactly one write wins: the call
   (our write fails, we re-read and see its hold: 409) or the deletion (the call's write fails,
   it re-reads the flag and is refused). Settling and refunds move no call onto closed books.
   The rows to erase are counted here, before anything goes.
2. caller_id: CallerIds.remove: Twilio's verified caller ID, then our ownership row and record.
3. payment_owners: each PaymentIntent's owner row points at the pseudonym, BEFORE the books
   move: a refund arriving meanwhile finds no payment there, asks Stripe, finds the user's
   account closing and is answered 503, and Stripe's redelivery finds the moved books.
4. books: the archive rows (kept_until), then every PSEUDONYMISE row of the user's partition is
   written, cut as the registry says, under the pseudonym, and removed; the balance row last,
   If-Match, so that a post that slipped in makes the move run again.
5. twilio_calls (DELETE_TWILIO_CALL_LOGS): a page of call sids is written to the erasure row,
   deleted at Twilio (404: gone already), then their call rows removed; until none is left.
6. erase: every ERASE kind of the registry, found as its `linked` says; the identity before
   the profile (the profile names it; a sign-in meanwhile then makes a new account).
7. sessions: every session, this late so that the user's own retry of a deletion cut short
   still has one (the balance flag already keeps the session's tokens from placing calls or
   buying credit).
8. sweep: the caller ID, the erase and the move once more, for anything the user's sessions
   wrote while they lasted (a consent, a verification started); with the sessions gone,
   nothing more can be written for this user. A deletion cut short here is finished by
   `resume` (the retention timer), since the user has no session left to retry with.
Then the erasure row goes, and the answer says what was erased and what is kept until when.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from shared.calling.lifecycle import Hold
from shared.money.errors import LedgerBusy
from shared.money.ledger import FLAG_ACCOUNT_CLOSING, back_off, balance_from_row
from shared.privacy.errors import CallInProgress
from shared.privacy.linked_rows import linked_rows
from shared.privacy.pseudonyms import kept_until, new_pseudonym, pseudonymised
from shared.privacy.registry import KINDS, Linked, OnDeletion, RecordKind, kind_named, kind_of
from shared.storage.errors import RowChanged, RowExists
from shared.storage.keys import (
    ACCOUNTS_TABLE,
    ARCHIVE_KEY,
    ARCHIVES_PARTITION,
    ARCHIVES_TABLE,
    BALANCE_KEY,
    CALL_PREFIX,
    ERASURE_KEY,
    ERASURES_TABLE,
    HOLD_KEY,
    PAYMENT_OWNER_KEY,
    PAYMENT_PREFIX,
    PAYMENTS_TABLE,
    PROFILE_KEY,
    call_key,
)
from shared.storage.rows import MAX_TRANSACTION_OPS, Insert, Op, Remove, Replace, Row, Touch

if TYPE_CHECKING:
    # Only types: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.callerid.caller_ids import CallerIds
    from shared.calling.calls_api import CallLogsApi
    from shared.identity.sessions import Sessions
    from shared.storage.table_store import Table

logger = logging.getLogger("ownnumber.erasure")

STEPS: tuple[str, ...] = (
    "block",
    "caller_id",
    "payment_owners",
    "books",
    "twilio_calls",
    "erase",
    "sessions",
    "sweep",
)
# Call rows deleted at Twilio per round (and written to the erasure row meanwhile): a page.
TWILIO_BATCH = 100
# The kinds the erase step leaves to others: sessions have a step of their own (7), the erasure
# row goes at the very end; caller IDs are removed by CallerIds first and swept here again.
_ERASED_LATER = frozenset({"session", "erasure"})
# Rows found through another row go before it: the caller ID's owner row through the caller
# ID record, the identity through the profile.
_FIRST = ("caller_id_owner", "identity", "profile")


class Tables(Protocol):
    def table(self, name: str) -> Table: ...


@dataclass(frozen=True)
class _State:
    pseudonym: str
    started_at: datetime
    step: str
    call_sids: tuple[str, ...]
    counts: dict[str, int]

    @classmethod
    def from_row(cls, row: Row) -> _State:
        started = row.get("started_at")
        return cls(
            pseudonym=row.text("pseudonym"),
            started_at=started if isinstance(started, datetime) else datetime.now(UTC),
            step=row.text("step"),
            call_sids=tuple(row.text("call_sids").split()),
            counts={str(k): int(v) for k, v in json.loads(row.text("counts") or "{}").items()},
        )

    def data(self) -> dict[str, Any]:
        return {
            "pseudonym": self.pseudonym,
            "started_at": self.started_at,
            "step": self.step,
            "call_sids": " ".join(self.call_sids),
            "counts": json.dumps(self.counts, separators=(",", ":"), sort_keys=True),
        }


@dataclass(frozen=True)
class Summary:
    """What a deletion did: each erased kind with how many rows, each kept kind with how many,
    why and until when, and whether Twilio's call logs were deleted."""

    erased: tuple[tuple[RecordKind, int], ...]
    kept: tuple[tuple[RecordKind, int], ...]
    kept_until: datetime | None
    twilio_call_logs_deleted: bool
    twilio_calls: int
    already_deleted: bool = False

    def to_json(self) -> dict[str, Any]:
        until = self.kept_until.date().isoformat() if self.kept_until else None
        return {
            "deleted": True,
            "already_deleted": self.already_deleted,
            "erased": [
                {"kind": kind.name, "title": kind.title, "count": count}
                for kind, count in self.erased
            ],
            "kept": [
                {
                    "kind": kind.name,
                    "title": kind.title,
                    "count": count,
                    "why": kind.deletion_note,
                    "kept_until": until,
                }
                for kind, count in self.kept
            ],
            "twilio_call_logs": {
                "deleted": self.twilio_call_logs_deleted,
                "count": self.twilio_calls,
            },
        }


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Erasure:
    tables: Tables
    caller_ids: CallerIds
    sessions: Sessions
    # None: DELETE_TWILIO_CALL_LOGS is off, and Twilio keeps its own call logs.
    call_logs: CallLogsApi | None
    retention_years: int
    reconcile_margin: timedelta
    clock: Callable[[], datetime] = field(default=_utc_now)
    max_attempts: int = 30

    # -- the front --

    def erase(self, user_id: str) -> Summary:
        """Deletes the account, or finishes deleting it; CallInProgress while a call is up."""
        row = self._erasures.get(user_id, ERASURE_KEY)
        if row is None:
            if self._accounts.get(user_id, PROFILE_KEY) is None:
                # Deleted already (a session that outlived it): nothing left but sessions.
                self.sessions.end_all(user_id)
                return Summary((), (), None, False, 0, already_deleted=True)
            self._refuse_during_call(user_id)  # before writing anything, the usual case
            row = self._begin(user_id)
        return self._run(user_id, _State.from_row(row))

    def resume(self, user_id: str) -> Summary | None:
        """Finishes a deletion cut short (the retention timer's part); None if there is none."""
        row = self._erasures.get(user_id, ERASURE_KEY)
        return self._run(user_id, _State.from_row(row)) if row else None

    def unfinished(self, older_than: datetime) -> list[str]:
        """The users whose deletion began at or before `older_than` and has not finished (the
        retention run passes now less a grace, so as not to race a request still running)."""
        found: list[str] = []
        continuation: str | None = None
        while True:
            page = self._erasures.scan(
                "started_at le @cutoff",
                {"cutoff": older_than},
                key_prefix=ERASURE_KEY,
                continuation=continuation,
            )
            found += [user_id for user_id, row in page.rows if row.key == ERASURE_KEY]
            continuation = page.continuation
            if not continuation:
                return found

    # -- the steps --

    def _begin(self, user_id: str) -> Row:
        state = _State(new_pseudonym(), self.clock(), "", (), {})
        try:
            self._erasures.commit(user_id, [Insert(ERASURE_KEY, state.data())])
        except RowExists:
            pass  # a parallel request began it: go on with its pseudonym
        row = self._erasures.get(user_id, ERASURE_KEY)
        if row is None:
            raise LedgerBusy("the deletion finished while it was starting")
        return row

    def _run(self, user_id: str, state: _State) -> Summary:
        steps: dict[str, Callable[[str, _State], _State]] = {
            "block": self._block,
            "caller_id": self._caller_id,
            "payment_owners": self._payment_owners,
            "books": self._books,
            "twilio_calls": self._twilio_calls,
            "erase": self._erase,
            "sessions": self._sessions,
            "sweep": self._sweep,
        }
        start = STEPS.index(state.step) + 1 if state.step in STEPS else 0
        for name in STEPS[start:]:
            state = steps[name](user_id, state)
            state = replace(state, step=name)
            self._record(user_id, state)
        summary = self._summary(state)
        self._remove_all(self._erasures, user_id, [ERASURE_KEY])
        logger.info("An account was deleted")  # no id: the log must not link it to anyone
        return summary

    def _block(self, user_id: str, state: _State) -> _State:
        for attempt in range(self.max_attempts):
            # The balance first, then the hold: a call placed after this read changes the
            # balance's ETag, so the write below fails and the next read sees its hold.
            balance_row = self._accounts.get(user_id, BALANCE_KEY)
            try:
                self._refuse_during_call(user_id)
            except CallInProgress:
                if not state.step:
                    # Nothing done yet: no deletion is left pending behind the refusal.
                    self._remove_all(self._erasures, user_id, [ERASURE_KEY])
                raise
            if balance_row is None:
                break  # no balance row places no call (and after the books moved, none is)
            flags = balance_from_row(balance_row).flags
            if FLAG_ACCOUNT_CLOSING in flags:
                break
            closing = ",".join(sorted(flags | {FLAG_ACCOUNT_CLOSING}))
            try:
                data = {**balance_row.data, "flags": closing}
                self._accounts.commit(user_id, [Replace(BALANCE_KEY, data, balance_row.etag)])
                break
            except RowChanged:
                back_off(attempt)
        else:
            raise LedgerBusy("the account stayed busy while its deletion began")
        counts = {kind.name: len(self._find(kind, user_id)) for kind in _erased_kinds()}
        return replace(state, counts=counts)

    def _caller_id(self, user_id: str, state: _State) -> _State:
        self.caller_ids.remove(user_id)
        return state

    def _payment_owners(self, user_id: str, state: _State) -> _State:
        owners = self.tables.table(PAYMENTS_TABLE)
        for row in self._accounts.rows(user_id, PAYMENT_PREFIX):
            pi = row.key.removeprefix(PAYMENT_PREFIX)
            owner = owners.get(pi, PAYMENT_OWNER_KEY)
            if owner is not None and owner.text("user_id") == state.pseudonym:
                continue
            if owner is not None and owner.text("user_id") != user_id:
                logger.error("PaymentIntent %s is owned by another account: left alone", pi)
                continue
            owners.commit(pi, [Replace(PAYMENT_OWNER_KEY, {"user_id": state.pseudonym})])
        return state

    def _books(self, user_id: str, state: _State) -> _State:
        until = kept_until(state.started_at, self.retention_years)
        # The archive row first: it is what makes the pseudonym's books take a late refund.
        self._accounts.commit(
            state.pseudonym,
            [Replace(ARCHIVE_KEY, {"erased_at": state.started_at, "kept_until": until})],
        )
        self.tables.table(ARCHIVES_TABLE).commit(
            ARCHIVES_PARTITION, [Replace(state.pseudonym, {"kept_until": until})]
        )
        self._move_books(user_id, state.pseudonym)
        return state

    def _sweep(self, user_id: str, state: _State) -> _State:
        self.caller_ids.remove(user_id)
        self._erase(user_id, state)
        self._move_books(user_id, state.pseudonym)
        return state

    def _twilio_calls(self, user_id: str, state: _State) -> _State:
        if self.call_logs is None:
            return state
        while True:
            if not state.call_sids:
                page = self._accounts.page(user_id, CALL_PREFIX, TWILIO_BATCH)
                if not page.rows:
                    return state
                sids: list[str] = []
                for row in page.rows:
                    # The dialled leg before its parent, in case deleting a parent takes more.
                    child = row.text("child_sid")
                    sids += [child] if child else []
                    sids.append(row.key.removeprefix(CALL_PREFIX))
                # Written before anything is deleted: a resumed deletion knows what it was at.
                state = replace(state, call_sids=tuple(sids))
                self._record(user_id, state)
            for sid in state.call_sids:
                self.call_logs.delete(sid)  # False: Twilio had forgotten it already
            keys = [call_key(sid) for sid in state.call_sids]
            self._remove_all(self._accounts, user_id, keys)
            state = replace(state, call_sids=())
            self._record(user_id, state)

    def _erase(self, user_id: str, state: _State) -> _State:
        for kind in _erased_kinds():
            if kind.name in _ERASED_LATER:
                continue
            table = self.tables.table(kind.table)
            by_partition: dict[str, list[str]] = {}
            for partition, key in self._find(kind, user_id):
                by_partition.setdefault(partition, []).append(key)
            for partition, keys in by_partition.items():
                self._remove_all(table, partition, keys)
        return state

    def _sessions(self, user_id: str, state: _State) -> _State:
        self.sessions.end_all(user_id)
        return state

    # -- finding a user's rows, as the registry says they are linked --

    def _find(self, kind: RecordKind, user_id: str) -> list[tuple[str, str]]:
        """(partition, RowKey) of every row of this kind that belongs to the user."""
        if kind.linked is Linked.USER:
            table = self.tables.table(kind.table)
            if not kind.prefix:
                row = table.get(user_id, kind.row_key)
                return [(user_id, kind.row_key)] if row else []
            return [
                (user_id, row.key)
                for row in table.rows(user_id, kind.row_key)
                if kind_of(kind.table, row.key) is kind
            ]
        return [
            (partition, row.key) for partition, row in linked_rows(kind, user_id, self.tables.table)
        ]

    # -- moving the books --

    def _move_books(self, user_id: str, pseudonym: str) -> None:
        """Every PSEUDONYMISE row of the user's partition, cut, under the pseudonym; the
        balance last and If-Match, so that anything posted meanwhile moves on the next pass."""
        balance_kind = kind_named("balance")
        kinds = [k for k in _book_kinds() if k is not balance_kind]
        calls: dict[str, Row | None] = {}

        def call_of(sid: str) -> Row | None:
            if sid not in calls:
                calls[sid] = self._accounts.get(user_id, call_key(sid))
            return calls[sid]

        for attempt in range(self.max_attempts):
            balance = self._accounts.get(user_id, BALANCE_KEY)
            rows = [
                (kind, row)
                for kind in kinds
                for row in self._accounts.rows(user_id, kind.row_key)
                if kind_of(ACCOUNTS_TABLE, row.key) is kind
            ]
            if not rows and balance is None:
                return
            writes: list[Op] = [
                Replace(row.key, pseudonymised(kind, row, call_of)) for kind, row in rows
            ]
            if balance is not None and self._newer_than_kept(pseudonym, balance):
                writes.append(Replace(BALANCE_KEY, pseudonymised(balance_kind, balance, call_of)))
            for batch in _batches(writes):
                self._accounts.commit(pseudonym, batch)
            self._remove_all(self._accounts, user_id, [row.key for _, row in rows])
            if balance is None:
                return
            try:
                self._accounts.commit(user_id, [Remove(BALANCE_KEY, balance.etag)])
                return
            except RowChanged:
                back_off(attempt)  # a post slipped in: move what it wrote too
        raise LedgerBusy("the account's books stayed busy while they moved")

    def _newer_than_kept(self, pseudonym: str, balance: Row) -> bool:
        """Whether the user's balance row is at least as far on as the pseudonym's: a resumed
        move writes it again; a late refund posted to the moved books is never overwritten."""
        kept = self._accounts.get(pseudonym, BALANCE_KEY)
        return kept is None or kept.integer("seq") <= balance.integer("seq")

    # -- the answer --

    def _summary(self, state: _State) -> Summary:
        erased = tuple((kind, state.counts.get(kind.name, 0)) for kind in _erased_kinds())
        payments = len(list(self._accounts.rows(state.pseudonym, PAYMENT_PREFIX)))
        kept: list[tuple[RecordKind, int]] = []
        for kind in KINDS:
            if kind.deletion is not OnDeletion.PSEUDONYMISE:
                continue
            if kind.linked is Linked.USER:
                count = len(self._find(kind, state.pseudonym))
            else:
                count = payments  # one owner row per payment, pointing at the pseudonym
            kept.append((kind, count))
        logs = self.call_logs is not None
        return Summary(
            erased=erased,
            kept=tuple(kept),
            kept_until=kept_until(state.started_at, self.retention_years),
            twilio_call_logs_deleted=logs,
            twilio_calls=state.counts.get("call", 0) if logs else 0,
        )

    # -- storage --

    @property
    def _accounts(self) -> Table:
        return self.tables.table(ACCOUNTS_TABLE)

    @property
    def _erasures(self) -> Table:
        return self.tables.table(ERASURES_TABLE)

    def _refuse_during_call(self, user_id: str) -> None:
        hold = self._accounts.get(user_id, HOLD_KEY)
        if hold is not None and not Hold.from_row(hold).is_stale(
            self.clock(), self.reconcile_margin
        ):
            raise CallInProgress(
                "Hang up first: a call is in progress on this account. Delete it once the "
                "call has ended."
            )

    def _record(self, user_id: str, state: _State) -> None:
        try:
            self._erasures.commit(user_id, [Touch(ERASURE_KEY, state.data())])
        except RowChanged:
            pass  # a parallel run finished it; every step of this one was a repeat

    def _remove_all(self, table: Table, partition: str, keys: Iterable[str]) -> None:
        """Removes the rows, those gone already included: batches of 100 in one transaction
        each, or one by one (a lone delete of a missing row is no error) when one was gone."""
        for batch in _batches([Remove(key) for key in keys]):
            try:
                table.commit(partition, batch)
            except RowChanged:
                for op in batch:
                    table.commit(partition, [op])


def _erased_kinds() -> list[RecordKind]:
    """The ERASE kinds, each row that names another before the one it names."""
    kinds = [k for k in KINDS if k.deletion is OnDeletion.ERASE and k.name != "erasure"]
    return sorted(kinds, key=lambda k: _FIRST.index(k.name) if k.name in _FIRST else len(_FIRST))


def _book_kinds() -> list[RecordKind]:
    return [
        k
        for k in KINDS
        if k.deletion is OnDeletion.PSEUDONYMISE
        and k.linked is Linked.USER
        and k.table == ACCOUNTS_TABLE
    ]


def _batches(ops: Sequence[Op]) -> Iterable[list[Op]]:
    for start in range(0, len(ops), MAX_TRANSACTION_OPS):
        yield list(ops[start : start + MAX_TRANSACTION_OPS])

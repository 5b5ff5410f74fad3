"""The account ledger: every change of balance is an entry, applied exactly once.

`post` writes, in ONE entity-group transaction of the user's partition:
- the ledger entry, keyed by the id of the event that caused it (created: a redelivered
  event fails here and is reported as already applied);
- a journal row, keyed by the account's next sequence number, so history lists newest first;
- the balance row, replaced with If-Match on the ETag it was read with;
- whatever else the caller must change atomically with the money (a call record, a hold).

A stale ETag means another post won the race: re-read and try again, a bounded number of
times. The invariant this keeps: balance == sum of ledger amounts, no event twice, none lost.

`post_planned` is for an entry whose amount follows from rows read on each attempt (a
refund's share of what is left of its payment's credit): the entry is looked up first, so a
redelivery is already applied whatever the amount would be now.

It is long because posting, retrying on a stale ETag, recognising a redelivery and reading
entries back must agree on one row layout; split, they could drift apart.
"""

from __future__ import annotations

import json
import random
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from shared import deadline
from shared.money.errors import EntryIdReused, LedgerBusy
from shared.storage.errors import RowChanged, RowExists
from shared.storage.keys import (
    BALANCE_KEY,
    JOURNAL_PREFIX,
    LEDGER_PREFIX,
    journal_key,
    ledger_key,
)
from shared.storage.rows import Insert, Op, Page, Replace, Row, Value

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table

Details = Mapping[str, str | int]

# An account flag, kept on the balance row: a payment is disputed, so no new calls until the
# dispute closes. Set and cleared in the same write as the dispute's ledger entries.
FLAG_PAYMENT_DISPUTED = "payment_disputed"
# The account is being deleted (shared.privacy.erasure): no new calls. Set by the deletion's
# first write, on the balance row, which placing a call rewrites with If-Match: a call placed
# meanwhile makes one of the two writes fail and re-read, so no call starts on closed books.
FLAG_ACCOUNT_CLOSING = "account_closing"
# A field of the balance row, true once a purchase has been credited: the account is no longer
# new (shared.limits.purchases). Written by the ledger in the write of every CREDIT_PURCHASE.
HAS_PURCHASED = "has_purchased"


class EntryKind(StrEnum):
    """Why the balance changed: one reason code per entry."""

    CREDIT_PURCHASE = "credit_purchase"
    CALL_CHARGE = "call_charge"
    REFUND = "refund"
    DISPUTE = "dispute"
    DISPUTE_REVERSAL = "dispute_reversal"
    REFUND_REVERSAL = "refund_reversal"  # a refund failed: its money never left
    ADJUSTMENT = "adjustment"


class PostStatus(StrEnum):
    APPLIED = "applied"
    ALREADY_APPLIED = "already_applied"


@dataclass(frozen=True)
class Balance:
    micros: int
    seq: int
    etag: str | None  # None: the balance row does not exist yet (an empty account)
    flags: frozenset[str] = frozenset()
    # The row's other fields, which the ledger does not own (shared.limits' counters: calls
    # this hour, spend today): every post carries them through unchanged, so that a credit
    # landing during a call does not reset them.
    extra: Mapping[str, Value] = field(default_factory=dict)


# The balance row's fields that the ledger writes itself; any other is carried in `extra`.
_OWN_FIELDS = frozenset({"micros", "seq", "flags"})
# Changes the balance row's other fields in the same write as an entry (a call's settlement
# gives back what its reservation counted against the day's spend).
ExtraChange = Callable[[Mapping[str, Value]], Mapping[str, Value]]


@dataclass(frozen=True)
class LedgerEntry:
    entry_id: str
    amount_micros: int
    kind: EntryKind
    details: Details
    created_at: datetime
    seq: int
    balance_after_micros: int


@dataclass(frozen=True)
class PostResult:
    status: PostStatus
    entry: LedgerEntry


@dataclass(frozen=True)
class EntriesPage:
    entries: list[LedgerEntry]
    continuation: str | None


# Extra operations for the same transaction. A callable is called again on every attempt so
# that it can re-read what it conditions on (a hold's ETag, say).
ExtraOps = Sequence[Op] | Callable[[Balance], Sequence[Op]]


@dataclass(frozen=True)
class Planned:
    """An entry's amount and the writes that go with it, decided from rows read in one attempt.

    The writes must condition on those rows (Replace with the ETag read, or Insert), so that
    the amount commits only with the state it was computed from.
    """

    amount_micros: int
    also: Sequence[Op] = ()


Decide = Callable[[Balance], tuple[int, Sequence[Op]]]


# Enough stripes that accounts seldom share one: a lock held by one account's post makes any
# other account on its stripe wait. With 64, 16 busy accounts shared a stripe in 9 runs of
# 10 (the birthday problem); with 4,096, in about 3 of 100. A few hundred KB per process.
_LOCK_STRIPES = 4096


@dataclass
class Ledger:
    accounts: Table
    max_attempts: int = 100
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Posts to one account from threads of this process take turns: the ETag still guards
    # against other processes and instances, but threads here no longer burn round trips
    # losing races to each other (20 threads on one account: ~7x the throughput).
    _locks: tuple[threading.Lock, ...] = field(
        default_factory=lambda: tuple(threading.Lock() for _ in range(_LOCK_STRIPES)), repr=False
    )

    def _lock(self, user_id: str) -> threading.Lock:
        return self._locks[zlib.crc32(user_id.encode()) % _LOCK_STRIPES]

    def balance(self, user_id: str) -> Balance:
        return balance_from_row(self.accounts.get(user_id, BALANCE_KEY))

    def post(
        self,
        user_id: str,
        entry_id: str,
        amount_micros: int,
        kind: EntryKind,
        details: Details | None = None,
        *,
        also: ExtraOps = (),
        flags: Callable[[frozenset[str]], frozenset[str]] | None = None,
        extra: ExtraChange | None = None,
        read: Balance | None = None,
    ) -> PostResult:
        """Apply the entry once. `flags` may change the account's flags in the same write,
        `extra` the balance row's other fields.

        `read` is the balance as the caller just read it (with the other rows its decision
        needed, in one round trip): the first attempt writes on it rather than reading it
        again, and a stale one costs what any lost race costs, one more attempt.
        """
        _check_amount(amount_micros)

        def decide(current: Balance) -> tuple[int, Sequence[Op]]:
            return amount_micros, list(also(current) if callable(also) else also)

        with deadline.holding(self._lock(user_id)):
            return self._post(
                user_id,
                entry_id,
                kind,
                details,
                decide,
                flags,
                look_first=False,
                change_extra=extra,
                read=read,
            )

    def post_planned(
        self,
        user_id: str,
        entry_id: str,
        kind: EntryKind,
        details: Details | None,
        plan: Callable[[Balance], Planned],
        *,
        flags: Callable[[frozenset[str]], frozenset[str]] | None = None,
    ) -> PostResult:
        """Apply the entry once, its amount and writes decided by `plan` on every attempt.

        An entry already there is ALREADY_APPLIED with the amount it was applied with: the
        amount `plan` would decide now, from later state, is never compared with it. The same
        id for another kind is still EntryIdReused.
        """

        def decide(current: Balance) -> tuple[int, Sequence[Op]]:
            planned = plan(current)
            _check_amount(planned.amount_micros)
            return planned.amount_micros, planned.also

        with deadline.holding(self._lock(user_id)):
            return self._post(user_id, entry_id, kind, details, decide, flags, look_first=True)

    def entry(self, user_id: str, entry_id: str) -> LedgerEntry | None:
        """The entry posted under this event id, if any."""
        row = self.accounts.get(user_id, ledger_key(entry_id))
        return entry_from_row(row) if row else None

    def _post(
        self,
        user_id: str,
        entry_id: str,
        kind: EntryKind,
        details: Details | None,
        decide: Decide,
        flags: Callable[[frozenset[str]], frozenset[str]] | None,
        look_first: bool,
        change_extra: ExtraChange | None = None,
        read: Balance | None = None,
    ) -> PostResult:
        key = ledger_key(entry_id)
        for attempt in range(self.max_attempts):
            if look_first:
                existing = self.accounts.get(user_id, key)
                if existing is not None:
                    return PostResult(PostStatus.ALREADY_APPLIED, _same_kind(existing, kind))
            current = read if read is not None and attempt == 0 else self.balance(user_id)
            amount_micros, extra = decide(current)
            entry = LedgerEntry(
                entry_id=entry_id,
                amount_micros=amount_micros,
                kind=kind,
                details=dict(details or {}),
                created_at=self.clock(),
                seq=current.seq + 1,
                balance_after_micros=current.micros + amount_micros,
            )
            new_flags = flags(current.flags) if flags else current.flags
            new_extra = change_extra(current.extra) if change_extra else current.extra
            if kind is EntryKind.CREDIT_PURCHASE:
                # A new account's limits (its first purchase's size) end with its first credit.
                new_extra = {**new_extra, HAS_PURCHASED: True}
            ops: list[Op] = [
                Insert(key, _entry_data(entry)),
                Insert(journal_key(entry.seq), {"entry_id": entry_id, **_entry_data(entry)}),
                _balance_write(entry, current, new_flags, new_extra),
                *extra,
            ]
            try:
                self.accounts.commit(user_id, ops)
                return PostResult(PostStatus.APPLIED, entry)
            except RowExists as conflict:
                # When looking first, the next attempt finds the entry if that is what exists.
                existing = (
                    self.accounts.get(user_id, key)
                    if conflict.key == key and not look_first
                    else None
                )
                if existing is not None:
                    return PostResult(
                        PostStatus.ALREADY_APPLIED, _same_entry(existing, amount_micros, kind)
                    )
            except RowChanged:
                pass
            back_off(attempt)
        raise LedgerBusy(f"account {user_id} stayed busy for {self.max_attempts} attempts")

    def set_flags(
        self,
        user_id: str,
        change: Callable[[frozenset[str]], frozenset[str]],
        *,
        also: ExtraOps = (),
    ) -> bool:
        """Change account flags (e.g. a dispute hold) without moving money.

        `also` is written in the same transaction, as with `post`. The balance row is
        rewritten (If-Match) whenever anything is, so a racing writer of the flags or the
        balance makes this attempt fail and try again. True if anything changed.
        """
        with deadline.holding(self._lock(user_id)):
            for attempt in range(self.max_attempts):
                current = self.balance(user_id)
                new_flags = change(current.flags)
                extra = list(also(current) if callable(also) else also)
                if new_flags == current.flags and not extra:
                    return False
                data = _balance_data(current.micros, current.seq, new_flags, current.extra)
                op: Op = (
                    Insert(BALANCE_KEY, data)
                    if current.etag is None
                    else Replace(BALANCE_KEY, data, current.etag)
                )
                try:
                    self.accounts.commit(user_id, [op, *extra])
                    return True
                except (RowExists, RowChanged):
                    back_off(attempt)
        raise LedgerBusy(f"account {user_id} stayed busy for {self.max_attempts} attempts")

    def entries(
        self, user_id: str, limit: int = 50, continuation: str | None = None
    ) -> EntriesPage:
        """The account's entries, newest first."""
        page: Page = self.accounts.page(user_id, JOURNAL_PREFIX, limit, continuation)
        return EntriesPage([entry_from_row(row) for row in page.rows], page.continuation)

    def all_entries(self, user_id: str) -> list[LedgerEntry]:
        """Every entry by its event id (the rows that carry the idempotency)."""
        return [entry_from_row(row) for row in self.accounts.rows(user_id, LEDGER_PREFIX)]


def balance_from_row(row: Row | None) -> Balance:
    if row is None:
        return Balance(micros=0, seq=0, etag=None)
    flags = frozenset(f for f in row.text("flags").split(",") if f)
    extra = {name: value for name, value in row.data.items() if name not in _OWN_FIELDS}
    return Balance(row.integer("micros"), row.integer("seq"), row.etag, flags, extra)


def opening_balance_op() -> Insert:
    """The balance row of a new account: zero, nothing posted yet."""
    return Insert(BALANCE_KEY, _balance_data(0, 0, frozenset(), {}))


def extra_fields_op(current: Balance, extra: Mapping[str, Value]) -> Op:
    """The balance row as read, but for its other fields (`extra`): money, sequence and flags
    unchanged, conditioned on the ETag read, for a transaction that counts a limit on it."""
    data = _balance_data(current.micros, current.seq, current.flags, extra)
    if current.etag is None:
        return Insert(BALANCE_KEY, data)
    return Replace(BALANCE_KEY, data, current.etag)


def entry_from_row(row: Row) -> LedgerEntry:
    created = row.get("created_at")
    return LedgerEntry(
        entry_id=row.text("entry_id") or row.key.removeprefix(LEDGER_PREFIX),
        amount_micros=row.integer("amount_micros"),
        kind=EntryKind(row.text("kind")),
        details=json.loads(row.text("details") or "{}"),
        created_at=created if isinstance(created, datetime) else datetime.min.replace(tzinfo=UTC),
        seq=row.integer("seq"),
        balance_after_micros=row.integer("balance_after_micros"),
    )


def _same_entry(row: Row, amount_micros: int, kind: EntryKind) -> LedgerEntry:
    entry = entry_from_row(row)
    if entry.amount_micros != amount_micros or entry.kind is not kind:
        raise EntryIdReused(
            f"entry {entry.entry_id} was applied as {entry.kind.value} {entry.amount_micros}, "
            f"not {kind.value} {amount_micros}"
        )
    return entry


def _same_kind(row: Row, kind: EntryKind) -> LedgerEntry:
    entry = entry_from_row(row)
    if entry.kind is not kind:
        raise EntryIdReused(
            f"entry {entry.entry_id} was applied as {entry.kind.value}, not {kind.value}"
        )
    return entry


def _check_amount(amount_micros: object) -> None:
    if isinstance(amount_micros, bool) or not isinstance(amount_micros, int):
        raise TypeError("amounts are integer micros")


def _entry_data(entry: LedgerEntry) -> dict[str, str | int | datetime]:
    return {
        "amount_micros": entry.amount_micros,
        "kind": entry.kind.value,
        "details": json.dumps(dict(entry.details), separators=(",", ":"), sort_keys=True),
        "created_at": entry.created_at,
        "seq": entry.seq,
        "balance_after_micros": entry.balance_after_micros,
    }


def _balance_data(
    micros: int, seq: int, flags: frozenset[str], extra: Mapping[str, Value]
) -> dict[str, Value]:
    return {**extra, "micros": micros, "seq": seq, "flags": ",".join(sorted(flags))}


def _balance_write(
    entry: LedgerEntry, current: Balance, flags: frozenset[str], extra: Mapping[str, Value]
) -> Op:
    data = _balance_data(entry.balance_after_micros, entry.seq, flags, extra)
    if current.etag is None:
        return Insert(BALANCE_KEY, data)
    return Replace(BALANCE_KEY, data, current.etag)


def back_off(attempt: int) -> None:
    """Waits before another attempt at a write that lost a race (ETag or create conflict).

    Jittered so that racing writers of one account stop colliding in lock-step; at most 50 ms.
    """
    time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))

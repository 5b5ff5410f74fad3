"""A page of the ledger, each entry joined with its call or its card, in few round trips.

The page is one query of the journal (shared.money.ledger); the call rows and payment records
its entries name are then read together, by point reads in parallel (Table.get_many), never
one entry at a time. A call charge names its call (details `call_sid`, the parent call's row
`call:<sid>`, see shared.calling.settling); a purchase, refund or dispute names its
PaymentIntent (details `payment_intent`, the record `payment:<pi>`). Both live in the user's
partition, so nothing of anyone else's can be read here.

A call row erased under the privacy rules, or a payment record without a card, leaves that
part of the line empty (None): the ledger entry, which accounting keeps, says the rest.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.calling.lifecycle import CallRecord
from shared.calling.number_formats import international
from shared.credit.payment_records import payment_from_row
from shared.credit.stripe_events import Card
from shared.money.ledger import EntryKind, Ledger, LedgerEntry
from shared.storage.keys import call_key, is_valid_entry_id, payment_key
from shared.storage.rows import Row

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table


@dataclass(frozen=True)
class CallLine:
    """The call a charge was for, as its own call row tells it."""

    to: str  # E.164
    formatted: str  # international format, or `to` when it cannot be formatted
    duration_seconds: int
    billed_seconds: int
    destination: str  # the rate deck's description, "United Kingdom landline"
    country: str  # ISO alpha-2, or "" for a non-geographic number


@dataclass(frozen=True)
class StatementLine:
    entry: LedgerEntry
    call: CallLine | None  # call charges whose call row still exists
    card: Card | None  # entries of a payment whose record knows its card


@dataclass(frozen=True)
class StatementPage:
    lines: list[StatementLine]
    continuation: str | None


@dataclass
class Statement:
    ledger: Ledger
    accounts: Table

    def page(self, user_id: str, limit: int, continuation: str | None = None) -> StatementPage:
        """The user's ledger, newest first, one page, each entry with its call or card."""
        page = self.ledger.entries(user_id, limit, continuation)
        keys = [key for entry in page.entries for key in _keys_of(entry)]
        rows = self.accounts.get_many(user_id, keys) if keys else {}
        return StatementPage([line(entry, rows) for entry in page.entries], page.continuation)


def line(entry: LedgerEntry, rows: Mapping[str, Row]) -> StatementLine:
    """The entry with what the rows read for it say (rows by RowKey; missing ones are gone)."""
    call = None
    key = _call_key(entry)
    record = _call_record(rows[key]) if key is not None and key in rows else None
    if record is not None:
        call = CallLine(
            to=record.to,
            formatted=international(record.to),
            duration_seconds=record.duration_seconds,
            billed_seconds=record.billed_seconds,
            destination=record.description,
            country=record.country,
        )
    card = None
    key = _payment_key(entry)
    if key is not None and key in rows:
        card = payment_from_row(rows[key]).card
    return StatementLine(entry, call, card)


def _call_record(row: Row) -> CallRecord | None:
    try:
        return CallRecord.from_row(row)
    except ValueError:
        return None  # a damaged row: the entry is still told, without its call


def _keys_of(entry: LedgerEntry) -> Iterator[str]:
    for key in (_call_key(entry), _payment_key(entry)):
        if key is not None:
            yield key


def _call_key(entry: LedgerEntry) -> str | None:
    sid = entry.details.get("call_sid")
    if entry.kind is not EntryKind.CALL_CHARGE or not isinstance(sid, str):
        return None
    return call_key(sid) if is_valid_entry_id(sid) else None


def _payment_key(entry: LedgerEntry) -> str | None:
    pi = entry.details.get("payment_intent")
    if not isinstance(pi, str) or not is_valid_entry_id(pi):
        return None
    return payment_key(pi)

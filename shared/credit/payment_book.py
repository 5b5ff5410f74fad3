"""The payment book: what purchases, refunds and disputes all do with a payment's rows.

Each payment has a record (payment:pi_…) in the user's partition, written in the same
transaction as its ledger entries: Stripe references, amounts, status, and the card's brand
and last four digits for the receipt, never a card number. The book reads those records (and
the checkouts'), writes them with a ledger entry or alone, and posts the entries that take
credit back.

What refunds and chargebacks take back is exactly proportional to the money that went back.
The payment's record keeps what went back (refunded plus charged back, net of refunds that
failed and disputes won) and the credit taken back so far, which is always
floor(credit x returned / paid) (shared/money/micros.py credit_taken_back); each entry moves the
difference its event makes to that figure, in the same transaction as the record (If-Match).
So a payment's entries add up to exactly that figure in any order and mix of events, and to
exactly its whole credit once the whole payment went back. An entry's amount depends on what
came before it, so a redelivery is recognised by its entry, looked up before anything is
computed (Ledger.post_planned), never recomputed from newer state.

A refund or dispute finds the user and the pack's credit from our own records when the
purchase was already seen, and otherwise from the PaymentIntent's metadata, which
`/api/checkout` set ({user_id, pack, credit_micros}). So a refund that arrives before its
purchase still debits the right account, and the later credit makes the balance right.

"Paid" is what the payment paid in our currency, which is the pack's price: a purchase is
credited only then (credit.sold), and a PaymentIntent that paid anything else is taken as the
refused payment it is. A refused payment granted no credit, so what goes back of it takes
none back: its entries are of 0, which keep each refund and dispute applied once, and its
record counts the money that went back, for the operator and the receipt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from shared.config import CreditPack
from shared.credit.errors import AccountBusy, PaymentInconsistent
from shared.credit.outcome import Outcome
from shared.credit.payment_records import (
    CheckoutRecord,
    PaymentRecord,
    checkout_from_row,
    payment_data,
    payment_from_row,
)
from shared.credit.provider import PaymentProvider
from shared.credit.sold import Price, Refusal, price_sold, refusal
from shared.credit.stripe_events import Purchase, Return, Reversal
from shared.money.ledger import (
    FLAG_ACCOUNT_CLOSING,
    Balance,
    EntryKind,
    Ledger,
    Planned,
    PostResult,
    PostStatus,
    back_off,
    balance_from_row,
)
from shared.storage.errors import RowChanged, RowExists
from shared.storage.keys import (
    ARCHIVE_KEY,
    BALANCE_KEY,
    PAYMENT_OWNER_KEY,
    PAYMENT_PREFIX,
    PROFILE_KEY,
    checkout_key,
    payment_key,
)
from shared.storage.rows import Insert, Op, Replace, Row, Value

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table

# One logger for the whole payments service, whichever module speaks.
logger = logging.getLogger("ownnumber.payments")

RecordChange = Callable[[PaymentRecord], PaymentRecord]
RowBuild = Callable[[Row | None], dict[str, Value]]
FlagsChange = Callable[[frozenset[str]], frozenset[str]]


@dataclass(frozen=True)
class AccountRead:
    """An account's rows read at once (one round trip): whether it exists, its balance, and
    the rows an event's decision needs, by key (None: not there)."""

    profile: Row | None
    balance: Balance
    rows: Mapping[str, Row | None]


@dataclass
class PaymentBook:
    ledger: Ledger
    accounts: Table
    owners: Table  # PAYMENTS_TABLE: PaymentIntent id -> user id
    provider: PaymentProvider
    clock: Callable[[], datetime]
    max_attempts: int
    packs: tuple[CreditPack, ...]
    currency: str  # the deployment's CURRENCY: every credit is in it

    # -- reading --

    def payment(self, user_id: str, pi: str) -> PaymentRecord | None:
        row = self.accounts.get(user_id, payment_key(pi))
        return payment_from_row(row) if row else None

    def payments(self, user_id: str) -> dict[str, PaymentRecord]:
        """Every payment record of the account, by its RowKey."""
        return {
            row.key: payment_from_row(row) for row in self.accounts.rows(user_id, PAYMENT_PREFIX)
        }

    def checkout(self, user_id: str, session_id: str) -> CheckoutRecord | None:
        row = self.accounts.get(user_id, checkout_key(session_id))
        return checkout_from_row(row) if row else None

    def read_account(self, user_id: str, keys: Iterable[str]) -> AccountRead:
        """The profile, the balance and the rows under `keys`, read together."""
        wanted = tuple(keys)
        found = self.accounts.get_many(user_id, (PROFILE_KEY, BALANCE_KEY, *wanted))
        return AccountRead(
            found.get(PROFILE_KEY),
            balance_from_row(found.get(BALANCE_KEY)),
            {key: found.get(key) for key in wanted},
        )

    def account_exists(self, user_id: str, about: str, read: AccountRead | None = None) -> bool:
        """Whether money may be posted to these books: an account's, or a deleted account's
        pseudonymised books (their archive row), so that a late refund or dispute still lands
        exactly. An account being deleted is busy (503, Stripe redelivers): its books are
        moving, and the redelivery finds them where they went."""
        profile = read.profile if read is not None else self.accounts.get(user_id, PROFILE_KEY)
        if profile is not None:
            balance = read.balance if read is not None else self.ledger.balance(user_id)
            if FLAG_ACCOUNT_CLOSING in balance.flags:
                raise AccountBusy(f"the account of {about} is being deleted")
            return True
        if self.accounts.get(user_id, ARCHIVE_KEY) is not None:
            return True
        # Answered 200 all the same: Stripe would otherwise redeliver it for days.
        logger.warning("Stripe event about %s names an unknown account: nothing changed", about)
        return False

    # -- what was sold --

    def refusal_of(self, purchase: Purchase, checkout: CheckoutRecord | None) -> Refusal | None:
        """Why this payment may not be credited (credit.sold), or None: it paid the price."""
        sold = price_sold(purchase.pack, self.packs, self.currency, checkout)
        return refusal(Price(purchase.amount_minor, purchase.currency), sold, self.currency)

    # -- finding the purchase --

    def purchase_of(self, reversal: Reversal) -> Purchase | None:
        """Who bought what with the reversed payment: our records first, then Stripe's."""
        pi = reversal.payment_intent
        purchase = self._recorded_purchase(pi)
        asked = purchase is None
        if asked:
            info = self.provider.payment_intent(pi)
            purchase = info.purchase if info else None
            if purchase is not None:
                purchase = self._as_sold(purchase, reversal)
        if purchase is None:
            logger.warning("%s is about %s, not one of our purchases: ignored", reversal.id, pi)
            return None
        if reversal.currency and reversal.currency != purchase.currency and purchase.refused:
            # Not credited, so there is nothing to take back, and nothing worth a retry.
            logger.warning(
                "%s is in %s but its refused payment %s was in %s: nothing to take back",
                reversal.id,
                reversal.currency,
                pi,
                purchase.currency,
            )
            return None
        # A refund or dispute is in its charge's currency, which is the purchase's: anything
        # else means our record or Stripe's is wrong, and a share of it would be a guess.
        if reversal.currency and reversal.currency != purchase.currency:
            logger.error(
                "%s is in %s but its payment %s is in %s",
                reversal.id,
                reversal.currency,
                pi,
                purchase.currency,
            )
            raise PaymentInconsistent(f"{reversal.id} is not in the currency of {pi}.")
        if not self.account_exists(purchase.user_id, reversal.id):
            return None
        if asked:
            self.remember_owner(pi, purchase.user_id)  # later events need not ask Stripe
        return purchase

    def _as_sold(self, purchase: Purchase, reversal: Reversal) -> Purchase:
        """Stripe's PaymentIntent, credited as its completion will be: not at all unless it
        paid the price in our currency (and then its completion is refused too)."""
        refused = self.refusal_of(purchase, None)
        if refused is None:
            return purchase
        logger.warning(
            "%s is about %s, which paid %s for pack %r sold at %s: it credits nothing, so "
            "nothing is taken back",
            reversal.id,
            reversal.payment_intent,
            refused.received,
            purchase.pack,
            refused.expected_text,
        )
        return purchase.refuse(refused.reason)

    def _recorded_purchase(self, pi: str) -> Purchase | None:
        owner = self.owners.get(pi, PAYMENT_OWNER_KEY)
        if owner is None:
            return None
        user_id = owner.text("user_id")
        record = self.payment(user_id, pi)
        return record.purchase(user_id) if record else None

    def remember_owner(self, pi: str, user_id: str) -> None:
        self.owners.commit(pi, [Replace(PAYMENT_OWNER_KEY, {"user_id": user_id})])

    # -- taking credit back --

    def take_back(
        self,
        purchase: Purchase,
        pi: str,
        step: Return,
        details: Mapping[str, str],
        status: RecordChange,
        flags: FlagsChange | None = None,
    ) -> Outcome:
        """One entry of a refund or dispute: the credit it takes back (or gives back) is the
        difference its money makes to the payment's credit taken back, read with the record
        on each attempt and written with it, If-Match, so no other entry slips in between."""
        user, key = purchase.user_id, payment_key(pi)
        if step.only_after and self.ledger.entry(user, step.only_after) is None:
            return Outcome.IGNORED

        def plan(_balance: Balance) -> Planned:
            row = self.accounts.get(user, key)
            before = status(payment_from_row(row) if row else PaymentRecord(pi))
            after = before.with_return(step.refunded_minor, step.disputed_minor)
            data = payment_data(after, self.clock())
            write: Op = Replace(key, data, row.etag) if row else Insert(key, data)
            return Planned(before.taken_micros - after.taken_micros, (write,))

        result = self.ledger.post_planned(
            user, step.entry_id, EntryKind(step.kind), details, plan, flags=flags
        )
        return posted(result)

    # -- writing rows --

    def payment_build(self, pi: str, change: RecordChange) -> tuple[str, RowBuild]:
        def build(row: Row | None) -> dict[str, Value]:
            record = payment_from_row(row) if row else PaymentRecord(pi)
            return payment_data(change(record), self.clock())

        return payment_key(pi), build

    def post_ops(
        self,
        user_id: str,
        builds: Iterable[tuple[str, RowBuild]],
        read: Mapping[str, Row | None] | None = None,
    ) -> Callable[[object], list[Op]]:
        """Row writes for a ledger post, re-read on each of its attempts but the first, which
        builds on the rows the caller `read` (by key) when it has them."""
        items = tuple(builds)
        first = [dict(read)] if read is not None else []

        def ops(_balance: object) -> list[Op]:
            return self._changes(user_id, items, first.pop() if first else {})

        return ops

    def write(self, user_id: str, builds: Iterable[tuple[str, RowBuild]]) -> bool:
        """Rows changed without money: conditional on what was read. True if anything changed."""
        items = tuple(builds)
        for attempt in range(self.max_attempts):
            ops = self._changes(user_id, items)
            if not ops:
                return False
            try:
                self.accounts.commit(user_id, ops)
                return True
            except (RowChanged, RowExists):
                back_off(attempt)
        raise AccountBusy(f"account {user_id} stayed busy for {self.max_attempts} attempts")

    def _changes(
        self,
        user_id: str,
        builds: Iterable[tuple[str, RowBuild]],
        known: Mapping[str, Row | None] | None = None,
    ) -> list[Op]:
        ops: list[Op] = []
        for key, build in builds:
            row = known[key] if known and key in known else self.accounts.get(user_id, key)
            data = build(row)
            if row is None:
                ops.append(Insert(key, data))
            elif not _same(row.data, data):
                ops.append(Replace(key, data, row.etag))
        return ops


def posted(result: PostResult) -> Outcome:
    return Outcome.APPLIED if result.status is PostStatus.APPLIED else Outcome.ALREADY_APPLIED


def _same(old: Mapping[str, Value], new: Mapping[str, Value]) -> bool:
    def comparable(data: Mapping[str, Value]) -> dict[str, Value]:
        return {k: v for k, v in data.items() if k != "updated_at" and v is not None}

    return comparable(old) == comparable(new)

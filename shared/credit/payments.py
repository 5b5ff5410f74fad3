"""Credit bought through Stripe: verified events applied to the ledger exactly once.

Every change of balance is a ledger entry keyed by a Stripe id, so a redelivered event finds
its entry and changes nothing, whatever the order events arrive in. `Payments` is the service
the edge calls: it starts checkouts, answers their status, and hands each event to the family
that owns it, whose module says under which ids it posts:

- credit.purchases: completed and delayed Checkout Sessions, credited under pi_… when they
  paid the pack's price in our currency (credit.sold), and otherwise refused and recorded;
- credit.refunds: refunds under re_…, and failed ones credited back under re_…:reversed;
- credit.disputes: chargebacks under du_…, kept ones credited back under du_…:won, inquiries,
  and the account's dispute hold;
- credit.payment_book: what all three share: finding the purchase, the payment's record
  written with its entries, and the exact share of the credit a refund or dispute takes back.

Its neighbours: what each event means, credit.stripe_events; the records and their rows,
credit.payment_records; what a checkout asks Stripe for, credit.checkout_requests; the port to
Stripe, credit.provider; the errors the edge maps to status codes, credit.errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shared.config import CreditPack, LimitSettings
from shared.credit.checkout_requests import (
    CheckoutSession,
    PurchasesPaused,
    check_nonce,
    checkout_request,
    offered_pack,
)
from shared.credit.disputes import Disputes
from shared.credit.errors import AccountBusy
from shared.credit.outcome import Outcome
from shared.credit.payment_book import PaymentBook
from shared.credit.payment_records import (
    CheckoutRecord,
    CheckoutView,
    PaymentRecord,
    checkout_data,
    newest_first,
)
from shared.credit.provider import PaymentProvider
from shared.credit.purchases import Purchases
from shared.credit.refunds import Refunds
from shared.credit.stripe_events import (
    ApplyDispute,
    ApplyRefunds,
    CreditPurchase,
    EventFieldInvalid,
    Ignore,
    RecordPayment,
    StripeEvent,
    interpret,
)
from shared.errors import NotFound, NotSignedIn
from shared.limits.purchases import count_checkout, counted
from shared.money.ledger import (
    FLAG_ACCOUNT_CLOSING,
    FLAG_PAYMENT_DISPUTED,
    Ledger,
    back_off,
    extra_fields_op,
)
from shared.storage.errors import RowChanged, RowExists
from shared.storage.keys import checkout_key, is_valid_entry_id
from shared.storage.rows import Insert, Op

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table

logger = logging.getLogger("ownnumber.payments")


@dataclass
class Payments:
    """The service the edge calls. The event families share one PaymentBook, built from these
    fields when the service is: reassigning a field later does not reach them."""

    ledger: Ledger
    accounts: Table
    owners: Table  # PAYMENTS_TABLE: PaymentIntent id -> user id
    provider: PaymentProvider
    packs: tuple[CreditPack, ...]
    currency: str
    public_base_url: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    max_attempts: int = 50
    # The first purchase's size and the checkouts an hour (shared.limits.purchases); None: none.
    limits: LimitSettings | None = None
    _book: PaymentBook = field(init=False, repr=False)
    _purchases: Purchases = field(init=False, repr=False)
    _refunds: Refunds = field(init=False, repr=False)
    _disputes: Disputes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._book = PaymentBook(
            self.ledger,
            self.accounts,
            self.owners,
            self.provider,
            self.clock,
            self.max_attempts,
            self.packs,
            self.currency,
        )
        self._purchases = Purchases(self._book)
        self._refunds = Refunds(self._book)
        self._disputes = Disputes(self._book)

    # -- checkout --

    def start_checkout(self, user_id: str, pack_id: str, nonce: str | None) -> CheckoutSession:
        pack = offered_pack(self.packs, pack_id)
        check_nonce(nonce)
        account = self._book.read_account(user_id, ())
        if account.profile is None:
            raise NotSignedIn("This account no longer exists; sign in again.")
        balance = account.balance
        flags = balance.flags
        if FLAG_ACCOUNT_CLOSING in flags:
            raise PurchasesPaused("This account is being deleted; it can buy no more credit.")
        if FLAG_PAYMENT_DISPUTED in flags:
            raise PurchasesPaused(
                "One of your payments is disputed; buying credit is paused until it is resolved."
            )
        now = self.clock()
        fields = balance.extra
        if self.limits is not None:
            fields = count_checkout(fields, self.limits, pack.price_micros, self.currency, now)
        request = checkout_request(user_id, pack, self.currency, self.public_base_url, nonce, now)
        session = self.provider.create_checkout(request)
        record = CheckoutRecord(
            session.id, pack.id, request.amount_minor, self.currency, pack.credit_micros
        )
        key = checkout_key(session.id)
        for attempt in range(self.max_attempts):
            # The attempt is counted on the balance row in the write that records the checkout:
            # global, and no round trip more.
            ops: list[Op] = [Insert(key, checkout_data(record, now, now))]
            if self.limits is not None:
                ops.append(extra_fields_op(balance, fields))
            try:
                self.accounts.commit(user_id, ops)
                return session
            except RowExists as conflict:
                if conflict.key == key:
                    # A double click: Stripe gave the same session, recorded (and counted) by
                    # the first.
                    return session
            except RowChanged:
                pass
            # The balance moved meanwhile (a call, a credit): count on it as it is now. Stripe
            # has opened this checkout already, so it is counted, not refused.
            back_off(attempt)
            balance = self.ledger.balance(user_id)
            if self.limits is not None:
                fields = counted(balance.extra, self.limits, now, enforce=False)
        raise AccountBusy(f"account {user_id} stayed busy while recording a checkout")

    def checkout(self, user_id: str, session_id: str) -> CheckoutView:
        """The status of one of the user's own checkouts; another user's is NotFound."""
        record = None
        if is_valid_entry_id(session_id):
            record = self._book.checkout(user_id, session_id)
        if record is None:
            raise NotFound("There is no checkout with that id in your account.")
        payment = None
        if record.payment_intent_id:
            payment = self._book.payment(user_id, record.payment_intent_id)
        return CheckoutView(record, payment)

    def recent_payments(self, user_id: str, limit: int) -> list[PaymentRecord]:
        """The user's own payments, newest first: read from the records in their partition
        (one query; a payment's RowKey is its PaymentIntent id, which says nothing of when,
        so they are sorted here), never from Stripe."""
        return newest_first(self._book.payments(user_id).values(), limit)

    # -- webhook events --

    def apply(self, event: StripeEvent) -> Outcome:
        """Apply a verified event once; a redelivery returns ALREADY_APPLIED.

        An event carrying a figure Stripe never sends (EventFieldInvalid) is refused before
        anything is written, and logged as an error: it is a bug or a forgery, and Stripe's
        retries of it should be seen. A payment of an amount Stripe does send, but not the
        price of what was sold, is REFUSED: recorded, not credited, and not retried.
        """
        try:
            return self._apply(event)
        except EventFieldInvalid as error:
            # Ids and field names only: the event's object may name a person.
            logger.error(
                "Stripe event %s (%s) refused for its %s: %s",
                event.id,
                event.type[:60],
                error.field,
                error,
            )
            raise

    def _apply(self, event: StripeEvent) -> Outcome:
        instruction = interpret(event)
        match instruction:
            case CreditPurchase(session):
                return self._purchases.credit(session, event.id)
            case RecordPayment(session, failed):
                return self._purchases.record(session, failed, event.id)
            case ApplyRefunds():
                return self._refunds.apply(instruction)
            case ApplyDispute(dispute, outcome):
                return self._disputes.apply(dispute, outcome)
            case Ignore(reason):
                logger.debug("Stripe event %s (%s) ignored: %s", event.id, event.type, reason)
                return Outcome.IGNORED
        raise AssertionError(f"unhandled instruction {instruction!r}")

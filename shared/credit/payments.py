"""Credit bought through Stripe: verified events applied to the ledger exactly once.

Every change of balance is a ledger entry keyed by a Stripe id, so a redelivered event finds
its entry and changes nothing, whatever the order events arrive in:

- a purchase is credited under its PaymentIntent id (pi_…). Checkout's completion events name
  it, and so does every charge, refund and dispute, so each of them can find the credit;
- a refund is debited under the refund id (re_…); a refund that fails later is credited back
  under "re_…:reversed";
- a chargeback is debited under the dispute id (du_…), and the account is flagged in the same
  write; one the merchant keeps (won, prevented) is credited back under "du_…:won"; any close
  clears the flag (unless another payment is still disputed). An inquiry (warning_*) moves no
  money and holds nothing: it is only recorded.

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

Each payment also has a record (payment:pi_…) in the user's partition, written in the same
transaction as its ledger entries: Stripe references, amounts, status, and the card's brand
and last four digits for the receipt, never a card number.

The service also starts checkouts and answers their status. Its neighbours: what each event
means, credit.stripe_events; the records and their rows, credit.payment_records; what a
checkout asks Stripe for, credit.checkout_requests; the port to Stripe, credit.provider.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from shared.config import ConfigError, CreditPack
from shared.credit.checkout_requests import (
    META_CREDIT,
    META_PACK,
    CheckoutSession,
    PurchasesPaused,
    check_nonce,
    checkout_request,
    offered_pack,
)
from shared.credit.payment_records import (
    CheckoutRecord,
    CheckoutView,
    PaymentRecord,
    checkout_data,
    checkout_from_row,
    payment_data,
    payment_from_row,
)
from shared.credit.provider import (
    PaymentProvider,
    PaymentProviderRefused,
    PaymentProviderUnavailable,
)
from shared.credit.stripe_events import (
    DISPUTE_CLOSED,
    DISPUTE_INQUIRY,
    DISPUTE_OPEN,
    ApplyDispute,
    ApplyRefunds,
    Card,
    CreditPurchase,
    EventFieldInvalid,
    Ignore,
    Purchase,
    RecordPayment,
    Return,
    Reversal,
    SessionFacts,
    StripeEvent,
    dispute_returns,
    interpret,
    refund_returns,
)
from shared.errors import NotFound
from shared.money.ledger import (
    FLAG_PAYMENT_DISPUTED,
    Balance,
    EntryKind,
    Ledger,
    Planned,
    PostResult,
    PostStatus,
    back_off,
)
from shared.storage.errors import RowChanged, RowExists
from shared.storage.keys import (
    PAYMENT_OWNER_KEY,
    PAYMENT_PREFIX,
    PROFILE_KEY,
    checkout_key,
    is_valid_entry_id,
    payment_key,
)
from shared.storage.rows import Insert, Op, Replace, Row, Value

logger = logging.getLogger("ownnumber.payments")

# Looking up the card for the receipt fails in these ways; none of them may block a credit.
_PROVIDER_ERRORS = (
    PaymentProviderUnavailable,
    PaymentProviderRefused,
    ConfigError,
    EventFieldInvalid,
)

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table


class AccountBusy(Exception):
    """The account's payment rows changed under every attempt; the caller should retry."""


class PaymentInconsistent(Exception):
    """Stripe's account of a payment contradicts our record of it (a refund in another
    currency, say): never ignored, answered 5xx so that Stripe retries and someone notices."""


class Outcome(StrEnum):
    """What applying one webhook event did; the webhook answers it to Stripe."""

    APPLIED = "applied"  # money moved
    RECORDED = "recorded"  # a payment record changed, no money moved (pending, failed, ...)
    ALREADY_APPLIED = "already_applied"  # a redelivery: nothing changed
    IGNORED = "ignored"  # not an event (or not a payment) this app acts on


# --- the service --------------------------------------------------------------------------

RecordChange = Callable[[PaymentRecord], PaymentRecord]
RowBuild = Callable[[Row | None], dict[str, Value]]

_OUTCOME_RANK = {
    Outcome.IGNORED: 0,
    Outcome.ALREADY_APPLIED: 1,
    Outcome.RECORDED: 2,
    Outcome.APPLIED: 3,
}


@dataclass
class Payments:
    ledger: Ledger
    accounts: Table
    owners: Table  # PAYMENTS_TABLE: PaymentIntent id -> user id
    provider: PaymentProvider
    packs: tuple[CreditPack, ...]
    currency: str
    public_base_url: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    max_attempts: int = 50

    # -- checkout --

    def start_checkout(self, user_id: str, pack_id: str, nonce: str | None) -> CheckoutSession:
        pack = offered_pack(self.packs, pack_id)
        check_nonce(nonce)
        if FLAG_PAYMENT_DISPUTED in self.ledger.balance(user_id).flags:
            raise PurchasesPaused(
                "One of your payments is disputed; buying credit is paused until it is resolved."
            )
        now = self.clock()
        request = checkout_request(user_id, pack, self.currency, self.public_base_url, nonce, now)
        session = self.provider.create_checkout(request)
        record = CheckoutRecord(
            session.id, pack.id, request.amount_minor, self.currency, pack.credit_micros
        )
        try:
            self.accounts.commit(
                user_id, [Insert(checkout_key(session.id), checkout_data(record, now, now))]
            )
        except RowExists:
            pass  # a double click: Stripe gave the same session, recorded by the first
        return session

    def checkout(self, user_id: str, session_id: str) -> CheckoutView:
        """The status of one of the user's own checkouts; another user's is NotFound."""
        row = None
        if is_valid_entry_id(session_id):
            row = self.accounts.get(user_id, checkout_key(session_id))
        if row is None:
            raise NotFound("There is no checkout with that id in your account.")
        record = checkout_from_row(row)
        payment = None
        if record.payment_intent_id:
            payment_row = self.accounts.get(user_id, payment_key(record.payment_intent_id))
            payment = payment_from_row(payment_row) if payment_row else None
        return CheckoutView(record, payment)

    # -- webhook events --

    def apply(self, event: StripeEvent) -> Outcome:
        """Apply a verified event once; a redelivery returns ALREADY_APPLIED.

        An event carrying a figure Stripe never sends (EventFieldInvalid) is refused before
        anything is written, and logged as an error: it is a bug or a forgery, and Stripe's
        retries of it should be seen.
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
                return self._credit(session)
            case RecordPayment(session, failed):
                return self._record_session(session, failed)
            case ApplyRefunds():
                return self._refunds(instruction)
            case ApplyDispute(dispute, outcome):
                return self._dispute(dispute, outcome)
            case Ignore(reason):
                logger.debug("Stripe event %s (%s) ignored: %s", event.id, event.type, reason)
                return Outcome.IGNORED
        raise AssertionError(f"unhandled instruction {instruction!r}")

    def _credit(self, session: SessionFacts) -> Outcome:
        purchase, pi = session.purchase, session.payment_intent
        if not self._account_exists(purchase.user_id, pi):
            return Outcome.IGNORED
        self._check_sold(session)
        self._remember_owner(pi, purchase.user_id)

        def change(record: PaymentRecord) -> PaymentRecord:
            return replace(record.with_purchase(purchase), session_id=session.id, paid=True)

        result = self.ledger.post(
            purchase.user_id,
            pi,
            purchase.credit_micros,
            EntryKind.CREDIT_PURCHASE,
            {"pack": purchase.pack, "payment_intent": pi, "checkout_session": session.id},
            also=self._ops(
                purchase.user_id, (self._payment_build(pi, change), self._checkout_build(session))
            ),
        )
        # After the credit, so that Stripe being slow or refusing never holds it up.
        self._add_card(purchase.user_id, pi)
        return _outcome(result)

    def _record_session(self, session: SessionFacts, failed: bool) -> Outcome:
        purchase, pi = session.purchase, session.payment_intent
        if not self._account_exists(purchase.user_id, pi):
            return Outcome.IGNORED
        self._remember_owner(pi, purchase.user_id)

        def recorded(record: PaymentRecord) -> PaymentRecord:
            record = replace(record.with_purchase(purchase), session_id=session.id)
            return replace(record, failed=True) if failed else record

        changed = self._write(
            purchase.user_id, (self._payment_build(pi, recorded), self._checkout_build(session))
        )
        return Outcome.RECORDED if changed else Outcome.ALREADY_APPLIED

    def _refunds(self, instruction: ApplyRefunds) -> Outcome:
        refunds = instruction.refunds
        if refunds is None:
            refunds = tuple(self.provider.refunds_of_charge(instruction.charge_id))
        return _strongest(self._refund(refund, instruction.card) for refund in refunds)

    def _refund(self, refund: Reversal, card: Card | None) -> Outcome:
        purchase = self._purchase_of(refund)
        if purchase is None:
            return Outcome.IGNORED
        pi = refund.payment_intent
        details = {"payment_intent": pi, "refund": refund.id}

        def status(record: PaymentRecord) -> PaymentRecord:
            return record.with_purchase(purchase).with_charge(refund.charge_id, card)

        # One after the other: a failed refund's credit back follows its debit.
        steps = refund_returns(refund)
        return _strongest([self._take_back(purchase, pi, s, details, status) for s in steps])

    def _dispute(self, dispute: Reversal, outcome: str) -> Outcome:
        purchase = self._purchase_of(dispute)
        if purchase is None:
            return Outcome.IGNORED
        user, pi = purchase.user_id, dispute.payment_intent
        details = {"payment_intent": pi, "dispute": dispute.id}

        def status(record: PaymentRecord) -> PaymentRecord:
            return record.with_purchase(purchase).with_dispute(dispute.id, outcome)

        if outcome == DISPUTE_INQUIRY:
            # No money has moved and the account is not held: an inquiry is a question, and
            # most close without a chargeback. If it becomes one, that event debits and holds.
            changed = self._write(user, (self._payment_build(pi, status),))
            return Outcome.RECORDED if changed else Outcome.ALREADY_APPLIED
        if outcome == DISPUTE_CLOSED:
            logger.error(
                "Dispute %s of %s closed as %r, which this app does not know: its debit stays",
                dispute.id,
                pi,
                dispute.status[:40],
            )
        flags = self._dispute_flags(user, pi, status)
        # The debit comes first even when the closing event does: created and closed may
        # arrive in either order, and whichever is first posts it.
        outcomes = [
            self._take_back(purchase, pi, step, details, status, flags)
            for step in dispute_returns(dispute, outcome)
        ]
        # Closed after its entries were posted: no money moves, the record and flag change
        # together, writing the balance row as every change of a dispute's state does.
        if outcome != DISPUTE_OPEN and self.ledger.set_flags(
            user, flags, also=self._ops(user, (self._payment_build(pi, status),))
        ):
            outcomes.append(Outcome.RECORDED)
        return _strongest(outcomes)

    def _take_back(
        self,
        purchase: Purchase,
        pi: str,
        step: Return,
        details: Mapping[str, str],
        status: RecordChange,
        flags: Callable[[frozenset[str]], frozenset[str]] | None = None,
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
        return _outcome(result)

    def _dispute_flags(
        self, user_id: str, pi: str, change: RecordChange
    ) -> Callable[[frozenset[str]], frozenset[str]]:
        """Flagged while any of the account's payments has an open dispute.

        Computed on every attempt, after the balance row was read. Each change of a dispute's
        state writes the balance row too (by post or set_flags, in the same transaction), so a
        concurrent change fails this write's ETag and the rows are read again.
        """
        key = payment_key(pi)

        def flags(current: frozenset[str]) -> frozenset[str]:
            records = {
                row.key: payment_from_row(row)
                for row in self.accounts.rows(user_id, PAYMENT_PREFIX)
            }
            records[key] = change(records.get(key) or PaymentRecord(pi))
            if any(r.dispute_status == DISPUTE_OPEN for r in records.values()):
                return current | {FLAG_PAYMENT_DISPUTED}
            return current - {FLAG_PAYMENT_DISPUTED}

        return flags

    # -- finding the purchase --

    def _purchase_of(self, reversal: Reversal) -> Purchase | None:
        """Who bought what with the reversed payment: our records first, then Stripe's."""
        pi = reversal.payment_intent
        purchase = self._recorded_purchase(pi)
        asked = purchase is None
        if asked:
            info = self.provider.payment_intent(pi)
            purchase = info.purchase if info else None
        if purchase is None:
            logger.warning("%s is about %s, not one of our purchases: ignored", reversal.id, pi)
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
        if not self._account_exists(purchase.user_id, reversal.id):
            return None
        if asked:
            self._remember_owner(pi, purchase.user_id)  # later events need not ask Stripe
        return purchase

    def _recorded_purchase(self, pi: str) -> Purchase | None:
        owner = self.owners.get(pi, PAYMENT_OWNER_KEY)
        if owner is None:
            return None
        user_id = owner.text("user_id")
        row = self.accounts.get(user_id, payment_key(pi))
        return payment_from_row(row).purchase(user_id) if row else None

    def _check_sold(self, session: SessionFacts) -> None:
        """The credit is the one the pack was sold with: as the checkout we recorded says, or,
        without that record, as the pack is configured. The metadata is ours, so a signed
        event that disagrees is a bug or a forgery, and crediting it would be a guess."""
        purchase = session.purchase
        row = self.accounts.get(purchase.user_id, checkout_key(session.id))
        if row is not None:
            sold = checkout_from_row(row)
            pack, credit = sold.pack, sold.credit_micros
        else:
            offered = next((p for p in self.packs if p.id == purchase.pack), None)
            if offered is None:
                # A pack since retired, whose checkout row is missing: the bounds still hold.
                logger.warning(
                    "Checkout %s sold pack %r, no longer offered: its credit is as sent",
                    session.id,
                    purchase.pack,
                )
                return
            pack, credit = offered.id, offered.credit_micros
        if purchase.pack != pack:
            raise EventFieldInvalid(
                f"metadata.{META_PACK}", "The purchase's pack is not the one its checkout sold."
            )
        if purchase.credit_micros != credit:
            raise EventFieldInvalid(
                f"metadata.{META_CREDIT}",
                "The purchase's credit is not the one its pack was sold with.",
            )

    def _account_exists(self, user_id: str, about: str) -> bool:
        if self.accounts.get(user_id, PROFILE_KEY) is not None:
            return True
        # Answered 200 all the same: Stripe would otherwise redeliver it for days.
        logger.warning("Stripe event about %s names an unknown account: nothing changed", about)
        return False

    def _remember_owner(self, pi: str, user_id: str) -> None:
        self.owners.commit(pi, [Replace(PAYMENT_OWNER_KEY, {"user_id": user_id})])

    def _add_card(self, user_id: str, pi: str) -> None:
        """The charge id and card for the receipt, asked of Stripe once the record lacks them.

        Best effort: the receipt shows no card rather than the credit failing.
        """
        row = self.accounts.get(user_id, payment_key(pi))
        if row is not None and payment_from_row(row).card is not None:
            return
        try:
            info = self.provider.payment_intent(pi)
        except _PROVIDER_ERRORS as error:
            logger.warning("No card details for %s: %s", pi, type(error).__name__)
            return
        if info is None or (info.card is None and not info.charge_id):
            return
        charge_id, card = info.charge_id, info.card
        self._write(
            user_id,
            (self._payment_build(pi, lambda record: record.with_charge(charge_id, card)),),
        )

    # -- rows --

    def _payment_build(self, pi: str, change: RecordChange) -> tuple[str, RowBuild]:
        def build(row: Row | None) -> dict[str, Value]:
            record = payment_from_row(row) if row else PaymentRecord(pi)
            return payment_data(change(record), self.clock())

        return payment_key(pi), build

    def _checkout_build(self, session: SessionFacts) -> tuple[str, RowBuild]:
        purchase = session.purchase
        record = CheckoutRecord(
            session.id,
            purchase.pack,
            purchase.amount_minor,
            purchase.currency,
            purchase.credit_micros,
            session.payment_intent,
        )

        def build(row: Row | None) -> dict[str, Value]:
            now = self.clock()
            created = row.get("created_at") if row else None
            return checkout_data(record, created if isinstance(created, datetime) else now, now)

        return checkout_key(session.id), build

    def _ops(
        self, user_id: str, builds: Iterable[tuple[str, RowBuild]]
    ) -> Callable[[object], list[Op]]:
        """Row writes for a ledger post, re-read on each of its attempts."""
        items = tuple(builds)
        return lambda _balance: self._changes(user_id, items)

    def _changes(self, user_id: str, builds: Iterable[tuple[str, RowBuild]]) -> list[Op]:
        ops: list[Op] = []
        for key, build in builds:
            row = self.accounts.get(user_id, key)
            data = build(row)
            if row is None:
                ops.append(Insert(key, data))
            elif not _same(row.data, data):
                ops.append(Replace(key, data, row.etag))
        return ops

    def _write(self, user_id: str, builds: Iterable[tuple[str, RowBuild]]) -> bool:
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


def _same(old: Mapping[str, Value], new: Mapping[str, Value]) -> bool:
    def comparable(data: Mapping[str, Value]) -> dict[str, Value]:
        return {k: v for k, v in data.items() if k != "updated_at" and v is not None}

    return comparable(old) == comparable(new)


def _strongest(outcomes: Iterable[Outcome]) -> Outcome:
    return max(outcomes, key=_OUTCOME_RANK.__getitem__, default=Outcome.IGNORED)


def _outcome(result: PostResult) -> Outcome:
    return Outcome.APPLIED if result.status is PostStatus.APPLIED else Outcome.ALREADY_APPLIED

"""The registry: every kind of record OwnNumber stores, every cookie it sets, every processor.

For each kind of stored record: where it lives (table, row key), its category in the privacy
policy, its fields, its purpose and legal basis, how long it is kept (from settings), what the
export shows of it, and what deleting the account does to it. The export, the erasure, the
retention run, the record of processing and the storage guard all read this one list, so a
new kind of row is declared here or the suite fails (shared.privacy.guard).

Plain data only: no storage, no SDK. The row layouts themselves are in shared.storage.keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from shared.config import PrivacySettings, SessionSettings
from shared.storage import keys


class Category(StrEnum):
    """The headings of section 2 of the privacy policy."""

    ACCOUNT = "Account and sign-in data"
    CALLING = "Calling data"
    PAYMENT = "Payment and credit data"
    USAGE = "Usage and diagnostics"


class Basis(StrEnum):
    """GDPR Art. 6(1), as section 4 of the policy names them."""

    CONTRACT = "Contract"
    LEGITIMATE_INTERESTS = "Legitimate interests"
    LEGAL_OBLIGATION = "Legal obligation"
    CONSENT = "Consent"


class OnDeletion(StrEnum):
    """What deleting the account does to a kind of record."""

    # Gone from every table.
    ERASE = "erase"
    # Moved under a random token in place of the user id, personal fields cut or dropped, and
    # kept for the accounting period (ACCOUNTING_RETENTION_YEARS), then erased.
    PSEUDONYMISE = "pseudonymise"
    # Not linked to the account (a sign-in in progress, a counter keyed by a phone number): it
    # goes by its own retention, within minutes or hours.
    EXPIRES = "expires"


class Linked(StrEnum):
    """How a row is found from the user: what its PartitionKey is."""

    USER = "the user id"
    # The row holds the user id in a field; its key is something else (a hash, a number).
    USER_FIELD = "another key; the row names the user in user_id"
    NONE = "not linked to an account"


@dataclass(frozen=True)
class Retention:
    """How long a kind is kept: a sentence whose {NAME}s are settings, filled in by describe."""

    rule: str

    def describe(self, values: Mapping[str, int | str]) -> str:
        return self.rule.format_map(values)


@dataclass(frozen=True)
class RecordKind:
    name: str
    title: str
    table: str
    # The RowKey: exactly this, or (prefix=True) starting with it; "" with prefix: any key.
    row_key: str
    prefix: bool
    linked: Linked
    category: Category
    purpose: str
    basis: Basis
    retention: Retention
    # Every property the app stores on such a row, and what it holds.
    fields: Mapping[str, str]
    # What the export shows: the section of data.json (and CSV file) that holds these rows,
    # or None with the reason in `export_note`.
    export_section: str | None
    export_note: str
    deletion: OnDeletion
    deletion_note: str
    # Personal fields and what pseudonymisation makes of them (PSEUDONYMISE kinds only).
    pseudonymised: Mapping[str, str] = field(default_factory=dict)
    # Fields the export leaves out (a secret's hash: no use to the person, a risk if leaked);
    # export_note says so in words.
    export_omits: frozenset[str] = frozenset()
    # The CSV file of the export that lists these rows too, for a spreadsheet.
    export_csv: str | None = None

    def matches(self, table: str, row_key: str) -> bool:
        if table != self.table:
            return False
        return row_key.startswith(self.row_key) if self.prefix else row_key == self.row_key


@dataclass(frozen=True)
class Cookie:
    """A cookie or browser-storage item set on the user's browser."""

    name: str
    set_by: str
    storage: str  # "cookie" or "localStorage"
    necessary: bool
    purpose: str
    lifetime: str


@dataclass(frozen=True)
class Processor:
    """A company that holds users' data for OwnNumber (GDPR Art. 28), named in section 5."""

    name: str
    service: str
    role: str
    data: str
    location: str
    safeguard: str
    how_to_ask: str


_ACCOUNT_LIFE = Retention("As long as the account exists; erased when it is deleted.")
_CALL_RETENTION = Retention(
    "{CALL_RETENTION_DAYS} days from the call's start (CALL_RETENTION_DAYS); erased sooner "
    "when the account is deleted."
)
_ACCOUNTING = Retention(
    "As long as the account exists; when it is deleted, pseudonymised and kept "
    "{ACCOUNTING_RETENTION_YEARS} years (ACCOUNTING_RETENTION_YEARS), as accounting records "
    "must be, then erased."
)
_ACCOUNTING_NOTE = (
    "Pseudonymised, not erased: accounting law requires the books of every sale, refund and "
    "dispute to be kept. The user id is replaced by a random token and dialled numbers are "
    "cut to their country and prefix."
)
_ENTRY_FIELDS: Mapping[str, str] = {
    "amount_micros": "the change of balance, in millionths of the currency",
    "kind": "what it was: purchase, call charge, refund, dispute, adjustment",
    "details": "references: the call's Twilio sid or the Stripe PaymentIntent, refund, dispute",
    "created_at": "when it was posted",
    "seq": "its number in the account's sequence",
    "balance_after_micros": "the balance after it",
}
_ENTRY_PSEUDONYMISED: Mapping[str, str] = {
    "details": "a call charge keeps its call sid, country and rate prefix, never the number",
}
_CALL_FIELDS: Mapping[str, str] = {
    "call_sid": "Twilio's id of the call",
    "user_id": "the account",
    "to": "the number dialled, E.164",
    "country": "the destination's country",
    "description": "what the rate deck calls the destination",
    "rate_prefix": "the rate deck's prefix that priced the call",
    "rate_country": "the rate's country",
    "per_minute_micros": "the price per minute",
    "first_increment": "the first billing increment, seconds",
    "next_increment": "the next billing increments, seconds",
    "connect_fee_micros": "the connection fee",
    "max_seconds": "the longest the balance allowed",
    "started_at": "when it was placed",
    "history_key": "its row in the call history",
    "status": "Twilio's last status",
    "sequence": "the order of Twilio's last status report",
    "child_sid": "Twilio's id of the leg to the number dialled",
    "answered_at": "when it was answered",
    "ended_at": "when it ended",
    "duration_seconds": "how long it lasted",
    "billed_seconds": "the seconds charged",
    "charge_micros": "what it cost",
    "settled_by": "what settled it: the status callback or reconciliation",
}
_PAYMENT_FIELDS: Mapping[str, str] = {
    "session_id": "the Stripe Checkout Session",
    "payment_intent_id": "the Stripe PaymentIntent",
    "charge_id": "the Stripe Charge",
    "pack": "the credit pack bought",
    "amount_minor": "the price, in the currency's minor unit",
    "currency": "the currency",
    "credit_micros": "the credit it bought",
    "paid": "whether Stripe says it was paid",
    "failed": "whether the payment failed",
    "refunded_minor": "how much was refunded",
    "disputed_minor": "how much is disputed",
    "taken_micros": "the credit taken back for refunds and disputes",
    "dispute_id": "the Stripe Dispute",
    "dispute_status": "the dispute's status",
    "card_brand": "the card's brand (never its number)",
    "card_last4": "the card's last four digits (never the full number)",
    "refused": "why the credit was refused, if it was",
    "created_at": "when it was made",
    "updated_at": "when Stripe last told us of it",
}

KINDS: tuple[RecordKind, ...] = (
    RecordKind(
        name="profile",
        title="Profile",
        table=keys.ACCOUNTS_TABLE,
        row_key=keys.PROFILE_KEY,
        prefix=False,
        linked=Linked.USER,
        category=Category.ACCOUNT,
        purpose="Create and secure your account; write to you about it.",
        basis=Basis.CONTRACT,
        retention=_ACCOUNT_LIFE,
        fields={
            "email": "your email address, as your sign-in provider gives it or as you corrected it",
            "name": "your display name",
            "email_verified": "whether the address is confirmed by a sign-in",
            "provider": "the sign-in provider of the first sign-in",
            "created_at": "when the account was created",
            "identity_key": "the key of the sign-in identity row (a one-way hash)",
            "name_source": "'user' once you corrected the name: sign-ins no longer change it",
            "email_source": "'user' once you corrected the address: sign-ins no longer "
            "change it, and confirm it only when the provider says that same address is "
            "verified",
        },
        export_section="profile",
        export_note="Every field.",
        deletion=OnDeletion.ERASE,
        deletion_note="Erased.",
    ),
    RecordKind(
        name="identity",
        title="Sign-in identity",
        table=keys.IDENTITIES_TABLE,
        row_key=keys.IDENTITY_KEY,
        prefix=False,
        linked=Linked.USER_FIELD,
        category=Category.ACCOUNT,
        purpose="Find your account when you sign in again (keyed by a hash of the provider's "
        "id for you, never by your email).",
        basis=Basis.CONTRACT,
        retention=_ACCOUNT_LIFE,
        fields={"user_id": "the account", "provider": "the sign-in provider"},
        export_section="identities",
        export_note="The provider; the key is a one-way hash.",
        deletion=OnDeletion.ERASE,
        deletion_note="Erased: signing in again creates a new, empty account.",
    ),
    RecordKind(
        name="session",
        title="Sign-in session",
        table=keys.ACCOUNTS_TABLE,
        row_key=keys.SESSION_PREFIX,
        prefix=True,
        linked=Linked.USER,
        category=Category.ACCOUNT,
        purpose="Keep you signed in, show you where you are signed in, sign you out anywhere.",
        basis=Basis.CONTRACT,
        retention=Retention(
            "Until it ends: {SESSION_IDLE_DAYS} days unused or {SESSION_ABSOLUTE_DAYS} days "
            "after sign-in (SESSION_IDLE_SECONDS, SESSION_ABSOLUTE_SECONDS), or sign-out; then "
            "removed by the next sign-in or the daily retention run."
        ),
        fields={
            "secret_hash": "a one-way hash of the cookie's secret",
            "created_at": "when it started",
            "last_seen_at": "when it was last used (to the hour)",
            "signed_in_at": "when you last proved who you are",
            "device": "the browser and system family, from the User-Agent",
            "last_call_at": "when it last placed a call",
        },
        export_section="sessions",
        export_note="Every field but the secret's hash, in data.json and sessions.csv.",
        export_omits=frozenset({"secret_hash"}),
        export_csv="sessions.csv",
        deletion=OnDeletion.ERASE,
        deletion_note="Erased, every one: every browser and every Twilio token is signed out.",
    ),
    RecordKind(
        name="auth_flow",
        title="Sign-in in progress",
        table=keys.SIGN_IN_FLOWS_TABLE,
        row_key=keys.SIGN_IN_FLOW_KEY,
        prefix=False,
        linked=Linked.NONE,
        category=Category.ACCOUNT,
        purpose="Finish a sign-in safely (PKCE verifier, nonce, state) and return you to "
        "where you were.",
        basis=Basis.CONTRACT,
        retention=Retention(
            "Used up by the sign-in it belongs to; otherwise 10 minutes, then removed by the "
            "daily retention run."
        ),
        fields={
            "flow": "what the sign-in library needs to finish it",
            "return_to": "the page to return to",
            "prompt": "whether the provider was asked to sign in afresh",
            "created_at": "when it started",
            "expires_at": "when it stops being accepted",
        },
        export_section=None,
        export_note="Not exported: it belongs to no account until the sign-in finishes.",
        deletion=OnDeletion.EXPIRES,
        deletion_note="Not linked to an account; gone within minutes.",
    ),
    RecordKind(
        name="consent",
        title="Consent choice",
        table=keys.ACCOUNTS_TABLE,
        row_key=keys.CONSENT_PREFIX,
        prefix=True,
        linked=Linked.USER,
        category=Category.ACCOUNT,
        purpose="Remember and prove what you agreed to (optional analytics), and when.",
        basis=Basis.LEGAL_OBLIGATION,
        retention=_ACCOUNT_LIFE,
        fields={
            "analytics": "whether you allowed analytics",
            "gpc": "whether your browser sent Global Privacy Control",
            "policy_version": "the version of the policy you saw",
            "changed_at": "when you chose",
            "source": "where you chose: the banner or the account page",
        },
        export_section="consent",
        export_note="Every change.",
        deletion=OnDeletion.ERASE,
        deletion_note="Erased.",
    ),
    RecordKind(
        name="caller_id",
        title="Your own number as caller ID",
        table=keys.ACCOUNTS_TABLE,
        row_key=keys.CALLER_ID_KEY,
        prefix=False,
        linked=Linked.USER,
        category=Category.CALLING,
        purpose="Show the people you call your own number, once Twilio has verified it.",
        basis=Basis.CONTRACT,
        retention=Retention(
            "Until you remove it or delete the account; a verification that never finishes "
            "is cleared after 10 minutes."
        ),
        fields={
            "number": "your number, E.164",
            "state": "pending, verified or failed",
            "attempt": "the id of the verification attempt",
            "call_sid": "Twilio's verification call",
            "code": "the code to key in on that call",
            "outgoing_sid": "Twilio's id of the verified caller ID",
            "started_at": "when the verification started",
            "verified_at": "when it was verified",
            "reason": "why a verification failed, in words",
            "failed_at": "when it failed",
        },
        export_section="caller_id",
        export_note="Every field.",
        deletion=OnDeletion.ERASE,
        deletion_note="Erased, and deleted at Twilio.",
    ),
    RecordKind(
        name="caller_id_owner",
        title="Who holds a caller ID",
        table=keys.CALLER_ID_OWNERS_TABLE,
        row_key=keys.CALLER_ID_OWNER_KEY,
        prefix=False,
        linked=Linked.USER_FIELD,
        category=Category.CALLING,
        purpose="Make sure one number is one person's caller ID (keyed by the number).",
        basis=Basis.LEGITIMATE_INTERESTS,
        retention=Retention("As long as the number is your caller ID or its verification runs."),
        fields={
            "user_id": "the account",
            "attempt": "the verification attempt",
            "started_at": "when it started",
            "state": "pending or verified",
            "outgoing_sid": "Twilio's id of the verified caller ID",
            "verified_at": "when it was verified",
        },
        export_section="caller_id_owner",
        export_note="Every field.",
        deletion=OnDeletion.ERASE,
        deletion_note="Erased.",
    ),
    RecordKind(
        name="call",
        title="Call",
        table=keys.ACCOUNTS_TABLE,
        row_key=keys.CALL_PREFIX,
        prefix=True,
        linked=Linked.USER,
        category=Category.CALLING,
        purpose="Place, time and charge your calls exactly; answer your questions about them.",
        basis=Basis.CONTRACT,
        retention=_CALL_RETENTION,
        fields=_CALL_FIELDS,
        export_section="calls",
        export_note="Every field, in data.json and calls.csv.",
        export_csv="calls.csv",
        deletion=OnDeletion.ERASE,
        deletion_note="Erased; the ledger keeps the charge, with the country and prefix only.",
    ),
    RecordKind(
        name="call_history",
        title="Call history",
        table=keys.ACCOUNTS_TABLE,
        row_key=keys.CALL_HISTORY_PREFIX,
        prefix=True,
        linked=Linked.USER,
        category=Category.CALLING,
        purpose="List your recent calls, newest first.",
        basis=Basis.CONTRACT,
        retention=_CALL_RETENTION,
        fields=_CALL_FIELDS,
        export_section="call_history",
        export_note="A copy of each call, sorted newest first; calls.csv holds the calls.",
        deletion=OnDeletion.ERASE,
        deletion_note="Erased.",
    ),
    RecordKind(
        name="hold",
        title="Credit held for a call",
        table=keys.ACCOUNTS_TABLE,
        row_key=keys.HOLD_KEY,
        prefix=False,
        linked=Linked.USER,
        category=Category.CALLING,
        purpose="Stop two calls at once from spending the same credit.",
        basis=Basis.CONTRACT,
        retention=Retention("While the call is up; removed when it is settled."),
        fields={
            "call_sid": "the call",
            "placed_at": "when it was placed",
            "time_limit_seconds": "the longest it may last",
        },
        export_section="hold",
        export_note="Every field (there is one only while a call is up).",
        deletion=OnDeletion.ERASE,
        deletion_note="Erased (deletion is refused while a call is up).",
    ),
    RecordKind(
        name="open_call",
        title="Open call index",
        table=keys.OPEN_CALLS_TABLE,
        row_key="",
        prefix=True,
        linked=Linked.USER_FIELD,
        category=Category.CALLING,
        purpose="Find and settle calls whose final report from Twilio never came.",
        basis=Basis.CONTRACT,
        retention=Retention("While the call is up; removed when it is settled."),
        fields={
            "user_id": "the account",
            "call_sid": "the call",
            "placed_at": "when it was placed",
            "time_limit_seconds": "the longest it may last",
        },
        export_section="open_calls",
        export_note="Every field (there is one only while a call is up).",
        deletion=OnDeletion.ERASE,
        deletion_note="Erased.",
    ),
    RecordKind(
        name="balance",
        title="Balance",
        table=keys.ACCOUNTS_TABLE,
        row_key=keys.BALANCE_KEY,
        prefix=False,
        linked=Linked.USER,
        category=Category.PAYMENT,
        purpose=(
            "Know what your credit buys; refuse calls it cannot pay for. Its counters limit how "
            "fast an account can call and buy, against fraud (toll fraud, card testing): a "
            "legitimate interest, yours and ours, and each counter is overwritten when its "
            "hour or day has passed."
        ),
        basis=Basis.CONTRACT,
        retention=_ACCOUNTING,
        fields={
            "micros": "the balance, in millionths of the currency",
            "seq": "the number of ledger entries",
            "flags": "disputed, or being deleted, when it is",
            "has_purchased": "whether a purchase has been credited (a new account's first "
            "purchase is limited in size, against card testing)",
            "velocity_hour": "the UTC hour the call counter counts (fraud prevention)",
            "calls_this_hour": "calls placed in that hour (fraud prevention)",
            "velocity_day": "the UTC day the day's counters count (fraud prevention)",
            "destinations_today": "short hashes, salted with your account and the day, of the "
            "numbers called that day: never the numbers (fraud prevention)",
            "spent_today_micros": "what that day's calls can cost at most, in millionths of the "
            "currency (fraud prevention)",
            "checkout_hour": "the UTC hour the purchase counter counts (fraud prevention)",
            "checkouts_this_hour": "purchases started in that hour (fraud prevention)",
        },
        export_section="balance",
        export_note="Every field.",
        deletion=OnDeletion.PSEUDONYMISE,
        deletion_note=_ACCOUNTING_NOTE
        + " The fraud-prevention counters are dropped: the books do not need them.",
        pseudonymised={
            name: "dropped"
            for name in (
                "velocity_hour",
                "calls_this_hour",
                "velocity_day",
                "destinations_today",
                "spent_today_micros",
                "checkout_hour",
                "checkouts_this_hour",
            )
        },
    ),
    RecordKind(
        name="ledger_entry",
        title="Ledger entry",
        table=keys.ACCOUNTS_TABLE,
        row_key=keys.LEDGER_PREFIX,
        prefix=True,
        linked=Linked.USER,
        category=Category.PAYMENT,
        purpose="Keep exact books of your credit: every purchase, call, refund and dispute.",
        basis=Basis.LEGAL_OBLIGATION,
        retention=_ACCOUNTING,
        fields=_ENTRY_FIELDS,
        export_section="ledger",
        export_note="Every field, in data.json and ledger.csv.",
        export_csv="ledger.csv",
        deletion=OnDeletion.PSEUDONYMISE,
        deletion_note=_ACCOUNTING_NOTE,
        pseudonymised=_ENTRY_PSEUDONYMISED,
    ),
    RecordKind(
        name="journal_row",
        title="Ledger journal row",
        table=keys.ACCOUNTS_TABLE,
        row_key=keys.JOURNAL_PREFIX,
        prefix=True,
        linked=Linked.USER,
        category=Category.PAYMENT,
        purpose="List the ledger newest first, page by page.",
        basis=Basis.LEGAL_OBLIGATION,
        retention=_ACCOUNTING,
        fields={"entry_id": "the ledger entry", **_ENTRY_FIELDS},
        export_section="journal",
        export_note="A copy of each ledger entry in the order they were posted.",
        deletion=OnDeletion.PSEUDONYMISE,
        deletion_note=_ACCOUNTING_NOTE,
        pseudonymised=_ENTRY_PSEUDONYMISED,
    ),
    RecordKind(
        name="payment",
        title="Payment",
        table=keys.ACCOUNTS_TABLE,
        row_key=keys.PAYMENT_PREFIX,
        prefix=True,
        linked=Linked.USER,
        category=Category.PAYMENT,
        purpose="Credit what you paid for, once; take back what is refunded or disputed.",
        basis=Basis.LEGAL_OBLIGATION,
        retention=_ACCOUNTING,
        fields=_PAYMENT_FIELDS,
        export_section="payments",
        export_note="Every field, in data.json and payments.csv. No card number is ever stored.",
        export_csv="payments.csv",
        deletion=OnDeletion.PSEUDONYMISE,
        deletion_note=_ACCOUNTING_NOTE,
        pseudonymised={"card_last4": "dropped", "card_brand": "dropped"},
    ),
    RecordKind(
        name="payment_owner",
        title="Who paid with a PaymentIntent",
        table=keys.PAYMENTS_TABLE,
        row_key=keys.PAYMENT_OWNER_KEY,
        prefix=False,
        linked=Linked.USER_FIELD,
        category=Category.PAYMENT,
        purpose="Find the account of a refund or dispute from our own records.",
        basis=Basis.LEGAL_OBLIGATION,
        retention=_ACCOUNTING,
        fields={"user_id": "the account"},
        export_section="payment_owners",
        export_note="The PaymentIntents of your payments.",
        deletion=OnDeletion.PSEUDONYMISE,
        deletion_note="Points at the pseudonymised books instead, so a late refund or dispute "
        "still lands exactly.",
    ),
    RecordKind(
        name="checkout",
        title="Checkout started",
        table=keys.ACCOUNTS_TABLE,
        row_key=keys.CHECKOUT_PREFIX,
        prefix=True,
        linked=Linked.USER,
        category=Category.PAYMENT,
        purpose="Show you the outcome of a checkout you started.",
        basis=Basis.CONTRACT,
        retention=Retention(
            "7 days (a Stripe Checkout Session lasts at most one); then removed by the daily "
            "retention run. The payment itself is a payment record."
        ),
        fields={
            "session_id": "the Stripe Checkout Session",
            "pack": "the credit pack",
            "amount_minor": "the price",
            "currency": "the currency",
            "credit_micros": "the credit it buys",
            "payment_intent_id": "the PaymentIntent, once paid",
            "created_at": "when it started",
            "updated_at": "when it last changed",
        },
        export_section="checkouts",
        export_note="Every field.",
        deletion=OnDeletion.ERASE,
        deletion_note="Erased.",
    ),
    RecordKind(
        name="limit_counter",
        title="Attempt counter",
        table=keys.LIMITS_TABLE,
        row_key="",
        prefix=True,
        linked=Linked.NONE,
        category=Category.USAGE,
        purpose="Limit how often anyone can verify caller IDs or export data, against abuse.",
        basis=Basis.LEGITIMATE_INTERESTS,
        retention=Retention("Its clock hour; then removed by the daily retention run."),
        fields={"count": "attempts in the hour", "until": "the end of the hour"},
        export_section=None,
        export_note="Not exported: a count per hour, gone within a day.",
        deletion=OnDeletion.EXPIRES,
        deletion_note="Keyed by an account or a number and an hour; gone within a day.",
    ),
    RecordKind(
        name="archive",
        title="Books of a deleted account",
        table=keys.ACCOUNTS_TABLE,
        row_key=keys.ARCHIVE_KEY,
        prefix=False,
        linked=Linked.NONE,
        category=Category.PAYMENT,
        purpose="Say until when a deleted account's pseudonymised books are kept.",
        basis=Basis.LEGAL_OBLIGATION,
        retention=Retention(
            "{ACCOUNTING_RETENTION_YEARS} years from the deletion (ACCOUNTING_RETENTION_YEARS), "
            "then erased with the books."
        ),
        fields={"erased_at": "when the account was deleted", "kept_until": "when they go"},
        export_section=None,
        export_note="Not exported: it exists only once the account is gone.",
        deletion=OnDeletion.EXPIRES,
        deletion_note="Linked to no account, only to a random token.",
    ),
    RecordKind(
        name="archive_index",
        title="Index of kept books",
        table=keys.ARCHIVES_TABLE,
        row_key="",
        prefix=True,
        linked=Linked.NONE,
        category=Category.PAYMENT,
        purpose="Find the pseudonymised books whose legal period has ended.",
        basis=Basis.LEGAL_OBLIGATION,
        retention=Retention("As long as the books it points at."),
        fields={"kept_until": "when the books go"},
        export_section=None,
        export_note="Not exported: it exists only once the account is gone.",
        deletion=OnDeletion.EXPIRES,
        deletion_note="Linked to no account, only to a random token.",
    ),
    RecordKind(
        name="erasure",
        title="Deletion in progress",
        table=keys.ERASURES_TABLE,
        row_key=keys.ERASURE_KEY,
        prefix=False,
        linked=Linked.USER,
        category=Category.ACCOUNT,
        purpose="Finish a deletion that was cut short, exactly as it began.",
        basis=Basis.LEGAL_OBLIGATION,
        retention=Retention("Until the deletion is finished, then erased."),
        fields={
            "pseudonym": "the token the books go under",
            "started_at": "when the deletion began",
            "step": "how far it got",
            "call_sids": "the calls whose logs are still to delete at Twilio",
            "counts": "how many rows of each kind there were to erase, for the answer",
        },
        export_section=None,
        export_note="Not exported: it exists only while the account is being deleted.",
        deletion=OnDeletion.ERASE,
        deletion_note="Erased when the deletion finishes.",
    ),
    RecordKind(
        name="retention_progress",
        title="Where the retention run stopped",
        table=keys.RETENTION_TABLE,
        row_key=keys.RETENTION_PROGRESS_KEY,
        prefix=False,
        linked=Linked.NONE,
        category=Category.USAGE,
        purpose="Let the next run go on where a run that reached its budget stopped.",
        basis=Basis.LEGITIMATE_INTERESTS,
        retention=Retention("Until the next run finishes its round of the rules."),
        fields={
            "step": "the rule it was applying",
            "position": "where in that rule's query it stopped (a table position, which may "
            "name the opaque id of an account's partition)",
        },
        export_section=None,
        export_note="Not exported: one row about the run, not about a user.",
        deletion=OnDeletion.EXPIRES,
        deletion_note="About the run, linked to no account; replaced or removed by each run.",
    ),
)

COOKIES: tuple[Cookie, ...] = (
    Cookie(
        name="__Host-session",
        set_by="OwnNumber",
        storage="cookie",
        necessary=True,
        purpose="Keeps you signed in (HttpOnly, Secure, SameSite=Lax); on a local sandbox "
        "over plain http it is called ownnumber_session.",
        lifetime="Until the session ends: at most SESSION_ABSOLUTE_SECONDS (30 days).",
    ),
    Cookie(
        name="__Host-ownnumber_signin",
        set_by="OwnNumber",
        storage="cookie",
        necessary=True,
        purpose="Ties a sign-in to the browser that started it (against login forgery); "
        "ownnumber_signin on a local sandbox.",
        lifetime="10 minutes, or until the sign-in finishes.",
    ),
    Cookie(
        name="ownnumber.consent",
        set_by="OwnNumber",
        storage="localStorage",
        necessary=True,
        purpose="Remembers your cookie choice before you sign in.",
        lifetime="Until you change it or clear your browser's storage.",
    ),
    Cookie(
        name="ai_user",
        set_by="Microsoft Application Insights",
        storage="cookie",
        necessary=False,
        purpose="Analytics and performance monitoring: counts returning browsers. Only with "
        "your consent, never under Global Privacy Control.",
        lifetime="1 year, or until you withdraw consent (then deleted).",
    ),
    Cookie(
        name="ai_session",
        set_by="Microsoft Application Insights",
        storage="cookie",
        necessary=False,
        purpose="Analytics and performance monitoring: groups one visit's page views. Only "
        "with your consent, never under Global Privacy Control.",
        lifetime="30 minutes idle, 24 hours at most, or until you withdraw consent.",
    ),
    Cookie(
        name="Stripe cookies",
        set_by="Stripe",
        storage="cookie",
        necessary=True,
        purpose="Secure checkout and fraud prevention, on Stripe's own checkout page "
        "(checkout.stripe.com), never on ours.",
        lifetime="As Stripe's cookie policy says.",
    ),
)

PROCESSORS: tuple[Processor, ...] = (
    Processor(
        name="Google",
        service="Google sign-in",
        role="Signs you in, when you choose Google, through Microsoft Entra External ID.",
        data="Your Google account's name, email address and account identifier.",
        location="United States and worldwide",
        safeguard="EU-U.S. Data Privacy Framework; standard contractual clauses",
        how_to_ask="https://myaccount.google.com/data-and-privacy",
    ),
    Processor(
        name="Microsoft",
        service="Entra External ID, Azure Functions and Table Storage, Application Insights",
        role="Runs sign-in, hosts the service and its storage, and receives diagnostics "
        "(with phone numbers and emails masked).",
        data="Your sign-in identity and email; everything in this registry, in the storage "
        "account's region; masked request and error diagnostics; browser analytics only "
        "with your consent.",
        location="The Azure region the operator deploys to; Entra External ID in the tenant's "
        "geography",
        safeguard="Microsoft Products and Services Data Protection Addendum; EU Data Boundary "
        "where chosen; standard contractual clauses",
        how_to_ask="https://www.microsoft.com/concern/privacy",
    ),
    Processor(
        name="Twilio",
        service="Programmable Voice",
        role="Carries your calls and verifies your own number as caller ID.",
        data="Numbers dialled and shown, call times, durations, status and quality signals.",
        location="United States and the edge locations that carry the call",
        safeguard="Twilio's Data Protection Addendum with standard contractual clauses; "
        "Binding Corporate Rules",
        how_to_ask="https://www.twilio.com/en-us/legal/privacy",
    ),
    Processor(
        name="Stripe",
        service="Stripe Checkout",
        role="Takes your payments; holds your card details so we never do.",
        data="Card details, billing details, payment and fraud-prevention signals.",
        location="United States and worldwide",
        safeguard="EU-U.S. Data Privacy Framework; standard contractual clauses",
        how_to_ask="https://stripe.com/privacy",
    ),
)


def kind_named(name: str) -> RecordKind:
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise KeyError(name)


def kind_of(table: str, row_key: str) -> RecordKind | None:
    """The kind a row is: an exact key first, then the longest matching prefix."""
    exact = [k for k in KINDS if not k.prefix and k.matches(table, row_key)]
    if exact:
        return exact[0]
    prefixed = [k for k in KINDS if k.prefix and k.matches(table, row_key)]
    return max(prefixed, key=lambda k: len(k.row_key), default=None)


def setting_values(privacy: PrivacySettings, sessions: SessionSettings) -> dict[str, int | str]:
    """What a retention rule's {NAME}s stand for."""
    return {
        "CALL_RETENTION_DAYS": privacy.call_retention_days,
        "ACCOUNTING_RETENTION_YEARS": privacy.accounting_retention_years,
        "SESSION_IDLE_DAYS": sessions.idle_seconds // 86400,
        "SESSION_ABSOLUTE_DAYS": sessions.absolute_seconds // 86400,
    }

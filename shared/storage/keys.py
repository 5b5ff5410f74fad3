"""Where each kind of record lives: table names and RowKey layout, in one place.

One user's account is one partition of the accounts table (PartitionKey = the opaque user
id), so every change of balance can be one entity-group transaction with the rows it
touches. The privacy registry describes these same kinds; a new kind of row starts here.
The opencalls table indexes the calls placed and not yet settled, so that reconciliation reads
those rather than every account (see open_call_key).
"""

from __future__ import annotations

import re

ACCOUNTS_TABLE = "accounts"
IDENTITIES_TABLE = "identities"
OPEN_CALLS_TABLE = "opencalls"

# Keys of the single rows of an account partition.
PROFILE_KEY = "profile"
BALANCE_KEY = "balance"
HOLD_KEY = "hold"

# Prefixes of the repeated rows of an account partition.
LEDGER_PREFIX = "ledger:"
JOURNAL_PREFIX = "journal:"
CALL_PREFIX = "call:"
PAYMENT_PREFIX = "payment:"
# Consent choices (consent:<inverted time>, newest first): each change is kept, as proof.
CONSENT_PREFIX = "consent:"
# Sign-in sessions (session:<random id>): in the account's partition, so they end with it.
SESSION_PREFIX = "session:"

IDENTITY_KEY = "identity"

# Sign-ins in progress: what MSAL needs to finish a flow (its PKCE verifier, nonce, state)
# and where to go back to, kept server-side, one row per flow (PartitionKey = the SHA-256 of
# the flow's OAuth state), read once and deleted.
SIGN_IN_FLOWS_TABLE = "authflows"
SIGN_IN_FLOW_KEY = "flow"

# Table Storage forbids / \ # ? and control characters in keys; external ids (Stripe,
# Twilio) never use them, and anything else is refused rather than escaped.
_ENTRY_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,200}")
_SEQ_DIGITS = 19
_MAX_SEQ = 10**_SEQ_DIGITS - 1


def is_valid_entry_id(entry_id: str) -> bool:
    return bool(_ENTRY_ID.fullmatch(entry_id))


def ledger_key(entry_id: str) -> str:
    if not is_valid_entry_id(entry_id):
        raise ValueError(f"ledger entry id {entry_id!r} has characters a RowKey cannot hold")
    return LEDGER_PREFIX + entry_id


def journal_key(seq: int) -> str:
    """Newest first: keys sort ascending, so the sequence number is inverted."""
    return f"{JOURNAL_PREFIX}{_MAX_SEQ - seq:0{_SEQ_DIGITS}d}"


def call_key(call_sid: str) -> str:
    if not is_valid_entry_id(call_sid):
        raise ValueError(f"call id {call_sid!r} has characters a RowKey cannot hold")
    return CALL_PREFIX + call_sid


def session_key(session_id: str) -> str:
    if not is_valid_entry_id(session_id):
        raise ValueError(f"session id {session_id!r} has characters a RowKey cannot hold")
    return SESSION_PREFIX + session_id


def payment_key(payment_id: str) -> str:
    if not is_valid_entry_id(payment_id):
        raise ValueError(f"payment id {payment_id!r} has characters a RowKey cannot hold")
    return PAYMENT_PREFIX + payment_id


# The call history: one row per call, a copy of its call row under a key that sorts newest
# first (like the ledger's journal), so that listing is one ranged query, page by page.
CALL_HISTORY_PREFIX = "callhistory:"


def call_history_key(started_at_micros: int, call_sid: str) -> str:
    """Newest first: the start time (µs since the epoch) is inverted; the sid breaks ties."""
    if not is_valid_entry_id(call_sid):
        raise ValueError(f"call id {call_sid!r} has characters a RowKey cannot hold")
    return f"{CALL_HISTORY_PREFIX}{_MAX_SEQ - started_at_micros:0{_SEQ_DIGITS}d}:{call_sid}"


# Checkout Sessions started by the user (checkout:cs_…), so the success page can read the
# outcome from our own rows; the payment itself is the payment:pi_… row.
CHECKOUT_PREFIX = "checkout:"

# Who paid with which PaymentIntent (PartitionKey = the pi_… id), so that a refund or a dispute
# finds the account from our own records before asking Stripe.
PAYMENTS_TABLE = "payments"
PAYMENT_OWNER_KEY = "owner"


def checkout_key(session_id: str) -> str:
    if not is_valid_entry_id(session_id):
        raise ValueError(f"checkout id {session_id!r} has characters a RowKey cannot hold")
    return CHECKOUT_PREFIX + session_id


# The index of open calls: one row per call from just before it is placed until it is settled.
# One fixed partition: the index holds only the calls in progress (and the odd row a crash left
# behind), so reconciliation reads it whole in one single-partition query. Time buckets would
# spread nothing (every new call lands in the current bucket) and would make that query span
# every bucket back to the oldest row left behind. A partition serves some 2,000 operations a
# second, and a call costs the index two (insert, delete): far beyond what a prepaid dialler needs.
OPEN_CALLS_PARTITION = "open"


def open_call_key(user_id: str, call_sid: str) -> str:
    for name, value in (("user id", user_id), ("call id", call_sid)):
        if not is_valid_entry_id(value):
            raise ValueError(f"{name} {value!r} has characters a RowKey cannot hold")
    return f"{user_id}:{call_sid}"


# Caller IDs. The user's own record of their caller ID is one row of their account partition
# (so it ends with the account); who holds a number is OwnNumber's ownership index: one row
# per E.164 number (PartitionKey = the number), created with an insert that fails when the row
# is there, so that of two users racing for one number exactly one wins.
CALLER_ID_KEY = "callerid"
CALLER_ID_OWNERS_TABLE = "callerids"
CALLER_ID_OWNER_KEY = "owner"

# Counters of attempts per fixed hour (PartitionKey = what is counted, RowKey = the hour), kept
# in storage so that every instance of the app counts alike.
LIMITS_TABLE = "limits"


# A deleted account's books, pseudonymised: its balance, ledger, journal and payment rows move
# to a partition named by a random token (PSEUDONYM_PREFIX + 32 hex), which holds also one
# ARCHIVE_KEY row saying until when they are kept. The archives table indexes those partitions
# (one fixed partition, RowKey = the pseudonym) so the retention run finds the ones due in one
# single-partition query.
PSEUDONYM_PREFIX = "p"
ARCHIVE_KEY = "archive"
ARCHIVES_TABLE = "archives"
ARCHIVES_PARTITION = "archive"

# Deletions in progress (PartitionKey = the user id): which pseudonym the books go to, so that
# a deletion cut short and resumed moves them to the same place, and how far it got.
ERASURES_TABLE = "erasures"
ERASURE_KEY = "erasure"

# Where the retention run stopped when its budget ended (one row), so that the next run goes
# on from there.
RETENTION_TABLE = "retention"
RETENTION_PARTITION = "retention"
RETENTION_PROGRESS_KEY = "progress"

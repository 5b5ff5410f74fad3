"""A user's rows of the kinds keyed by something other than the user id (Linked.USER_FIELD):
the sign-in identity (keyed by a hash), the caller ID's ownership row (by the number), the
payment owners (by PaymentIntent) and the open-call index (one shared partition).

Each is found from a row of the user's own partition, or by the user id at the start of its
key, and counts as the user's only while it names them in user_id: a number someone else holds
now, or an owner row repointed to pseudonymised books, is not theirs. The export shows these
rows and the erasure removes them; both find them here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from shared.privacy.registry import RecordKind
from shared.storage import keys
from shared.storage.rows import Row

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table

# The kinds this module finds (tests/unit/test_export_files.py checks it against the registry's
# USER_FIELD kinds, so that a new such kind fails there, not in a user's export or deletion).
LINKED_KINDS = frozenset({"identity", "caller_id_owner", "payment_owner", "open_call"})


def linked_rows(
    kind: RecordKind, user_id: str, tables: Callable[[str], Table]
) -> Iterator[tuple[str, Row]]:
    """(PartitionKey, row) of each of the user's rows of this kind; LookupError for a kind
    this module does not know how to find (teach it, or the export and erasure miss it)."""
    table = tables(kind.table)
    for partition, key in _candidates(kind, user_id, tables):
        row = table.get(partition, key)
        if row is not None and row.text("user_id") == user_id:
            yield partition, row


def _candidates(
    kind: RecordKind, user_id: str, tables: Callable[[str], Table]
) -> Iterator[tuple[str, str]]:
    accounts = tables(keys.ACCOUNTS_TABLE)
    if kind.name == "identity":
        profile = accounts.get(user_id, keys.PROFILE_KEY)
        identity = profile.text("identity_key") if profile else ""
        if identity:
            yield identity, keys.IDENTITY_KEY
    elif kind.name == "caller_id_owner":
        record = accounts.get(user_id, keys.CALLER_ID_KEY)
        if record is not None and record.text("number"):
            yield record.text("number"), keys.CALLER_ID_OWNER_KEY
    elif kind.name == "payment_owner":
        for payment in accounts.rows(user_id, keys.PAYMENT_PREFIX):
            if payment.text("payment_intent_id"):
                yield payment.text("payment_intent_id"), keys.PAYMENT_OWNER_KEY
    elif kind.name == "open_call":
        # By key, not through the hold: a row a crash left behind without its hold is found too.
        index = tables(keys.OPEN_CALLS_TABLE)
        for row in index.rows(keys.OPEN_CALLS_PARTITION, f"{user_id}:"):
            yield keys.OPEN_CALLS_PARTITION, row.key
    else:
        raise LookupError(f"no way to find the {kind.name} rows of a user: teach linked_rows")

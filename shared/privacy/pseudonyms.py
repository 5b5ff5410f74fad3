"""What a deleted account's books become: plain decisions over rows, no storage.

The rows of every kind the registry marks PSEUDONYMISE move under a random token in place of
the user id, and each personal field the registry's `pseudonymised` names is cut as it says:
"dropped" fields go, and `details` of a call charge keeps the call's sid, country and rate
prefix (taken from the call row, which is about to be erased), never the number dialled.
Every function here is a pure function of the original row, so a deletion cut short and run
again writes exactly the same rows.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime

from shared.money.ledger import EntryKind
from shared.privacy.registry import RecordKind
from shared.storage.keys import PSEUDONYM_PREFIX
from shared.storage.rows import Row, Value

# What a call charge's details keep: enough to match the books with Twilio's invoice.
CALL_DETAILS_KEPT = ("call_sid", "country", "rate_prefix")
_DROPPED = "dropped"


def new_pseudonym() -> str:
    """The partition a deleted account's books go to: unguessable and unlinked to the user."""
    return PSEUDONYM_PREFIX + secrets.token_hex(16)


def is_pseudonym(partition: str) -> bool:
    rest = partition.removeprefix(PSEUDONYM_PREFIX)
    return partition.startswith(PSEUDONYM_PREFIX) and len(rest) == 32 and _is_hex(rest)


def kept_until(erased_at: datetime, years: int) -> datetime:
    """The same day `years` later (28 February for a 29th that year lacks)."""
    try:
        return erased_at.replace(year=erased_at.year + years)
    except ValueError:
        return erased_at.replace(year=erased_at.year + years, day=28)


CallLookup = Callable[[str], Row | None]


def pseudonymised(kind: RecordKind, row: Row, call_of: CallLookup) -> dict[str, Value]:
    """The row's data as the pseudonymised books keep it (ValueError for a field the registry
    says is personal but no rule here knows how to cut: fail rather than keep it)."""
    data = dict(row.data)
    for name, rule in kind.pseudonymised.items():
        if rule == _DROPPED:
            data.pop(name, None)
        elif name == "details":
            data[name] = _cut_details(row, call_of)
        else:
            raise ValueError(f"no rule pseudonymises {kind.name}.{name} ({rule!r})")
    return data


def _cut_details(row: Row, call_of: CallLookup) -> str:
    raw = row.text("details") or "{}"
    details = json.loads(raw)
    if row.text("kind") != EntryKind.CALL_CHARGE.value or not isinstance(details, dict):
        # Stripe references (pi_, re_, du_) and adjustments name no person.
        return raw
    sid = str(details.get("call_sid", ""))
    call = call_of(sid) if sid else None
    kept: dict[str, object] = {"call_sid": sid}
    country = call.text("country") if call else str(details.get("country", ""))
    if country:
        kept["country"] = country
    prefix = call.text("rate_prefix") if call else ""
    if prefix:
        kept["rate_prefix"] = prefix
    return json.dumps(kept, separators=(",", ":"), sort_keys=True)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)

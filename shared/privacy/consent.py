"""Consent: what a person chose about the one optional kind of processing, browser analytics.

Necessary storage (the session cookie, the sign-in cookie, the remembered choice) is always
on; analytics is opt-in. Every change is a new row of the account (consent:<inverted time>,
newest first, like the journal) with the time and the policy version it was made under, so
the history proves what was agreed to and when; the newest row is the choice in force.

Global Privacy Control is a refusal: a request that carries it (`Sec-GPC: 1`) stores
analytics false with gpc true, whatever it asked for, and reads analytics false whatever was
stored, since the signal of today outranks a consent of yesterday.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.errors import InvalidInput
from shared.privacy.policy import POLICY_VERSION
from shared.storage.keys import CONSENT_PREFIX, consent_key
from shared.storage.rows import Insert, Row, Value

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class Source(StrEnum):
    """Where the choice was made."""

    BANNER = "banner"
    ACCOUNT = "account"


@dataclass(frozen=True)
class ConsentChoice:
    analytics: bool
    gpc: bool
    policy_version: str
    # None: no choice made yet (analytics is then off).
    changed_at: datetime | None
    source: Source | None

    def under_gpc(self, gpc: bool) -> ConsentChoice:
        """The choice as it holds for a request that does (or does not) send GPC."""
        return replace(self, analytics=False, gpc=True) if gpc else self


NO_CHOICE = ConsentChoice(
    analytics=False, gpc=False, policy_version=POLICY_VERSION, changed_at=None, source=None
)


@dataclass(frozen=True)
class ConsentRequest:
    analytics: bool
    source: Source


def parse_consent_request(data: Mapping[str, Any]) -> ConsentRequest:
    """The body of PUT /api/me/consent, or InvalidInput with a sentence."""
    analytics = data.get("analytics")
    if not isinstance(analytics, bool):
        raise InvalidInput("The field 'analytics' is required and must be true or false.")
    source = data.get("source")
    if source not in tuple(Source):
        choices = " or ".join(repr(s.value) for s in Source)
        raise InvalidInput(f"The field 'source' is required and must be {choices}.")
    return ConsentRequest(analytics=analytics, source=Source(source))


@dataclass
class Consents:
    accounts: Table
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    tiebreak: Callable[[], str] = field(default=lambda: secrets.token_hex(4))

    def current(self, user_id: str) -> ConsentChoice:
        """The newest choice, or NO_CHOICE before the first."""
        page = self.accounts.page(user_id, CONSENT_PREFIX, 1)
        return _choice(page.rows[0]) if page.rows else NO_CHOICE

    def record(self, user_id: str, request: ConsentRequest, *, gpc: bool) -> ConsentChoice:
        """Stores the choice as a new row (under GPC: a refusal) and returns it."""
        now = self.clock()
        choice = ConsentChoice(
            analytics=request.analytics and not gpc,
            gpc=gpc,
            policy_version=POLICY_VERSION,
            changed_at=now,
            source=request.source,
        )
        micros = (now - _EPOCH) // _MICROSECOND
        row: dict[str, Value] = {
            "analytics": choice.analytics,
            "gpc": choice.gpc,
            "policy_version": choice.policy_version,
            "changed_at": now,
            "source": request.source.value,
        }
        self.accounts.commit(user_id, [Insert(consent_key(micros, self.tiebreak()), row)])
        return choice


def _choice(row: Row) -> ConsentChoice:
    changed_at = row.get("changed_at")
    source = row.text("source")
    return ConsentChoice(
        analytics=row.get("analytics") is True,
        gpc=row.get("gpc") is True,
        policy_version=row.text("policy_version"),
        changed_at=changed_at if isinstance(changed_at, datetime) else None,
        source=Source(source) if source in tuple(Source) else None,
    )

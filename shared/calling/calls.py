"""Calls in storage, in the user's partition of the accounts table: the one front that the
functions and reconciliation use, composing the jobs that each live in their own module.

- Placing the call and the user's single active-call hold: shared.calling.placing.
- Following Twilio's reports about it: shared.calling.reports.
- Settling it exactly once, in one ledger post: shared.calling.settling.
- Reading calls back, one or a page of history: shared.calling.history.

The decisions themselves are in shared.calling.lifecycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.calling.history import CallHistory, CallsPage
from shared.calling.lifecycle import CallRecord, StatusReport
from shared.calling.open_calls import OpenCalls
from shared.calling.placing import Placement, Placing
from shared.calling.pricing import PricedDestination
from shared.calling.reports import ReportResult, Reports
from shared.calling.settling import Settling
from shared.config import LimitSettings
from shared.money.ledger import Ledger

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Calls:
    accounts: Table
    open_calls: OpenCalls
    ledger: Ledger
    currency: str
    reconcile_margin: timedelta
    clock: Callable[[], datetime] = field(default=_utc_now)
    max_attempts: int = 30
    velocity: LimitSettings | None = None
    placing: Placing = field(init=False, repr=False)
    reports: Reports = field(init=False, repr=False)
    call_history: CallHistory = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.placing = Placing(
            self.accounts,
            self.open_calls,
            self.currency,
            self.reconcile_margin,
            self.clock,
            self.max_attempts,
            self.velocity,
        )
        settling = Settling(self.accounts, self.open_calls, self.ledger)
        self.reports = Reports(self.accounts, settling, self.max_attempts)
        self.call_history = CallHistory(self.accounts)

    def place(
        self, user_id: str, call_sid: str, priced: PricedDestination, session: str
    ) -> Placement:
        """See Placing.place."""
        return self.placing.place(user_id, call_sid, priced, session)

    def report(self, user_id: str, call_sid: str, report: StatusReport) -> ReportResult:
        """See Reports.apply."""
        return self.reports.apply(user_id, call_sid, report)

    def get(self, user_id: str, call_sid: str) -> CallRecord | None:
        return self.call_history.get(user_id, call_sid)

    def history(self, user_id: str, limit: int, continuation: str | None = None) -> CallsPage:
        """The user's calls, newest first, one page."""
        return self.call_history.page(user_id, limit, continuation)

"""Reading calls back from the user's partition of the accounts table: one call by its sid,
and the user's history, newest first, page by page.

Reads only: placing (shared.calling.placing), reports (shared.calling.reports) and settling
(shared.calling.settling) write the call row and its history row together, so either one
shows the call as it stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.calling.lifecycle import CallRecord
from shared.storage.keys import CALL_HISTORY_PREFIX, call_key

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table


@dataclass(frozen=True)
class CallsPage:
    calls: list[CallRecord]
    continuation: str | None


@dataclass
class CallHistory:
    accounts: Table

    def get(self, user_id: str, call_sid: str) -> CallRecord | None:
        row = self.accounts.get(user_id, call_key(call_sid))
        return CallRecord.from_row(row) if row else None

    def page(self, user_id: str, limit: int, continuation: str | None = None) -> CallsPage:
        """The user's calls, newest first, one page."""
        page = self.accounts.page(user_id, CALL_HISTORY_PREFIX, limit, continuation)
        return CallsPage([CallRecord.from_row(row) for row in page.rows], page.continuation)

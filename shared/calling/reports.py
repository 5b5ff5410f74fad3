"""Following Twilio's reports about a call: a status callback, the <Dial action>, or
reconciliation's reading of the Calls API, applied to the call row in the user's partition of
the accounts table.

Each report is decided by the pure shared.calling.lifecycle, from the call row as read: a step
forward rewrites the call row (If-Match on the row read) and its history row; a final status is
handed to shared.calling.settling. A call that changed between the decision and the write is
read and decided again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from shared.calling.errors import CallsBusy
from shared.calling.lifecycle import (
    FINAL_RANK,
    CallRecord,
    StatusReport,
    Step,
    apply_report,
    status_rank,
)
from shared.calling.settling import Beside, Reconsider, Settling
from shared.money.ledger import back_off, balance_from_row
from shared.storage.errors import RowChanged
from shared.storage.keys import BALANCE_KEY, HOLD_KEY, call_key
from shared.storage.rows import Replace

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table


class ReportEffect(StrEnum):
    UNKNOWN_CALL = "unknown_call"
    IGNORED = "ignored"
    UPDATED = "updated"
    SETTLED = "settled"
    ALREADY_SETTLED = "already_settled"


@dataclass(frozen=True)
class ReportResult:
    effect: ReportEffect
    record: CallRecord | None = None
    why: str = ""


@dataclass
class Reports:
    accounts: Table
    settling: Settling
    max_attempts: int = 30

    def apply(self, user_id: str, call_sid: str, report: StatusReport) -> ReportResult:
        """Apply one report about the call `call_sid` (the parent CallSid) of this user."""
        key = call_key(call_sid)
        # A final report settles the call from its row, the balance and the hold: read all
        # three at once rather than one after another.
        final = status_rank(report.status) == FINAL_RANK
        for attempt in range(self.max_attempts):
            beside = None
            if final:
                rows = self.accounts.get_many(user_id, (key, BALANCE_KEY, HOLD_KEY))
                row = rows.get(key)
                beside = Beside(balance_from_row(rows.get(BALANCE_KEY)), rows.get(HOLD_KEY))
            else:
                row = self.accounts.get(user_id, key)
            if row is None:
                return ReportResult(ReportEffect.UNKNOWN_CALL)
            outcome = apply_report(CallRecord.from_row(row), report)
            try:
                if outcome.step is Step.UPDATE:
                    data = outcome.record.to_data()
                    self.accounts.commit(
                        user_id,
                        [Replace(key, data, row.etag), Replace(outcome.record.history_key, data)],
                    )
                    return ReportResult(ReportEffect.UPDATED, outcome.record)
                if outcome.step is Step.SETTLE:
                    settled = self.settling.settle(user_id, report, outcome, row, beside)
                    effect = ReportEffect.SETTLED if settled else ReportEffect.ALREADY_SETTLED
                    return ReportResult(effect, outcome.record)
            except (Reconsider, RowChanged):
                back_off(attempt)
                continue
            effect = (
                ReportEffect.ALREADY_SETTLED
                if outcome.step is Step.ALREADY_SETTLED
                else ReportEffect.IGNORED
            )
            return ReportResult(effect, outcome.record, outcome.why)
        raise CallsBusy(f"call {call_sid} stayed busy")

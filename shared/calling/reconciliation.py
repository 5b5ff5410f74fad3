"""Reconciliation: settling, from Twilio's own records, the calls whose final report never
came, so that a lost webhook neither gives a call away nor blocks the user's next call.

Every open call old enough is looked at (see Hold.is_due), found through the open-calls index
(calling.open_calls) rather than by reading every account: past its call's time limit plus the
margin, or simply older than a short grace, since Twilio says "in progress" about a call that
still goes on and reconciliation then waits. An index row whose call is settled, missing or no
longer holds the account is removed. One call that cannot be reconciled (Twilio or storage
unavailable, a damaged row) is counted and logged, and the run goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from shared.calling.calls import Calls
from shared.calling.calls_api import CallsApi, TwilioApiUnavailable
from shared.calling.errors import CallsBusy
from shared.calling.lifecycle import reconciliation_report
from shared.calling.reports import ReportEffect
from shared.storage.errors import RowChanged, StorageUnavailable
from shared.storage.keys import HOLD_KEY
from shared.storage.rows import Remove

logger = logging.getLogger("ownnumber.reconciliation")


@dataclass(frozen=True)
class ReconcileSummary:
    due: int = 0
    settled: int = 0
    waiting: int = 0
    failed: int = 0
    # Index rows with no open call behind them (a crash while placing, a failed removal).
    cleared: int = 0


class _Result(Enum):
    SETTLED = "settled"
    WAITING = "waiting"
    CLEARED = "cleared"


def reconcile(calls: Calls, api: CallsApi, grace: timedelta) -> ReconcileSummary:
    """Settle what Twilio's Calls API says about every open call that is due; count the
    outcomes. Only the open-calls index is queried, never the accounts."""
    now = calls.clock()
    counts = dict.fromkeys(_Result, 0)
    due = failed = 0
    # Past the grace, or past its time limit (a second at least) plus the margin.
    cutoff = now - min(grace, calls.reconcile_margin)
    for open_call in calls.open_calls.placed_until(cutoff):
        call_sid = open_call.hold.call_sid
        try:
            if not open_call.hold.is_due(now, calls.reconcile_margin, grace):
                continue
            due += 1
            counts[_reconcile_one(calls, api, open_call.user_id, call_sid, now)] += 1
        except (TwilioApiUnavailable, StorageUnavailable, CallsBusy) as error:
            failed += 1
            logger.warning("Could not reconcile call %s: %s", call_sid, error)
        except Exception:
            # A damaged row, or a bug: this call waits for an operator, the others go on.
            failed += 1
            logger.exception("Reconciling call %s failed", call_sid)
    return ReconcileSummary(
        due,
        counts[_Result.SETTLED],
        counts[_Result.WAITING],
        failed,
        counts[_Result.CLEARED],
    )


def _reconcile_one(
    calls: Calls, api: CallsApi, user_id: str, call_sid: str, now: datetime
) -> _Result:
    hold = calls.accounts.get(user_id, HOLD_KEY)
    # The ETag of the account's hold if it is this call's, else None.
    hold_etag = hold.etag if hold is not None and hold.text("call_sid") == call_sid else None
    record = calls.get(user_id, call_sid)
    if record is None or record.is_final:
        if hold_etag is not None:
            # Holds are released with their call's settlement, so this one lost its call.
            logger.error("Releasing the hold of call %s, which has no open call", call_sid)
            try:
                calls.accounts.commit(user_id, [Remove(HOLD_KEY, hold_etag)])
            except RowChanged:
                pass  # released or replaced meanwhile
        calls.open_calls.remove(user_id, call_sid)
        return _Result.CLEARED if hold_etag is None else _Result.SETTLED
    if hold_etag is None:
        # Another call replaced its hold as stale (logged then): it is left for an operator.
        logger.error("Call %s is open but no longer holds the account; not settling it", call_sid)
        calls.open_calls.remove(user_id, call_sid)
        return _Result.CLEARED
    parent = api.fetch(record.call_sid)
    if parent is None:
        # Never settled as free on this: a wrong API key, account or region says it of
        # every call. The hold turns stale in time; an operator should look before that.
        logger.error(
            "Twilio's Calls API does not know call %s; check TWILIO_ACCOUNT_SID and the API "
            "key, and the call",
            record.call_sid,
        )
        return _Result.WAITING
    children = api.children(record.call_sid)
    report = reconciliation_report(record, parent, children, now)
    if report is None:
        logger.warning("Call %s is due but Twilio cannot settle it yet", record.call_sid)
        return _Result.WAITING
    result = calls.report(user_id, record.call_sid, report)
    if result.effect is ReportEffect.ALREADY_SETTLED:
        calls.open_calls.remove(user_id, call_sid)  # settled meanwhile, perhaps not removed
    if result.effect in (ReportEffect.SETTLED, ReportEffect.ALREADY_SETTLED):
        return _Result.SETTLED
    return _Result.WAITING

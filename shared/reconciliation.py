"""Reconciliation: settling, from Twilio's own records, the calls whose final report never
came, so that a lost webhook neither gives a call away nor blocks the user's next call.

Every hold old enough is looked at (see Hold.is_due): past its call's time limit plus the
margin, or simply older than a short grace, since Twilio says "in progress" about a call that
still goes on and reconciliation then waits. One hold that cannot be reconciled (Twilio or
storage unavailable, a damaged row) is counted and logged, and the run goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.call_lifecycle import Hold, reconciliation_report
from shared.calls import Calls, CallsBusy, ReportEffect
from shared.records import HOLD_KEY
from shared.table_store import Remove, RowChanged, StorageUnavailable
from shared.twilio_calls_api import CallsApi, TwilioApiUnavailable

logger = logging.getLogger("ownnumber.reconciliation")


@dataclass(frozen=True)
class ReconcileSummary:
    due: int = 0
    settled: int = 0
    waiting: int = 0
    failed: int = 0


def reconcile(calls: Calls, api: CallsApi, grace: timedelta) -> ReconcileSummary:
    """Settle what Twilio's Calls API says about every hold that is due; count the outcomes."""
    now = calls.clock()
    due = settled = waiting = failed = 0
    for user_id, row in calls.accounts.scan(HOLD_KEY):
        call_sid = row.get("call_sid")
        try:
            hold = Hold.from_row(row)
            if not hold.is_due(now, calls.reconcile_margin, grace):
                continue
            due += 1
            if _reconcile_one(calls, api, user_id, hold, row.etag, now):
                settled += 1
            else:
                waiting += 1
        except (TwilioApiUnavailable, StorageUnavailable, CallsBusy) as error:
            failed += 1
            logger.warning("Could not reconcile call %s: %s", call_sid, error)
        except Exception:
            # A damaged row, or a bug: this hold waits for an operator, the others go on.
            failed += 1
            logger.exception("Reconciling call %s failed", call_sid)
    return ReconcileSummary(due, settled, waiting, failed)


def _reconcile_one(
    calls: Calls, api: CallsApi, user_id: str, hold: Hold, hold_etag: str, now: datetime
) -> bool:
    record = calls.get(user_id, hold.call_sid) if hold.call_sid else None
    if record is None or record.is_final:
        # Holds are released with their call's settlement, so this one lost its call.
        logger.error("Releasing the hold of call %s, which has no open call", hold.call_sid)
        try:
            calls.accounts.commit(user_id, [Remove(HOLD_KEY, hold_etag)])
        except RowChanged:
            pass  # released or replaced meanwhile
        return True
    parent = api.fetch(record.call_sid)
    if parent is None:
        # Never settled as free on this: a wrong API key, account or region says it of
        # every call. The hold turns stale in time; an operator should look before that.
        logger.error(
            "Twilio's Calls API does not know call %s; check TWILIO_ACCOUNT_SID and the API "
            "key, and the call",
            record.call_sid,
        )
        return False
    children = api.children(record.call_sid)
    report = reconciliation_report(record, parent, children, now)
    if report is None:
        logger.warning("Call %s is due but Twilio cannot settle it yet", record.call_sid)
        return False
    result = calls.report(user_id, record.call_sid, report)
    return result.effect in (ReportEffect.SETTLED, ReportEffect.ALREADY_SETTLED)

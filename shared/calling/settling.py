"""Settling a call exactly once, in the user's partition of the accounts table.

Settling is one ledger post keyed by the dialled leg's CallSid (Ledger.post with `also=`): the
debit, the final call row and history row, and the released hold. A second final report finds
the call settled, or loses the race on the ledger entry; either way nothing changes. A call
with no dialled leg owes nothing: its rows and its hold are written alone. Once settled, the
call leaves the open-calls index (shared.calling.open_calls).

Which report settles a call, and at what price, is decided in shared.calling.lifecycle; this
module writes that decision, and refuses to (Reconsider) when the call moved meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.calling.lifecycle import CallRecord, Outcome, StatusReport, Step, apply_report
from shared.calling.open_calls import OpenCalls
from shared.limits import velocity
from shared.money.ledger import Balance, EntryKind, Ledger, PostStatus
from shared.storage.keys import HOLD_KEY, call_key
from shared.storage.rows import Op, Remove, Replace, Row

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table

logger = logging.getLogger("ownnumber.calls")


class Reconsider(Exception):
    """The call changed between deciding and writing: read it again and decide again."""


@dataclass(frozen=True)
class Beside:
    """The rows a final report reads together with its call's (one round trip): the balance
    the charge is posted on and the hold it releases, used by the settlement's first attempt."""

    balance: Balance
    hold: Row | None


@dataclass
class Settling:
    accounts: Table
    open_calls: OpenCalls
    ledger: Ledger

    def settle(
        self,
        user_id: str,
        report: StatusReport,
        decided: Outcome,
        read: Row,
        beside: Beside | None = None,
    ) -> bool:
        """Write the settlement `decided` from the call row `read` (and the rows read `beside`
        it): True once it is written, False when the call's ledger entry was already posted
        (another report settled it).

        Raises Reconsider, or RowChanged, when the call changed after `read`.
        """
        settled = decided.record
        key = call_key(settled.call_sid)
        # The first attempt conditions on the rows the decision was made from (their ETags
        # guard them); later attempts read them again.
        unused: list[Row] = [read]
        holds: list[Row | None] = [beside.hold] if beside is not None else []

        def settlement_ops(_: Balance | None = None) -> list[Op]:
            # Called again on every attempt of the post: the rows it conditions on are re-read,
            # and a call settled meanwhile (or changed in what it owes) stops the post.
            row = unused.pop() if unused else self.accounts.get(user_id, key)
            if row is None:
                raise Reconsider
            again = apply_report(CallRecord.from_row(row), report)
            if again.step is not Step.SETTLE:
                raise Reconsider
            final = again.record
            if (final.child_sid, final.charge_micros) != (settled.child_sid, settled.charge_micros):
                raise Reconsider
            data = final.to_data()
            ops: list[Op] = [Replace(key, data, row.etag), Replace(final.history_key, data)]
            hold = holds.pop() if holds else self.accounts.get(user_id, HOLD_KEY)
            if hold is not None and hold.text("call_sid") == final.call_sid:
                ops.append(Remove(HOLD_KEY, hold.etag))
            return ops

        if settled.child_sid:
            posted = self.ledger.post(
                user_id,
                settled.child_sid,
                -settled.charge_micros,
                EntryKind.CALL_CHARGE,
                _charge_details(settled),
                also=settlement_ops,
                read=beside.balance if beside is not None else None,
                # The day's spend counted the call's maximum when it was placed: give back the
                # part it did not cost, in the balance write this post makes anyway.
                extra=lambda fields: velocity.settle(
                    fields,
                    settled.rate.charge(settled.max_seconds),
                    settled.charge_micros,
                    settled.started_at,
                ),
            )
            if posted.status is PostStatus.ALREADY_APPLIED:
                return False
        else:
            # No leg was dialled, so there is nothing to bill: the call and its hold alone.
            self.accounts.commit(user_id, settlement_ops())
        self.open_calls.remove(user_id, settled.call_sid)
        logger.info(
            "Settled call %s (%s, %s s billed, %s micros) from %s",
            settled.call_sid,
            settled.status,
            settled.billed_seconds,
            settled.charge_micros,
            report.source.value,
        )
        return True


def _charge_details(record: CallRecord) -> dict[str, str | int]:
    # What the ledger shows of a call; the dialled number stays in the call row, which the
    # privacy rules can erase, while the ledger is kept for accounting.
    return {
        "call_sid": record.call_sid,
        "status": record.status,
        "country": record.country,
        "destination": record.description,
        "duration_seconds": record.duration_seconds,
        "billed_seconds": record.billed_seconds,
        "per_minute_micros": record.rate.per_minute_micros,
        "increments": record.rate.increments,
    }

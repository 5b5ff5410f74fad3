"""The index of open calls, in a table of its own: one row per call from just before it is
placed until it is settled, so that reconciliation reads the calls in progress rather than
every account.

- The row is inserted before the account transaction that places the call, so a crash leaves
  at worst a row without a call, never a call without a row. Reconciliation finds such a row's
  call missing (or final) and removes it.
- It is removed after the call is settled, best effort: a row left behind is removed the same
  way by the next run of reconciliation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from shared.calling.lifecycle import Hold
from shared.storage.errors import RowChanged, RowExists, StorageUnavailable
from shared.storage.keys import OPEN_CALLS_PARTITION, open_call_key
from shared.storage.rows import Insert, Remove

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table

logger = logging.getLogger("ownnumber.open_calls")


@dataclass(frozen=True)
class OpenCall:
    user_id: str
    # The call's sid, and its start and time limit as known when it was first placed.
    hold: Hold


@dataclass
class OpenCalls:
    table: Table

    def add(self, user_id: str, hold: Hold) -> bool:
        """Index the call; False if it already was (a retried webhook, or a crash before)."""
        data = {"user_id": user_id, **hold.to_data()}
        try:
            self.table.commit(
                OPEN_CALLS_PARTITION, [Insert(open_call_key(user_id, hold.call_sid), data)]
            )
        except RowExists:
            return False
        return True

    def remove(self, user_id: str, call_sid: str) -> None:
        """Best effort: a row left behind is removed by reconciliation."""
        try:
            self.table.commit(OPEN_CALLS_PARTITION, [Remove(open_call_key(user_id, call_sid))])
        except RowChanged:
            pass  # removed meanwhile
        except StorageUnavailable as error:
            logger.warning("Left call %s in the open-calls index: %s", call_sid, error)

    def placed_until(self, cutoff: datetime) -> Iterator[OpenCall]:
        """The calls placed at or before cutoff, still in the index."""
        for row in self.table.rows_until(OPEN_CALLS_PARTITION, "placed_at", cutoff):
            yield OpenCall(row.text("user_id"), Hold.from_row(row))

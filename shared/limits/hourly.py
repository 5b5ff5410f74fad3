"""Attempts per fixed clock hour: one counter row per (what is counted, hour) in the limits
table, incremented with the ETag read, so that two instances counting at once never lose an
attempt and never let one more through than the limit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.storage.errors import RowChanged, RowExists, StorageUnavailable
from shared.storage.rows import Insert, Replace, Value

if TYPE_CHECKING:
    from shared.storage.table_store import Table

# Tries of the read-then-write against other counters of the same hour before giving up.
_ATTEMPTS = 5


class HourlyLimitReached(Exception):
    """`limit` attempts are spent this hour; the next is allowed in retry_after_seconds."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"the hourly limit is reached; retry in {retry_after_seconds} s")
        self.retry_after_seconds = max(1, retry_after_seconds)

    @property
    def minutes(self) -> int:
        """The wait in whole minutes, at least one, for a sentence."""
        return max(1, round(self.retry_after_seconds / 60))


def count_attempt(limits: Table, partition: str, limit: int, now: datetime) -> None:
    """Counts one attempt of `partition` in now's clock hour, or HourlyLimitReached when
    `limit` are spent (the refused attempt is not counted)."""
    hour = now.strftime("%Y%m%d%H")
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    for _ in range(_ATTEMPTS):
        row = limits.get(partition, hour)
        try:
            if row is None:
                limits.commit(partition, [Insert(hour, {"count": 1, "until": next_hour})])
                return
            count = row.integer("count")
            if count >= limit:
                raise HourlyLimitReached(int((next_hour - now).total_seconds()) + 1)
            data: dict[str, Value] = {**row.data, "count": count + 1}
            limits.commit(partition, [Replace(hour, data, etag=row.etag)])
            return
        except (RowExists, RowChanged):
            continue  # another attempt counted meanwhile: count again
    raise StorageUnavailable("the attempt counter stayed busy")

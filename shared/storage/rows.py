"""Rows and the operations on them, as plain data: what every module above storage speaks.

The table store (shared.storage.table_store) turns these into azure-data-tables calls; the
decision modules build and read them without importing any SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

# Every value the app stores is one of these; ints are always written as Int64 so that
# money (micros) never overflows Edm.Int32 and reads come back as plain ints.
Value = str | int | bool | datetime | None

# Table Storage's limit on the operations of one entity-group transaction.
MAX_TRANSACTION_OPS = 100


@dataclass(frozen=True)
class Row:
    key: str
    data: Mapping[str, Value]
    etag: str = ""

    def get(self, name: str, default: Value = None) -> Value:
        return self.data.get(name, default)

    def integer(self, name: str, default: int = 0) -> int:
        value = self.data.get(name, default)
        if isinstance(value, datetime):
            raise TypeError(f"{name} holds a time, not a number")
        return int(value) if value is not None else default

    def text(self, name: str, default: str = "") -> str:
        value = self.data.get(name, default)
        return str(value) if value is not None else default


@dataclass(frozen=True)
class Insert:
    """Create the row; fails with RowExists if it is there already."""

    key: str
    data: Mapping[str, Value]


@dataclass(frozen=True)
class Replace:
    """Replace the row. With an etag, only if unchanged since read; without, upsert."""

    key: str
    data: Mapping[str, Value]
    etag: str | None = None


@dataclass(frozen=True)
class Touch:
    """Merge data into the row, which must exist (RowChanged if it does not): a condition on a
    row's presence that costs no read. (azure-data-tables sends an update "Unconditionally"
    as If-Match: *, which the service refuses for a row that is not there.)"""

    key: str
    data: Mapping[str, Value]


@dataclass(frozen=True)
class Remove:
    """Delete the row, only if unchanged since read when an etag is given."""

    key: str
    etag: str | None = None


Op = Insert | Replace | Touch | Remove


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    continuation: str | None = None


@dataclass(frozen=True)
class ScanPage:
    """A page of rows from many partitions: each with the partition it is in."""

    rows: list[tuple[str, Row]]
    continuation: str | None = None

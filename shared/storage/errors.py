"""What can go wrong with storage, named for callers: no SDK here, so that any layer (the HTTP
edge included) can catch these without loading azure-data-tables."""

from __future__ import annotations


class StorageUnavailable(Exception):
    """Table Storage could not be reached or answered with a server error."""


class TableMissing(StorageUnavailable):
    """The table is not there (deleted, or lost by a store restored from an older copy).

    The table store creates it again before raising this, so the caller's retry (Twilio's,
    Stripe's, after our 503) finds it."""


class RowExists(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(f"row {key!r} already exists")
        self.key = key


class RowChanged(Exception):
    """A conditional write found the row changed (or gone) since it was read."""

    def __init__(self, key: str) -> None:
        super().__init__(f"row {key!r} changed since it was read")
        self.key = key


class BadContinuation(ValueError):
    pass

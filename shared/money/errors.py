"""The ledger's errors, in a module that imports nothing, so that the HTTP edge can map them
without loading the ledger."""

from __future__ import annotations


class EntryIdReused(Exception):
    """The entry id was already used for a different amount or kind: never silently merged."""


class LedgerBusy(Exception):
    """The account changed under every attempt; the caller should retry later."""

"""Wiring in one place: builds each dependency from the settings the first time it is needed.

Nothing is created at import time, and each piece is built lazily, so a cold start pays only
for what its first request uses (the Stripe and Twilio SDKs stay unloaded for a balance read).
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property, lru_cache

from shared.accounts import Accounts
from shared.config import Settings, get_settings
from shared.ledger import Ledger
from shared.records import ACCOUNTS_TABLE, IDENTITIES_TABLE, SESSIONS_TABLE
from shared.sessions import Sessions
from shared.table_store import TableStore


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def store(self) -> TableStore:
        return TableStore(self.settings.storage_connection_string)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.store.table(ACCOUNTS_TABLE))

    @cached_property
    def accounts(self) -> Accounts:
        return Accounts(self.store.table(ACCOUNTS_TABLE), self.store.table(IDENTITIES_TABLE))

    @cached_property
    def sessions(self) -> Sessions:
        return Sessions(
            self.store.table(SESSIONS_TABLE), timedelta(seconds=self.settings.session_ttl_seconds)
        )


@lru_cache(maxsize=1)
def get_services() -> Services:
    return Services(get_settings())

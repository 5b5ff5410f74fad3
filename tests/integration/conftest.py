"""Fixtures of the calling tests that other integration tests use too: Twilio's side of the
webhooks, and signed-in accounts with credit and a token identity."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.storage.table_store import TableStore
from tests.integration.test_calling import AccountFactory, Twilio, make_accounts
from tests.servers import LocalHost


@pytest.fixture
def twilio(host: LocalHost) -> Twilio:
    return Twilio(host.base_url)


@pytest.fixture
def account(
    host: LocalHost, table_store: TableStore, fund: Callable[[str, int], None]
) -> AccountFactory:
    return make_accounts(host.base_url, table_store, fund)

"""Shared fixtures: a real Azurite and a real local host per test session, and API clients."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from local_host.azurite import Azurite, free_port
from shared.storage.table_store import Table, TableStore
from tests.servers import LocalHost
from tests.sign_in_servers import EntraSite, LoopbackCA, OidcProvider


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    server = Azurite(free_port()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite_connection(azurite: Azurite) -> str:
    return azurite.connection_string


@pytest.fixture(scope="session")
def table_store(azurite: Azurite) -> TableStore:
    return TableStore(azurite.connection_string)


@pytest.fixture
def fresh_table(table_store: TableStore) -> Table:
    """A new, empty table for one test."""
    return table_store.table("t" + uuid.uuid4().hex[:20])


@pytest.fixture(scope="session")
def host(azurite: Azurite) -> Iterator[LocalHost]:
    server = LocalHost(azurite.connection_string).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def loopback_ca(tmp_path_factory: pytest.TempPathFactory) -> LoopbackCA:
    return LoopbackCA(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def oidc_provider(loopback_ca: LoopbackCA) -> Iterator[OidcProvider]:
    provider = OidcProvider(loopback_ca).start()
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def entra_site(
    azurite: Azurite, loopback_ca: LoopbackCA, oidc_provider: OidcProvider
) -> Iterator[EntraSite]:
    """A production host (https, behind TLS) that signs in through the loopback provider."""
    site = EntraSite(azurite.connection_string, loopback_ca, oidc_provider).start()
    yield site
    site.stop()


class Client:
    """A browser-like API client: keeps the session cookie, sends our Origin on changes."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if method != "GET":
            headers.setdefault("Origin", self.base_url)
        return self.http.request(
            method, self.base_url + path, headers=headers, timeout=30, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def sign_in(self, email: str | None = None, user_agent: str | None = None) -> dict[str, Any]:
        email = email or f"{uuid.uuid4().hex[:12]}@example.com"
        headers = {"User-Agent": user_agent} if user_agent else {}
        response = self.post("/api/auth/dev-login", json={"email": email}, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def client(host: LocalHost) -> Client:
    return Client(host.base_url)


@pytest.fixture
def signed_in(client: Client) -> Client:
    client.sign_in()
    return client


@pytest.fixture
def new_client(host: LocalHost) -> Callable[[], Client]:
    return lambda: Client(host.base_url)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.parent.name
        if folder in ("unit", "integration", "browser"):
            item.add_marker(getattr(pytest.mark, folder))


@pytest.fixture
def fund(table_store: TableStore) -> Callable[[str, int], None]:
    """Gives a user credit by posting to their ledger directly (as an adjustment)."""
    from shared.money.ledger import EntryKind, Ledger
    from shared.storage.keys import ACCOUNTS_TABLE

    ledger = Ledger(table_store.table(ACCOUNTS_TABLE))

    def give(user_id: str, micros: int) -> None:
        ledger.post(user_id, f"test-credit-{uuid.uuid4().hex}", micros, EntryKind.ADJUSTMENT)

    return give


class StripeWebhooks:
    """Stripe's side of the webhook, holding nothing but the webhook secret of the sample
    settings: signs and delivers events, and drives the payments sandbox."""

    SECRET = "whsec_sandbox"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def deliver(
        self, event: dict[str, Any], *, secret: str = SECRET, timestamp: int | None = None
    ) -> requests.Response:
        from local_host.sandbox.stripe_signing import deliver

        return deliver(self.base_url, secret, event, timestamp=timestamp, http=self.http)

    def sandbox(self, kind: str, **body: Any) -> dict[str, Any]:
        """Runs a payments-sandbox action (pay, refund, dispute…) and returns its events."""
        response = self.http.post(
            f"{self.base_url}/sandbox/stripe/_events/{kind}", json=body, timeout=30
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def stripe_webhooks(host: LocalHost) -> StripeWebhooks:
    return StripeWebhooks(host.base_url)

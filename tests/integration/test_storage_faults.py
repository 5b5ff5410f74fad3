"""When Table Storage cannot be reached, every endpoint says so with a 503 and Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from local_host.azurite import DEV_KEY, Azurite, connection_string, free_port
from tests.conftest import Client
from tests.servers import LocalHost


@pytest.fixture(scope="module")
def storage_down() -> Iterator[Client]:
    # A port nothing listens on: connections are refused at once.
    host = LocalHost(connection_string(free_port())).start()
    yield Client(host.base_url)
    host.stop()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/health", None),
        ("GET", "/api/me", None),
        ("GET", "/api/balance", None),
        ("POST", "/api/auth/dev-login", {"email": "a@example.com"}),
    ],
)
def test_unreachable_storage_is_a_503_with_retry_after(
    storage_down: Client, method: str, path: str, body: dict | None
) -> None:
    response = storage_down.request(
        method, path, json=body, headers={"Cookie": "ownnumber_session=some-token"}
    )
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert int(response.headers["Retry-After"]) > 0
    assert "retry" in response.json()["detail"]


def test_static_pages_still_load_while_storage_is_down(storage_down: Client) -> None:
    assert storage_down.get("/").status_code == 200


def test_storage_that_refuses_our_key_is_a_503_and_an_error_in_the_log(azurite: Azurite) -> None:
    # Azurite's account with a key that is not its own: every request is refused with 403.
    wrong_key = connection_string(azurite.port).replace(DEV_KEY, "d3Jvbmcta2V5LWZvci10ZXN0cw==")
    host = LocalHost(wrong_key).start()
    try:
        response = requests.get(f"{host.base_url}/api/health", timeout=30)
        assert response.status_code == 503
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert int(response.headers["Retry-After"]) > 0
    finally:
        output = host.stop()
    assert "Table Storage refused a request: HTTP 403" in output

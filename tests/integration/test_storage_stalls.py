"""Storage that stalls or crawls: every endpoint answers inside the request deadline, with a
503 and Retry-After when storage could not, and nothing is lost or doubled afterwards.

The store sits behind a proxy that passes, slows or swallows its traffic (tests/storage_proxy).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from local_host.azurite import Azurite
from shared.deadline import REQUEST_DEADLINE_SECONDS
from tests.conftest import Client, StripeWebhooks
from tests.integration.test_calling import LONDON, Twilio, call_sid
from tests.integration.test_credit import completed
from tests.servers import LocalHost
from tests.storage_proxy import StorageProxy

# What the deadline may overrun by: the answer's own trip back and a loaded 2-core machine.
SLACK_SECONDS = 3.0
# Twilio gives up on a webhook after this long; every answer must come well before.
TWILIO_BUDGET_SECONDS = 15.0


@pytest.fixture(scope="module")
def proxy(azurite: Azurite) -> Iterator[StorageProxy]:
    server = StorageProxy(azurite.port)
    yield server
    server.close()


@pytest.fixture(scope="module")
def slow_host(proxy: StorageProxy) -> Iterator[LocalHost]:
    host = LocalHost(proxy.connection_string).start()
    yield host
    host.stop()


@pytest.fixture
def store(proxy: StorageProxy) -> Iterator[StorageProxy]:
    proxy.mode = "pass"
    yield proxy
    proxy.mode = "pass"


class User:
    def __init__(self, host: LocalHost, fund: Callable[[str, int], None]) -> None:
        self.client = Client(host.base_url)
        self.user_id = self.client.sign_in()["user_id"]
        fund(self.user_id, 5_000_000)
        self.identity = self.client.post("/api/token").json()["identity"]
        self.twilio = Twilio(host.base_url)
        self.stripe = StripeWebhooks(host.base_url)


Timed = tuple[int, float, requests.Response]


def timed(action: Callable[[], requests.Response]) -> Timed:
    started = time.monotonic()
    response = action()
    return response.status_code, time.monotonic() - started, response


def every_endpoint(user: User, event: dict[str, Any]) -> dict[str, Callable[[], Timed]]:
    voice_form = user.twilio.voice_form(user.identity, LONDON, call_sid())
    voice_url = f"{user.client.base_url}/api/voice"
    return {
        "health": lambda: timed(lambda: user.client.get("/api/health")),
        "balance": lambda: timed(lambda: user.client.get("/api/balance")),
        "voice": lambda: timed(lambda: user.twilio.post(voice_url, voice_form)),
        "stripe": lambda: timed(lambda: user.stripe.deliver(event)),
    }


def run_at_once(actions: dict[str, Callable[[], Timed]]) -> dict[str, Timed]:
    with ThreadPoolExecutor(len(actions)) as pool:
        futures = {name: pool.submit(action) for name, action in actions.items()}
        return {name: future.result() for name, future in futures.items()}


def assert_refused_in_time(results: dict[str, Timed]) -> None:
    for name, (status, seconds, response) in results.items():
        assert status == 503, (name, response.text)
        assert int(response.headers["Retry-After"]) > 0, name
        assert response.headers["Content-Type"].startswith("application/problem+json"), name
        assert seconds < REQUEST_DEADLINE_SECONDS + SLACK_SECONDS < TWILIO_BUDGET_SECONDS, (
            name,
            seconds,
        )


def test_a_store_that_accepts_and_never_answers_is_a_503_inside_the_deadline(
    slow_host: LocalHost, store: StorageProxy, fund: Callable[[str, int], None]
) -> None:
    user = User(slow_host, fund)
    event = completed(user.user_id)

    store.mode = "stall"
    assert_refused_in_time(run_at_once(every_endpoint(user, event)))

    # Stripe redelivers what we refused: once storage is back it lands, exactly once.
    store.mode = "pass"
    assert user.stripe.deliver(event).status_code == 200
    assert user.stripe.deliver(event).json()["outcome"] == "already_applied"
    assert user.client.get("/api/balance").json()["balance_micros"] == 10_000_000
    assert user.client.get("/api/balance").status_code == 200


def test_a_store_four_seconds_slow_per_round_trip_is_a_503_inside_the_deadline(
    slow_host: LocalHost, store: StorageProxy, fund: Callable[[str, int], None]
) -> None:
    user = User(slow_host, fund)
    event = completed(user.user_id)
    store.delay, store.mode = 4.0, "delay"
    results = run_at_once(every_endpoint(user, event))
    store.mode = "pass"
    # /api/health is one round trip and may make it in 4 s; everything else needs more.
    health_status, health_seconds, _ = results.pop("health")
    assert health_status in (200, 503)
    assert health_seconds < REQUEST_DEADLINE_SECONDS + SLACK_SECONDS
    assert_refused_in_time(results)
    # Whatever the refused webhook had written, its redelivery settles it exactly once.
    assert user.stripe.deliver(event).status_code == 200
    assert user.client.get("/api/balance").json()["balance_micros"] == 10_000_000


def test_a_store_one_second_slow_per_round_trip_still_answers(
    slow_host: LocalHost, store: StorageProxy, fund: Callable[[str, int], None]
) -> None:
    user = User(slow_host, fund)
    store.delay, store.mode = 1.0, "delay"
    voice_form = user.twilio.voice_form(user.identity, LONDON, call_sid())
    status, seconds, response = timed(
        lambda: user.twilio.post(f"{slow_host.base_url}/api/voice", voice_form)
    )
    balance_status, _, _ = timed(lambda: user.client.get("/api/balance"))
    store.mode = "pass"
    assert status == 200, response.text
    assert b"<Dial" in response.content
    assert seconds < REQUEST_DEADLINE_SECONDS
    assert balance_status == 200

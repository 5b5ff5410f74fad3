"""Retried webhooks through the local host: storage falters, our endpoint answers 503, and
the sandbox retries as Twilio would for the URL it was given. With our connection overrides
the retry comes (same idempotency token) and the call is still placed and settled once;
without them, a 503 is final.

The host here reaches Azurite through `FaultyStorage`, a proxy that answers 503 as a
struggling Table Storage does, to the requests a test picks out."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local_host.azurite import Azurite, connection_string
from shared.telephony.webhook_overrides import OVERRIDES, RETRY_COUNT
from tests.conftest import Client
from tests.integration.test_telephony_sandbox import (
    LANDLINE,
    ONE_DOLLAR,
    balance,
    call_charges,
    finished,
    identity_of,
    landline_rate,
    place_call,
    user_of,
)
from tests.servers import LocalHost

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})
_SERVER_BUSY = json.dumps(
    {"odata.error": {"code": "ServerBusy", "message": {"lang": "en-US", "value": "Injected."}}}
).encode()


class Verdict(Enum):
    FORWARD = "forward"
    FAIL = "fail"
    COMMIT_THEN_FAIL = "commit then fail"  # the write happens; its answer is lost


@dataclass
class Fault:
    """Requests whose body holds `marker` are answered 503. Until `heal`, or, with
    `passes`, until the app sends anything else: its request has failed and it moved on."""

    marker: bytes
    commit_first: bool = False
    passes: bool = True
    started: bool = False


class FaultyStorage:
    """A proxy in front of Azurite that can make chosen storage requests fail."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.failed: list[str] = []
        self._fault: Fault | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _proxy_handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> FaultyStorage:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def fail(self, marker: bytes, *, commit_first: bool = False) -> None:
        """The next request holding `marker` fails, and its client's retries too."""
        with self._lock:
            self._fault, self.failed = Fault(marker, commit_first), []

    def fail_everything(self) -> None:
        with self._lock:
            self._fault, self.failed = Fault(b"", passes=False), []

    def heal(self) -> None:
        with self._lock:
            self._fault = None

    def verdict(self, method: str, path: str, body: bytes) -> Verdict:
        with self._lock:
            fault = self._fault
            if fault is None:
                return Verdict.FORWARD
            if fault.marker not in body:
                if fault.started and fault.passes:
                    self._fault = None
                return Verdict.FORWARD
            self.failed.append(f"{method} {path}")
            first, fault.started = not fault.started, True
            return Verdict.COMMIT_THEN_FAIL if first and fault.commit_first else Verdict.FAIL

    def forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            upstream.request(method, path, body=body, headers=dict(headers))
            response = upstream.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            return response.status, kept, data
        finally:
            upstream.close()


def _proxy_handler(storage: FaultyStorage) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the storage SDK expects

        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
            verdict = storage.verdict(self.command, self.path, body)
            if verdict is Verdict.FAIL:
                self._answer(503, [("Content-Type", "application/json")], _SERVER_BUSY)
                return
            status, answer_headers, data = storage.forward(self.command, self.path, headers, body)
            if verdict is Verdict.COMMIT_THEN_FAIL:
                self._answer(503, [("Content-Type", "application/json")], _SERVER_BUSY)
            else:
                self._answer(status, answer_headers, data)

        def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_MERGE = _handle

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Handler


@pytest.fixture(scope="module")
def storage(azurite: Azurite) -> Iterator[FaultyStorage]:
    proxy = FaultyStorage(azurite.port).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def faulty_host(storage: FaultyStorage) -> Iterator[LocalHost]:
    host = LocalHost(connection_string(storage.port)).start()
    yield host
    host.stop()


@pytest.fixture
def caller(faulty_host: LocalHost, storage: FaultyStorage) -> Iterator[Client]:
    client = Client(faulty_host.base_url)
    client.sign_in()
    yield client
    storage.heal()


Fund = Callable[[str, int], None]


def tries(state: dict[str, Any], kind: str) -> list[tuple[int, int | None, str | None]]:
    """(attempt, status code, failure) of every request of this kind the sandbox sent."""
    return [
        (w["attempt"], w["status_code"], w["failure"])
        for w in state["webhooks"]
        if w["kind"] == kind
    ]


@pytest.mark.parametrize("answer_lost", [True, False], ids=["answer-lost", "write-refused"])
def test_a_final_status_callback_answered_503_is_retried_and_settles_once(
    caller: Client, storage: FaultyStorage, fund: Fund, answer_lost: bool
) -> None:
    user_id = user_of(caller)
    fund(user_id, ONE_DOLLAR)
    # The settlement is the one transaction that posts a ledger entry. Either it is written
    # and its answer lost, or it is refused: the endpoint answers 503 in both cases.
    storage.fail(b"ledger:", commit_first=answer_lost)
    state = finished(caller, place_call(caller, user_id, LANDLINE, duration_seconds=61)["sid"])

    assert storage.failed
    assert all("$batch" in request for request in storage.failed)
    callbacks = [w for w in state["webhooks"] if w["kind"] == "status"]
    final = [w for w in callbacks if w["params"]["CallStatus"] == "completed"]
    assert [(w["attempt"], w["status_code"], w["failure"]) for w in final] == [
        (1, 503, "5xx"),
        (2, 200, None),
    ]
    assert final[0]["idempotency_token"] == final[1]["idempotency_token"]
    assert final[0]["url"].endswith("#" + OVERRIDES.fragment())
    assert tries(state, "voice") == [(1, 200, None)]
    assert tries(state, "action") == [(1, 200, None)]
    assert state["error"] is None
    price = landline_rate().charge(61)
    assert call_charges(caller) == [-price]
    assert balance(caller) == ONE_DOLLAR - price
    [call] = caller.get("/api/calls").json()["calls"]
    assert (call["settled"], call["charge_micros"], call["billed_seconds"]) == (True, price, 61)


def test_a_voice_webhook_answered_503_is_retried_and_gets_the_call_it_placed(
    caller: Client, storage: FaultyStorage, faulty_host: LocalHost, fund: Fund
) -> None:
    user_id = user_of(caller)
    fund(user_id, ONE_DOLLAR)
    # Placing the call writes its history row: written, then the answer lost.
    storage.fail(b"callhistory:", commit_first=True)
    state = finished(caller, place_call(caller, user_id, LANDLINE, duration_seconds=61)["sid"])

    voice = [w for w in state["webhooks"] if w["kind"] == "voice"]
    assert [(w["attempt"], w["status_code"], w["failure"]) for w in voice] == [
        (1, 503, "5xx"),
        (2, 200, None),
    ]
    assert voice[0]["idempotency_token"] == voice[1]["idempotency_token"]
    assert state["dial"]["status"] == "completed"
    assert state["error"] is None
    # The retry found the call its first delivery had placed, and dialled it.
    assert f"Dialling call {state['sid']}" in faulty_host.output()
    assert "(retried webhook)" in faulty_host.output()
    price = landline_rate().charge(61)
    assert call_charges(caller) == [-price]
    assert len(caller.get("/api/calls").json()["calls"]) == 1


@pytest.mark.parametrize(
    ("fragment", "attempts"), [("", 1), (None, 1 + RETRY_COUNT)], ids=["none", "ours"]
)
def test_a_503_is_retried_only_when_the_url_carries_our_overrides(
    caller: Client, storage: FaultyStorage, fragment: str | None, attempts: int
) -> None:
    identity = identity_of(caller)
    storage.fail_everything()
    options = {} if fragment is None else {"voice_fragment": fragment}
    started = place_call(caller, identity.split("_")[0], LANDLINE, identity, **options)
    state = finished(caller, started["sid"])
    storage.heal()

    voice = [w for w in state["webhooks"] if w["kind"] == "voice"]
    assert [(w["attempt"], w["status_code"], w["failure"]) for w in voice] == [
        (n, 503, "5xx") for n in range(1, attempts + 1)
    ]
    assert len({w["idempotency_token"] for w in voice}) == 1
    assert voice[0]["url"].endswith("/api/voice" if fragment == "" else OVERRIDES.fragment())
    assert state["error"]["code"] == 11200
    assert state["dial"] is None

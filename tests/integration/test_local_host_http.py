"""The local host's HTTP front over raw sockets: what it does with a Content-Length it cannot
trust, with clients that go silent, and with clients that go away mid-response."""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import azure.functions as func
import pytest

from local_host.functions_host import FunctionsHost
from local_host.http_types import LocalRequest, LocalResponse, Mount
from local_host.server import MAX_BODY_BYTES, LocalServer
from local_host.static_files import StaticSite

REPO = Path(__file__).resolve().parents[2]
CLIENT_TIMEOUT = 0.5
BIG = 16 * 1024 * 1024


class Slow:
    """A handler that answers a big body only once the test lets it, so that the test can
    close the connection while the answer is due."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, request: LocalRequest) -> LocalResponse:
        self.entered.set()
        self.release.wait(10)
        return LocalResponse(200, b"x" * BIG, [("Content-Type", "text/plain")])


@pytest.fixture
def slow() -> Slow:
    return Slow()


@pytest.fixture
def server(slow: Slow) -> Iterator[LocalServer]:
    def echo(request: LocalRequest) -> LocalResponse:
        body = json.dumps({"length": len(request.body)}).encode()
        return LocalResponse(200, body, [("Content-Type", "application/json")])

    local = LocalServer(
        FunctionsHost(func.FunctionApp()),
        StaticSite.load(REPO / "static_site"),
        [Mount("/echo", echo), Mount("/slow", slow)],
        port=0,
        client_timeout=CLIENT_TIMEOUT,
    )
    local.start_background()
    yield local
    slow.release.set()
    local.shutdown()


def connect(server: LocalServer) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (a test fails, not hangs, if not)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def exchange(server: LocalServer, data: bytes) -> tuple[int, dict[str, str], bytes]:
    with connect(server) as sock:
        sock.sendall(data)
        raw = read_all(sock)
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (x.split(":", 1) for x in lines)}
    return int(status_line.split()[1]), headers, body


def post(headers: str, body: bytes = b"") -> bytes:
    return f"POST /echo HTTP/1.1\r\nHost: test\r\n{headers}\r\n".encode() + body


def test_a_body_of_its_declared_length_is_read(server: LocalServer) -> None:
    status, headers, body = exchange(
        server, post("Content-Length: 5\r\nConnection: close\r\n", b"hello")
    )
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"length": 5}


@pytest.mark.parametrize(
    ("length", "detail"),
    [
        ("-1", "The Content-Length header must be a whole number of bytes, not '-1'."),
        ("abc", "The Content-Length header must be a whole number of bytes, not 'abc'."),
        ("1_0", "The Content-Length header must be a whole number of bytes, not '1_0'."),
        ("+3", "The Content-Length header must be a whole number of bytes, not '+3'."),
        ("3\r\nContent-Length: 4", "The request has Content-Length headers that disagree."),
    ],
)
def test_a_content_length_that_is_no_length_is_refused(
    server: LocalServer, length: str, detail: str
) -> None:
    # No Connection: close from the client: the server must close on its own.
    status, headers, body = exchange(server, post(f"Content-Length: {length}\r\n", b"abc"))
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert json.loads(body)["detail"] == detail


def test_a_body_that_ends_early_is_refused(server: LocalServer) -> None:
    with connect(server) as sock:
        sock.sendall(post("Content-Length: 50\r\n", b"abc"))
        sock.shutdown(socket.SHUT_WR)
        raw = read_all(sock)
    assert raw.startswith(b"HTTP/1.1 400 ")
    assert b"The request body ended after 3 of the 50 bytes its Content-Length announced." in raw


def test_a_body_that_stops_arriving_is_refused_within_the_time_out(server: LocalServer) -> None:
    started = time.monotonic()
    with connect(server) as sock:
        sock.sendall(post("Content-Length: 50\r\n", b"abc"))
        raw = read_all(sock)  # the client keeps its side open, and waits
    assert raw.startswith(b"HTTP/1.1 400 ")
    assert b"Only 3 of the 50 bytes the Content-Length announced arrived within 0.5 s." in raw
    assert time.monotonic() - started < 10 * CLIENT_TIMEOUT


def test_a_body_too_large_is_refused_unread(server: LocalServer) -> None:
    status, headers, _ = exchange(server, post(f"Content-Length: {MAX_BODY_BYTES + 1}\r\n"))
    assert status == 413
    assert headers["connection"] == "close"


def test_a_chunked_body_is_refused(server: LocalServer) -> None:
    status, _, body = exchange(server, post("Transfer-Encoding: chunked\r\n", b"3\r\nabc\r\n0\r\n"))
    assert status == 411
    assert "Content-Length" in json.loads(body)["detail"]


@pytest.mark.parametrize("sent", [b"", b"GET / HTTP/1.1\r\nHost: te"], ids=["nothing", "half"])
def test_a_silent_client_is_dropped_quietly(
    server: LocalServer, sent: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    with connect(server) as sock:
        sock.sendall(sent)
        assert read_all(sock) == b""
    assert time.monotonic() - started < 10 * CLIENT_TIMEOUT
    assert capsys.readouterr().err == ""


def reset(sock: socket.socket) -> None:
    """Closes with a TCP reset, as a browser aborting a request may."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def wait_for_record(caplog: pytest.LogCaptureFixture, text: str) -> None:
    deadline = time.monotonic() + 10
    while not any(text in record.getMessage() for record in caplog.records):
        assert time.monotonic() < deadline, f"nothing logged {text!r}"
        time.sleep(0.01)  # polling the captured log for the server thread's record


def test_a_client_aborting_mid_response_prints_no_traceback(
    server: LocalServer,
    slow: Slow,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="local_host")
    sock = connect(server)
    sock.sendall(b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
    assert slow.entered.wait(10)
    reset(sock)
    slow.release.set()

    wait_for_record(caplog, "went away")
    assert capsys.readouterr().err == ""
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_a_client_resetting_mid_request_prints_no_traceback(
    server: LocalServer, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="local_host")
    sock = connect(server)
    sock.sendall(post("Content-Length: 50\r\n", b"abc"))
    reset(sock)

    wait_for_record(caplog, "went away")
    assert capsys.readouterr().err == ""
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]

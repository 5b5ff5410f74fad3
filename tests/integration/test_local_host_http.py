"""The local host's HTTP front over raw sockets: what it does with a Content-Length it cannot
trust, with clients that go silent or trickle, with clients that go away mid-response, with
headers sent twice, with requests for the sandbox and admin API from other sites, and with
what the base class would have answered in HTML."""

from __future__ import annotations

import json
import logging
import select
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
def ticks() -> list[str]:
    """The runs of the app's timer (through POST /admin/functions/tick)."""
    return []


def make_app(ticks: list[str]) -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="items/{name}", methods=["GET", "POST"])
    def item(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(req.route_params["name"], mimetype="text/plain")

    @app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *")
    def tick(timer: func.TimerRequest) -> None:
        ticks.append("tick")

    return app


@pytest.fixture
def server(slow: Slow, ticks: list[str]) -> Iterator[LocalServer]:
    def echo(request: LocalRequest) -> LocalResponse:
        body = json.dumps({"length": len(request.body)}).encode()
        return LocalResponse(200, body, [("Content-Type", "application/json")])

    local = LocalServer(
        FunctionsHost(make_app(ticks)),
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
    """Everything until the server closes the connection (a test fails, not hangs, if not);
    a reset after the answer (the server closing with some of the request unread) ends it too."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
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
    return f"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode() + body


def ask(method: str, path: str, headers: str = "Host: 127.0.0.1\r\n") -> bytes:
    """A request without a body, after which the server closes the connection."""
    return f"{method} {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n".encode()


def own_host(server: LocalServer) -> str:
    return server.base_url.removeprefix("http://")


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
    sock.sendall(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
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


def problem(status: int, headers: dict[str, str], body: bytes) -> tuple[int, str]:
    """The status and detail of a problem+json answer (and that it is one)."""
    assert headers["content-type"] == "application/problem+json", (status, body[:200])
    answer = json.loads(body)
    assert answer["status"] == status
    detail: str = answer["detail"]
    assert detail.endswith("."), detail
    return status, detail


@pytest.mark.parametrize(
    "host",
    [
        "evil.example.com",
        "evil.example.com:7071",
        "127.0.0.1.nip.io",
        "[::2]:80",
        "10.0.0.1",
        "localhost.evil.example",
        "127.0.0.1@evil.example",
        "127.0.0.1 evil.example",
    ],
)
@pytest.mark.parametrize(("method", "path"), [("GET", "/echo"), ("POST", "/admin/functions/tick")])
def test_the_sandbox_and_admin_api_answer_only_a_loopback_host(
    server: LocalServer, ticks: list[str], method: str, path: str, host: str
) -> None:
    # What a page on evil.example.com sends once its name resolves to 127.0.0.1 (DNS
    # rebinding), and variations on it.
    status, detail = problem(*exchange(server, ask(method, path, f"Host: {host}\r\n")))
    assert status == 421
    assert "loopback" in detail
    assert ticks == []


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2:1", "localhost", "LocalHost:9", "[::1]"])
def test_a_loopback_host_reaches_the_sandbox_and_admin_api(
    server: LocalServer, ticks: list[str], host: str
) -> None:
    assert exchange(server, ask("GET", "/echo", f"Host: {host}\r\n"))[0] == 200
    assert exchange(server, ask("POST", "/admin/functions/tick", f"Host: {host}\r\n"))[0] == 202
    assert ticks == ["tick"]


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example.com",
        "null",
        "http://127.0.0.1:1",
        "https://{host}",
        "http://{host}/",
        "http://localhost:{port}",
        "http://user@{host}",
    ],
)
@pytest.mark.parametrize("path", ["/echo", "/admin/functions/tick"])
def test_a_change_to_the_sandbox_or_admin_api_from_another_origin_is_refused(
    server: LocalServer, ticks: list[str], path: str, origin: str
) -> None:
    host = own_host(server)
    origin = origin.format(host=host, port=host.rsplit(":", 1)[1])
    headers = f"Host: {host}\r\nOrigin: {origin}\r\n"
    status, detail = problem(*exchange(server, ask("POST", path, headers)))
    assert status == 403
    assert origin in detail
    assert ticks == []


@pytest.mark.parametrize("origin", [None, "http://{host}", "HTTP://{host}"])
def test_a_change_from_the_hosts_own_origin_or_none_is_answered(
    server: LocalServer, ticks: list[str], origin: str | None
) -> None:
    host = own_host(server)
    headers = f"Host: {host}\r\n"
    if origin is not None:
        headers += f"Origin: {origin.format(host=host)}\r\n"
    assert exchange(server, ask("POST", "/echo", headers))[0] == 200
    assert exchange(server, ask("POST", "/admin/functions/tick", headers))[0] == 202
    assert ticks == ["tick"]


def test_a_read_from_another_origin_is_answered(server: LocalServer) -> None:
    # A cross-origin page cannot read the answer (no CORS), and a GET changes nothing.
    headers = "Host: 127.0.0.1\r\nOrigin: http://evil.example.com\r\n"
    assert exchange(server, ask("GET", "/echo", headers))[0] == 200


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/items/x"), ("POST", "/api/items/x")])
def test_the_functions_and_the_site_answer_any_host_as_in_azure(
    server: LocalServer, method: str, path: str
) -> None:
    # In Azure, Host is the public name, and /api checks Origin itself.
    headers = "Host: calls.example.org\r\nOrigin: https://calls.example.org\r\n"
    status, _, body = exchange(server, ask(method, path, headers))
    assert (status, body) == (200, b"x")
    assert exchange(server, ask("GET", "/", "Host: calls.example.org\r\n"))[0] == 200


@pytest.mark.parametrize(
    ("name", "twice"),
    [
        ("Host", "Host: 127.0.0.1\r\nHost: evil.example.com\r\n"),
        ("Host", "Host: evil.example.com\r\nHost: 127.0.0.1\r\n"),
        (
            "Origin",
            "Host: 127.0.0.1\r\nOrigin: http://127.0.0.1\r\nOrigin: http://evil.example\r\n",
        ),
        ("Cookie", "Host: 127.0.0.1\r\nCookie: a=1\r\nCookie: b=2\r\n"),
        ("Content-Type", "Host: 127.0.0.1\r\nContent-Type: text/plain\r\ncontent-type: a/b\r\n"),
    ],
    ids=["host", "host-loopback-last", "origin", "cookie", "content-type"],
)
@pytest.mark.parametrize("path", ["/echo", "/api/items/x"])
def test_a_header_sent_twice_that_may_come_once_is_refused(
    server: LocalServer, ticks: list[str], path: str, name: str, twice: str
) -> None:
    status, headers, body = exchange(server, ask("POST", path, twice))
    assert problem(status, headers, body) == (400, f"The request has more than one {name} header.")
    assert headers["connection"] == "close"
    assert ticks == []


def test_one_cookie_header_with_several_cookies_is_answered(server: LocalServer) -> None:
    headers = "Host: 127.0.0.1\r\nCookie: a=1; b=2\r\nContent-Type: text/plain\r\n"
    assert exchange(server, ask("POST", "/echo", headers))[0] == 200


def test_a_client_trickling_its_headers_is_dropped_at_one_deadline(
    server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # A byte every third of the time-out: no single read waits as long as the time-out, so
    # only a deadline for the whole head ends this.
    started = time.monotonic()
    answer = None
    with connect(server) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: ")
        while time.monotonic() - started < 10 * CLIENT_TIMEOUT:
            readable, _, _ = select.select([sock], [], [], CLIENT_TIMEOUT / 3)
            if readable:
                answer = read_all(sock)
                break
            try:
                sock.sendall(b"x")
            except OSError:
                answer = b""  # the server closed, and reset on our byte
                break
    elapsed = time.monotonic() - started
    assert answer == b"", "the server answered a request whose head never ended"
    assert elapsed < 4 * CLIENT_TIMEOUT, f"a trickling client held its thread {elapsed:.1f} s"
    assert capsys.readouterr().err == ""


def test_a_head_sent_whole_keeps_the_connection_for_the_next_request(server: LocalServer) -> None:
    # The deadline is per request: a kept-alive connection serves one request after another.
    with connect(server) as sock:
        for _ in range(3):
            sock.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                head += sock.recv(1)
            assert head.startswith(b"HTTP/1.1 200 ")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            body = b""
            while len(body) < length:
                body += sock.recv(length - len(body))
            assert json.loads(body) == {"length": 0}


@pytest.mark.parametrize("path", ["/app.js", "/styles.css", "/", "/no-such-file.js"])
def test_a_head_is_answered_as_its_get_without_the_body(server: LocalServer, path: str) -> None:
    get_status, get_headers, get_body = exchange(server, ask("GET", path))
    status, headers, body = exchange(server, ask("HEAD", path))
    assert status == get_status
    assert body == b""
    assert int(headers["content-length"]) == len(get_body) > 0
    assert headers["content-type"] == get_headers["content-type"]


@pytest.mark.parametrize(
    ("request_head", "status", "detail"),
    [
        (ask("TRACE", "/"), 501, "This host does not answer 'TRACE' requests."),
        (ask("FOO", "/api/items/x"), 501, "This host does not answer 'FOO' requests."),
        (
            ask("GET", "/", "Host: 127.0.0.1\r\nX-Big: " + "a" * 70_000 + "\r\n"),
            431,
            "The request's headers are too large: got more than 65536 bytes when reading"
            " header line.",
        ),
        (
            ask("GET", "/", "Host: 127.0.0.1\r\n" + "X-Many: 1\r\n" * 101),
            431,
            "The request's headers are too large: got more than 100 headers.",
        ),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "URI is too long."),
    ],
    ids=["trace", "unknown-method", "huge-header", "many-headers", "uri"],
)
def test_what_the_base_class_refuses_is_problem_json(
    server: LocalServer, request_head: bytes, status: int, detail: str
) -> None:
    answer = exchange(server, request_head)
    assert problem(*answer) == (status, detail)
    assert answer[1]["connection"] == "close"


@pytest.mark.parametrize(
    ("path", "name"), [("/API/items/x", "x"), ("/Api/Items/Mixed", "Mixed"), ("/api/ITEMS/y", "y")]
)
def test_function_routes_and_their_prefix_match_whatever_the_case_as_in_azure(
    server: LocalServer, path: str, name: str
) -> None:
    status, headers, body = exchange(server, ask("GET", path))
    assert (status, body) == (200, name.encode())
    assert headers["content-type"].startswith("text/plain")


def test_a_path_that_only_starts_like_the_prefix_is_the_sites(server: LocalServer) -> None:
    status, headers, _ = exchange(server, ask("GET", "/APIary"))
    assert status == 200
    assert headers["content-type"].startswith("text/html")

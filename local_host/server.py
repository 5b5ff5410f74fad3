"""The HTTP front: /api/* to the functions, /admin/functions/* to run timers (as the real
host's admin API does), mounted sandboxes, and everything else from the static site.

The admin API and the sandboxes answer only this machine's own pages (refuse_from_afar);
every request's head and body each have one deadline; and whatever is refused is refused
with problem+json and a sentence, the base class's own refusals included."""

from __future__ import annotations

import io
import logging
import math
import re
import socket
import threading
import time
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from local_host.functions_host import FunctionsHost
from local_host.http_types import LocalRequest, LocalResponse, Mount, problem_response
from local_host.static_files import StaticSite
from shared.config import is_loopback_host

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

logger = logging.getLogger("local_host")

MAX_BODY_BYTES = 4 * 1024 * 1024
# How long a client may take to send its request's head (request line and headers), and then
# its body, before its connection is dropped: long enough for any real client on loopback,
# short enough that one which never finishes, or trickles a byte at a time, does not hold a
# thread for ever.
CLIENT_TIMEOUT_SECONDS = 15.0
_ADMIN_PREFIX = "/admin/functions/"
_DIGITS = re.compile(r"[0-9]{1,19}")
# Headers a request may carry once: with two, one check would read one value and the app
# another (a loopback Host for the guard, evil.example for the URL). An HTTP/1.1 user agent
# sends one Cookie header (RFC 6265 5.4). Content-Length has its own rule, in _read_body.
_SINGLE_HEADERS = ("Host", "Origin", "Content-Type", "Cookie")
# Host: a name or an IPv4 address, or an IPv6 one in brackets, and an optional port.
_AUTHORITY = re.compile(r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::[0-9]{1,5})?")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What the OS says when the client has gone (closed the tab, aborted a fetch): not our error.
# A query string may carry a dialled number (/api/rates?to=…): the request log never shows one.
_QUERY = re.compile(r"\?\S*")
_CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's listen backlog is 5: with more clients connecting at once (16 webhook
    # senders, a browser's parallel fetches) the accept queue overflows, Linux drops the
    # handshake's last ACK, and the client's connection is reset about a second later.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        # An IPv6 literal (--host ::1) needs an IPv6 socket; the base class assumes IPv4.
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The base class prints a bare traceback to stderr. A client that went away never gets
        # here (the handler sees to it); anything else is ours, and goes to the log.
        logger.exception("The local host failed on a connection from %s", client_address)


class LocalServer:
    def __init__(
        self,
        functions: FunctionsHost,
        site: StaticSite,
        mounts: Sequence[Mount] = (),
        host: str = "127.0.0.1",
        port: int = 7071,
        client_timeout: float = CLIENT_TIMEOUT_SECONDS,
    ) -> None:
        """Binds host:port at once, so that a port in use fails here, before anything starts."""
        self.functions = functions
        self.site = site
        self.mounts = list(mounts)
        self._httpd = _HttpServer((host, port), _make_handler(self, client_timeout))
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = str(self._httpd.server_address[0]), int(self._httpd.server_address[1])
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def handle(self, request: LocalRequest) -> LocalResponse:
        if self.functions.owns(request.path):
            return self.functions.dispatch(request)
        if request.path.startswith(_ADMIN_PREFIX):
            return refuse_from_afar(request) or self._admin(request)
        for mount in self.mounts:
            if request.path.startswith(mount.prefix):
                return refuse_from_afar(request) or mount.handler(request)
        return self.site.serve(request)

    def _admin(self, request: LocalRequest) -> LocalResponse:
        if request.method != "POST":
            return problem_response(405, "Method not allowed", "Use POST.", Allow="POST")
        name = request.path[len(_ADMIN_PREFIX) :].strip("/")
        if not self.functions.run_timer(name):
            return problem_response(404, "Not found", f"There is no timer function {name!r}.")
        return LocalResponse(202)

    def serve_forever(self) -> None:
        # How soon shutdown() is noticed; a test server is started and stopped many times.
        self._httpd.serve_forever(poll_interval=0.05)

    def start_background(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stops serving and releases the port (also of a server that never served)."""
        # Only a loop on another thread needs telling; the base class's shutdown() would wait
        # for ever for a loop that never ran, or already ended on this thread.
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()


def refuse_from_afar(request: LocalRequest) -> LocalResponse | None:
    """The answer to a request for the admin API or a sandbox (which signs anyone in) that
    does not come from this machine's own pages, or None for one that does.

    The host listens on loopback, but a page on evil.example whose name its owner re-points
    at 127.0.0.1 (DNS rebinding) reaches it too, as evil.example: so the Host must be a
    loopback name or address. And any site's page can POST a form to 127.0.0.1: so a request
    that changes something, when it carries an Origin, must come from the Host's own origin.
    (The functions under /api and the site keep Azure's rules: there Host is the public name.)
    """
    authority = request.base_url.removeprefix("http://")
    found = _AUTHORITY.fullmatch(authority)
    if found is None or not is_loopback_host(found.group(1) or found.group(2)):
        return problem_response(
            421,
            "Misdirected request",
            f"This host answers {request.path[:100]} only to this machine, by a loopback name"
            f" or address such as 127.0.0.1, not as {authority[:100]!r}.",
        )
    origin = request.headers.get("origin")
    changes = request.method not in _SAFE_METHODS
    if changes and origin is not None and not _same_origin(origin, request.base_url):
        return problem_response(
            403,
            "Forbidden",
            f"A {request.method} to {request.path[:100]} must come from a page of"
            f" {request.base_url[:100]}, not of {origin[:100]!r}.",
        )
    return None


def _same_origin(origin: str, base_url: str) -> bool:
    found = _origin_of(origin)
    return found is not None and found == _origin_of(base_url)


def _origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, default port filled in; None for anything else
    ("null", a path, a user name...)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if default is None or not parts.hostname or parts.username is not None:
        return None
    if parts.path or parts.query or parts.fragment:
        return None
    return parts.scheme, parts.hostname, port or default


class _DeadlineReader(io.RawIOBase):
    """The connection's reads, none allowed past `deadline`: a client trickling a byte at a
    time gets no more time than a silent one, since each read waits only for what is left."""

    def __init__(self, connection: socket.socket, timeout: float) -> None:
        super().__init__()
        self._connection = connection
        self._timeout = timeout
        self.deadline = math.inf

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the client did not send its request in time")
        self._connection.settimeout(min(left, self._timeout))
        try:
            return self._connection.recv_into(buffer)
        finally:
            # Writes keep the whole time-out (a response to a slow reader is not cut short).
            self._connection.settimeout(self._timeout)


def _make_handler(server: LocalServer, client_timeout: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes; without this, Nagle and delayed ACKs add
        # about 40 ms to every response on loopback.
        disable_nagle_algorithm = True
        server_version = "OwnNumberLocalHost/1"
        # Set on the socket by StreamRequestHandler.setup: a client silent this long raises
        # TimeoutError, which handle_one_request answers by dropping the connection quietly.
        timeout = client_timeout

        def setup(self) -> None:
            super().setup()
            # Reads go through a deadline: see handle_one_request and _read_body.
            self.rfile.close()
            self._reader = _DeadlineReader(self.connection, client_timeout)
            self.rfile = io.BufferedReader(self._reader)

        def handle_one_request(self) -> None:
            # One deadline for the whole head, from the wait for its first byte to its blank
            # line: the base class reads it a line at a time, each read under the socket's
            # time-out alone, which a client sending a byte now and then never reaches.
            # Past it, the read raises TimeoutError, on which the base class drops the
            # connection.
            self._reader.deadline = time.monotonic() + client_timeout
            super().handle_one_request()

        def handle(self) -> None:
            try:
                super().handle()
            except _CLIENT_GONE as error:
                self.close_connection = True
                logger.debug("The client %s went away: %r", self.address_string(), error)

        def _handle(self) -> None:
            for name in _SINGLE_HEADERS:
                if len(self.headers.get_all(name, [])) > 1:
                    self._refuse(
                        400, "Bad request", f"The request has more than one {name} header."
                    )
                    return
            body = self._read_body()
            if body is None:
                return
            path, _, query = self.path.partition("?")
            host = self.headers.get("Host") or server.base_url.removeprefix("http://")
            headers = {name.lower(): value for name, value in self.headers.items()}
            # As Azure's front ends do: the peer's address is appended to what the client sent,
            # so the app's per-address limits see the same header here as in Azure.
            sent = ", ".join(self.headers.get_all("X-Forwarded-For", []))
            peer = self.client_address[0]
            headers["x-forwarded-for"] = f"{sent}, {peer}" if sent else peer
            request = LocalRequest(
                method=self.command.upper(),
                path=path or "/",
                query_string=query,
                headers=headers,
                body=body,
                base_url=f"http://{host}",
            )
            try:
                response = server.handle(request)
            except Exception:
                logger.exception("Local host failed on %s %s", self.command, self.path)
                response = problem_response(500, "Internal error", "The local host failed.")
                if server.functions.owns(request.path):
                    response = server.functions.custom_headers.apply(response)
            self._send(response)

        def _read_body(self) -> bytes | None:
            """The body its Content-Length announces, or None once a 4xx has been sent."""
            if self.headers.get("Transfer-Encoding"):
                self._refuse(
                    411,
                    "Length required",
                    "Send the body with a Content-Length: this host does not read chunked bodies.",
                )
                return None
            declared = {value.strip() for value in self.headers.get_all("Content-Length", [])}
            if not declared:
                return b""
            if len(declared) > 1:
                self._refuse(
                    400, "Bad request", "The request has Content-Length headers that disagree."
                )
                return None
            raw = declared.pop()
            if not _DIGITS.fullmatch(raw):
                self._refuse(
                    400,
                    "Bad request",
                    f"The Content-Length header must be a whole number of bytes, not {raw[:40]!r}.",
                )
                return None
            length = int(raw)
            if length > MAX_BODY_BYTES:
                self._refuse(413, "Too large", "The request body is too large.")
                return None
            chunks: list[bytes] = []
            received = 0
            # One deadline for the whole body, so that a client trickling a byte at a time
            # cannot hold the thread longer than a silent one.
            deadline = self._reader.deadline = time.monotonic() + client_timeout
            try:
                while received < length and time.monotonic() < deadline:
                    chunk = self.rfile.read1(min(length - received, 64 * 1024))
                    if not chunk:
                        self._refuse(
                            400,
                            "Bad request",
                            f"The request body ended after {received} of the {length} bytes"
                            " its Content-Length announced.",
                        )
                        return None
                    chunks.append(chunk)
                    received += len(chunk)
            except TimeoutError:
                pass
            if received < length:
                self._refuse(
                    400,
                    "Bad request",
                    f"Only {received} of the {length} bytes the Content-Length announced"
                    f" arrived within {client_timeout:g} s.",
                )
                return None
            return b"".join(chunks)

        def _refuse(self, status: int, title: str, detail: str) -> None:
            """Answers a request that cannot be read; its caller returns None after this."""
            # The rest of what the client sent cannot be told from a next request: close.
            self._send(problem_response(status, title, detail), close=True)

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            """What the base class answers itself (a method it has no do_ for, a head too
            large, a request line it cannot parse), as problem+json like every other answer."""
            self.log_error("code %d, message %s", code, message)
            status = HTTPStatus(code)
            if status is HTTPStatus.NOT_IMPLEMENTED:
                detail = f"This host does not answer {str(self.command)[:40]!r} requests."
            elif status is HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE:
                detail = f"The request's headers are too large: {explain or message}."
            else:
                detail = f"{(message or status.description).rstrip('.')}."
            self._send(problem_response(code, status.phrase, detail), close=True)

        def _send(self, response: LocalResponse, close: bool = False) -> None:
            self.send_response(response.status)
            for name, value in response.headers:
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            # A HEAD is answered as its GET, Content-Length included, without the body.
            if self.command != "HEAD" and response.body:
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            logger.debug("%s - %s", self.address_string(), without_query(format % args))

    return Handler


def without_query(line: str) -> str:
    """A request log line with every query string cut to "?…"."""
    return _QUERY.sub("?…", line)

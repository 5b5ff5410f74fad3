"""The HTTP front: /api/* to the functions, /admin/functions/* to run timers (as the real
host's admin API does), mounted sandboxes, and everything else from the static site."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from local_host.functions_host import FunctionsHost
from local_host.http_types import LocalRequest, LocalResponse, Mount, problem_response
from local_host.static_files import StaticSite

logger = logging.getLogger("local_host")

MAX_BODY_BYTES = 4 * 1024 * 1024
_ADMIN_PREFIX = "/admin/functions/"


class LocalServer:
    def __init__(
        self,
        functions: FunctionsHost,
        site: StaticSite,
        mounts: Sequence[Mount] = (),
        host: str = "127.0.0.1",
        port: int = 7071,
    ) -> None:
        self.functions = functions
        self.site = site
        self.mounts = list(mounts)
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def handle(self, request: LocalRequest) -> LocalResponse:
        if self.functions.owns(request.path):
            return self.functions.dispatch(request)
        if request.path.startswith(_ADMIN_PREFIX):
            return self._admin(request)
        for mount in self.mounts:
            if request.path.startswith(mount.prefix):
                return mount.handler(request)
        return self.site.serve(request)

    def _admin(self, request: LocalRequest) -> LocalResponse:
        if request.method != "POST":
            return problem_response(405, "Method not allowed", "Use POST.", Allow="POST")
        name = request.path[len(_ADMIN_PREFIX) :].strip("/")
        if not self.functions.run_timer(name):
            return problem_response(404, "Not found", f"There is no timer function {name!r}.")
        return LocalResponse(202)

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def start_background(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _make_handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes; without this, Nagle and delayed ACKs add
        # about 40 ms to every response on loopback.
        disable_nagle_algorithm = True
        server_version = "OwnNumberLocalHost/1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._send(problem_response(413, "Too large", "The request body is too large."))
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
            request = LocalRequest(
                method=self.command.upper(),
                path=path or "/",
                query_string=query,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
                base_url=f"http://{host}",
            )
            try:
                response = server.handle(request)
            except Exception:
                logger.exception("Local host failed on %s %s", self.command, self.path)
                response = problem_response(500, "Internal error", "The local host failed.")
            self._send(response, head=self.command == "HEAD")

        def _send(self, response: LocalResponse, head: bool = False) -> None:
            self.send_response(response.status)
            for name, value in response.headers:
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if not head and response.body:
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            logger.debug("%s - %s", self.address_string(), format % args)

    return Handler

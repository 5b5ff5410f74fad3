"""Application Insights' ingestion endpoint, played on loopback: records every envelope.

The azure-monitor exporter (azure-monitor-opentelemetry-exporter 1.0.0b58) POSTs a JSON array
of envelopes to `{IngestionEndpoint}/v2.1/track`, uncompressed; a gzip body is accepted too,
should a later version compress. It reads back a TrackResponse, and retries what is not
accepted, so every item is accepted here.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TRACK_PATH = "/v2.1/track"
ZERO_KEY = "00000000-0000-0000-0000-000000000000"

Envelope = dict[str, Any]


class IngestionEndpoint:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.envelopes: list[Envelope] = []
        # Requests to anything but the track path (live metrics, say): none are expected.
        self.strays: list[str] = []
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def connection_string(self) -> str:
        return f"InstrumentationKey={ZERO_KEY};IngestionEndpoint=http://127.0.0.1:{self.port}/"

    def start(self) -> IngestionEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def captured_bytes(self) -> bytes:
        with self._changed:
            return b"\n".join(self.bodies)

    def wait_for(
        self, done: Callable[[list[Envelope]], bool], what: str, timeout: float = 30.0
    ) -> list[Envelope]:
        """The envelopes so far, once done(envelopes) holds: woken by each POST, not a sleep."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done(self.envelopes):
                left = deadline - time.monotonic()
                if left <= 0:
                    kinds = sorted({kind(e) for e in self.envelopes})
                    raise AssertionError(f"no {what} after {timeout} s; received {kinds}")
                self._changed.wait(left)
            return list(self.envelopes)

    def _record(self, path: str, body: bytes) -> int:
        with self._changed:
            if path.rstrip("/") != TRACK_PATH:
                self.strays.append(path)
                self._changed.notify_all()
                return 0
            items = json.loads(body)
            self.bodies.append(body)
            self.envelopes.extend(items)
            self._changed.notify_all()
            return len(items)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                count = endpoint._record(self.path, body)
                answer = json.dumps(
                    {"itemsReceived": count, "itemsAccepted": count, "errors": []}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return None  # the test reads what was sent, not an access log

        return Handler


def kind(envelope: Envelope) -> str:
    """Request, RemoteDependency, Message, Exception, Metric… (the envelope's base type,
    without the "Data" suffix)."""
    return str(envelope.get("data", {}).get("baseType", "")).removesuffix("Data")


def of_kind(envelopes: list[Envelope], wanted: str) -> list[Envelope]:
    return [e for e in envelopes if kind(e) == wanted]

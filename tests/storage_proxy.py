"""A TCP proxy in front of Azurite that can pass traffic, slow every answer, or stall.

Table Storage that stops answering (an overloaded account, a network partition) is the fault
that hangs servers: connections open, requests go out, and nothing comes back. This plays it
on loopback, between the local host and a real Azurite.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

from local_host.azurite import DEV_ACCOUNT, DEV_KEY
from tests.loopback import LoopbackListener

_CHUNK = 65536


class StorageProxy(LoopbackListener):
    """Listens on a free loopback port and forwards to upstream_port, as `mode` says:
    "pass"; "delay" (each answer starts `delay` seconds late: one slow round trip per
    request); "stall" (requests are read and never forwarded, so nothing is ever answered);
    "down" (a dead store: every new connection is closed at once; `cut()` first resets the
    open ones, mid-request or not)."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__()
        self.upstream_port = upstream_port
        self.mode = "pass"
        self.delay = 0.0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.start()

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"TableEndpoint=http://127.0.0.1:{self.port}/{DEV_ACCOUNT};"
        )

    def close(self) -> None:
        super().close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def cut(self) -> None:
        """Resets every open connection at once, as a store that dies does, and forgets them."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                # RST rather than FIN: the caller sees its connection die, not an answer end.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()

    def _serve(self, client: socket.socket) -> None:
        if self.mode == "down":
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            client.close()
            return
        with self._lock:
            self._sockets += [client, upstream]
        awaiting = threading.Event()  # a request went out and its answer has not started
        threading.Thread(
            target=self._pump_answers, args=(upstream, client, awaiting), daemon=True
        ).start()
        self._pump_requests(client, upstream, awaiting)

    def _pump_requests(
        self, client: socket.socket, upstream: socket.socket, awaiting: threading.Event
    ) -> None:
        with contextlib.suppress(OSError):
            while data := client.recv(_CHUNK):
                if self.mode == "stall":
                    continue  # swallowed: the caller waits for an answer that never comes
                awaiting.set()
                upstream.sendall(data)
        with contextlib.suppress(OSError):
            upstream.shutdown(socket.SHUT_WR)

    def _pump_answers(
        self, upstream: socket.socket, client: socket.socket, awaiting: threading.Event
    ) -> None:
        with contextlib.suppress(OSError):
            while data := upstream.recv(_CHUNK):
                if awaiting.is_set() and self.mode == "delay":
                    time.sleep(self.delay)  # the slow round trip being played
                awaiting.clear()
                client.sendall(data)
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_WR)

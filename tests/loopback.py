"""A TCP listener on a free loopback port that serves each connection in a thread of its own:
what the test servers that sit between a client and a real server share."""

from __future__ import annotations

import socket
import threading


class LoopbackListener:
    """Subclasses set what `_serve` needs, then call `start()`; `close()` stops accepting."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        # Accepting wakes up this often to notice close().
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        raise NotImplementedError

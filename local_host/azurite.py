"""Starts Azurite's table service (npm package `azurite`) and waits until it answers."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parent.parent
AZURITE_TABLE = REPO / "node_modules" / ".bin" / "azurite-table"
# Azurite's well-known development account; public, and only ever valid against Azurite.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEFAULT_TABLE_PORT = 10002


def connection_string(port: int) -> str:
    if port == DEFAULT_TABLE_PORT:
        return "UseDevelopmentStorage=true"
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"TableEndpoint=http://127.0.0.1:{port}/{DEV_ACCOUNT};"
    )


def is_listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Azurite:
    """One Azurite table server: in memory (tests) or with its data under a folder (dev)."""

    def __init__(self, port: int, data_dir: Path | None = None) -> None:
        self.port = port
        self.data_dir = data_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def connection_string(self) -> str:
        return connection_string(self.port)

    def start(self, timeout: float = 60.0) -> Azurite:
        if not AZURITE_TABLE.exists():
            raise RuntimeError(
                f"{AZURITE_TABLE} is missing: run `npm ci` (scripts/bootstrap does)."
            )
        args = [str(AZURITE_TABLE), "--tableHost", "127.0.0.1", "--tablePort", str(self.port)]
        args += ["--skipApiVersionCheck", "--disableProductStyleUrl"]
        if self.data_dir is None:
            args.append("--inMemoryPersistence")
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            args += ["--location", str(self.data_dir)]
        # A file, not a pipe: a pipe nobody reads would fill and stall Azurite.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as Azurite
        self._process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + timeout
        while not is_listening(self.port):
            if self._process.poll() is not None:
                self._log.seek(0)
                error = self._log.read().decode(errors="replace")
                raise RuntimeError(f"Azurite exited at start-up: {error.strip()[-500:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Azurite did not listen on port {self.port} in {timeout} s")
            time.sleep(0.05)  # polling a port that is not open yet, not waiting blindly
        return self

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._log:
            self._log.close()
            self._log = None

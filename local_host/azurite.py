"""Starts Azurite's table service (npm package `azurite`) and waits until it answers."""

from __future__ import annotations

import signal
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
# Azurite writes its data to disk every few seconds and when it gets SIGINT; this is how long
# it may take to do that before it is terminated anyway.
SAVE_TIMEOUT_SECONDS = 10.0


class AzuriteError(RuntimeError):
    """Azurite could not be started; the message says why, in a sentence."""


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

    @property
    def pid(self) -> int | None:
        """The process id of the Azurite this started, while it runs (scripts/bench reads its
        CPU time)."""
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 60.0) -> Azurite:
        if not AZURITE_TABLE.exists():
            raise AzuriteError(
                f"{AZURITE_TABLE} is missing: run `npm ci` (scripts/bootstrap does)."
            )
        args = [str(AZURITE_TABLE), "--tableHost", "127.0.0.1", "--tablePort", str(self.port)]
        # No telemetry: it is nobody's business, and its uploads, unreachable from here, hold
        # up Azurite's exit on SIGINT by seconds.
        args += ["--skipApiVersionCheck", "--disableProductStyleUrl", "--disableTelemetry"]
        if self.data_dir is None:
            args.append("--inMemoryPersistence")
        else:
            _make_data_dir(self.data_dir)
            args += ["--location", str(self.data_dir)]
        # A file, not a pipe: a pipe nobody reads would fill and stall Azurite.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as Azurite
        # A process group of its own, so that a Ctrl-C in the terminal reaches only whoever
        # started it, who then stops it with one SIGINT: Azurite saves on its first SIGINT and
        # dies at once on a second, which the terminal's plus ours would be, mid-save.
        self._process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO, process_group=0
        )
        deadline = time.monotonic() + timeout
        while not is_listening(self.port):
            if self._process.poll() is not None:
                self._log.seek(0)
                error = self._log.read().decode(errors="replace")
                self._close_log()
                self._process = None
                # On one line: it ends the host's one-sentence complaint.
                said = " ".join(error.split())[-500:]
                raise AzuriteError(f"Azurite exited at start-up: {said}")
            if time.monotonic() > deadline:
                self.stop()
                raise AzuriteError(f"Azurite did not listen on port {self.port} in {timeout} s.")
            time.sleep(0.05)  # polling a port that is not open yet, not waiting blindly
        return self

    def stop(self) -> None:
        """Stops Azurite with SIGINT, on which it saves its data (on SIGTERM it would lose the
        writes of its last few seconds, already acknowledged to the app)."""
        process, self._process = self._process, None
        if process and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=SAVE_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._close_log()

    def kill(self) -> None:
        """Kills Azurite at once (SIGKILL), as a crash would: what it had not saved yet is lost.
        For tests of a store that dies; stop() is how to end it."""
        process, self._process = self._process, None
        if process and process.poll() is None:
            process.kill()
            process.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log:
            self._log.close()
            self._log = None


def _make_data_dir(data_dir: Path) -> None:
    """Creates the folder Azurite keeps its data in, if need be; AzuriteError, saying why in
    a sentence, when it cannot be (a file in its place or above it, no permission, /proc…)."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        reason = "that is a file, not a folder"
    except NotADirectoryError:
        reason = "a folder above it is a file"
    except OSError as error:
        reason = (error.strerror or str(error)).rstrip(".").lower()
    else:
        return
    raise AzuriteError(f"Azurite cannot keep its data in {data_dir}: {reason}.")

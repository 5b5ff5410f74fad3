"""Starting the real servers the tests talk to: Azurite and the local host, on free ports."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

import requests

from local_host.azurite import free_port

REPO = Path(__file__).resolve().parent.parent
SAMPLE_SETTINGS = REPO / "local.settings.sample.json"


def wait_until_healthy(
    url: str, process: subprocess.Popen[bytes], output: Callable[[], str], timeout: float = 60.0
) -> None:
    """Polls url until the server answers at all (a 503 from a host whose storage is down
    is an answer: the host is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local host exited at start-up:\n{output()[-2000:]}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.05)  # the port is not open yet; poll again
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class LocalHost:
    """`python -m local_host` as a child process with the sample settings plus overrides."""

    def __init__(self, storage: str, overrides: Mapping[str, str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TWILIO_", "STRIPE_", "AUTH_", "OWNNUMBER_"))
        }
        env.update(
            {
                "AzureWebJobsStorage": storage,
                "PUBLIC_BASE_URL": self.base_url,
                "PYTHONUNBUFFERED": "1",
                **(overrides or {}),
            }
        )
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes]

    def start(self) -> LocalHost:
        # A file, not a pipe: a pipe nobody reads fills up and then blocks the host's logging.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the host
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local_host",
                "--port",
                str(self.port),
                "--no-timers",
                "--settings",
                str(SAMPLE_SETTINGS),
            ],
            cwd=REPO,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until_healthy(f"{self.base_url}/api/health", self.process, self.output)
        return self

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> str:
        """Stops the host and returns what it printed (tests read its log)."""
        if self.process is None:
            return ""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        output = self.output()
        self.log.close()
        return output

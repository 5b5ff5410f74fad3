"""Starting the real servers the tests talk to: Azurite and the local host, on free ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import requests

from local_host.azurite import free_port

REPO = Path(__file__).resolve().parent.parent
SAMPLE_SETTINGS = REPO / "local.settings.sample.json"


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Polls url until it answers (any status below 500 or a 503 from a host that is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise RuntimeError(f"the local host exited at start-up:\n{output.decode()[-2000:]}")
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

    def start(self) -> LocalHost:
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
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        wait_until_healthy(f"{self.base_url}/api/health", self.process)
        return self

    def stop(self) -> str:
        """Stops the host and returns what it printed (tests read its log)."""
        if self.process is None:
            return ""
        self.process.terminate()
        try:
            output, _ = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        self.process = None
        return output.decode(errors="replace")

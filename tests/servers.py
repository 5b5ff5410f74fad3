"""Starting the real servers the tests talk to: Azurite and the local host, on free ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import requests

from local_host.azurite import free_port

REPO = Path(__file__).resolve().parent.parent
SAMPLE_SETTINGS = REPO / "local.settings.sample.json"
# What turns the sample settings into a production deployment's (sign-in settings made up).
PRODUCTION = {
    "OWNNUMBER_MODE": "production",
    "PUBLIC_BASE_URL": "https://calls.example.org",
    "AUTH_AUTHORITY": "https://login.example.org/tenant",
    "AUTH_CLIENT_ID": "client",
    "AUTH_CLIENT_SECRET": "secret",
}


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
        except requests.Timeout:
            pass  # bound but not serving yet (the host binds before Azurite is up): ask again
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class LocalHost:
    """`python -m local_host` as a child process with the sample settings plus overrides.

    storage None leaves AzureWebJobsStorage to the settings file (so the host starts its own
    Azurite); an override of None removes that variable from the host's environment; args
    replace the default `--no-timers`."""

    def __init__(
        self,
        storage: str | None,
        overrides: Mapping[str, str | None] | None = None,
        *,
        args: Sequence[str] = ("--no-timers",),
        settings: Path | None = SAMPLE_SETTINGS,
        host: str = "127.0.0.1",
    ) -> None:
        self.port = free_port()
        self.host = host
        self.base_url = f"http://{host}:{self.port}"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TWILIO_", "STRIPE_", "AUTH_", "OWNNUMBER_"))
            and key not in ("AzureWebJobsStorage", "PUBLIC_BASE_URL")
        }
        env.update({"PUBLIC_BASE_URL": self.base_url, "PYTHONUNBUFFERED": "1"})
        if storage is not None:
            env["AzureWebJobsStorage"] = storage
        for name, value in (overrides or {}).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        self.env = env
        self.args = [*(["--host", host] if host != "127.0.0.1" else [])]
        self.args += ["--port", str(self.port), *args]
        if settings is not None:
            self.args += ["--settings", str(settings)]
        self.process: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes]

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "local_host", *self.args]

    def start(self) -> LocalHost:
        # A file, not a pipe: a pipe nobody reads fills up and then blocks the host's logging.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the host
        # A process group of its own, as a shell gives a command, so that stop() can send the
        # whole group a Ctrl-C as a terminal does.
        self.process = subprocess.Popen(
            self.command,
            cwd=REPO,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        wait_until_healthy(f"{self.base_url}/api/health", self.process, self.output)
        return self

    def run_until_exit(self, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Runs the host to its end (a start-up that fails), stdout and stderr apart."""
        return subprocess.run(
            self.command,
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self, ctrl_c: bool = False) -> str:
        """Stops the host (SIGTERM, or with ctrl_c SIGINT to its whole process group, as a
        terminal's Ctrl-C) and returns what it printed (tests read its log)."""
        if self.process is None:
            return ""
        if ctrl_c:
            os.killpg(self.process.pid, signal.SIGINT)
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        output = self.output()
        self.log.close()
        # The privacy registry's guard refused a write somewhere in this host's life: whichever
        # test made it, the suite must not pass (see shared/privacy/guard.py).
        refused = [line for line in output.splitlines() if "UndeclaredRecord" in line]
        if refused:
            raise AssertionError(
                "The app stored what the privacy registry does not declare:\n"
                + "\n".join(refused[:10])
            )
        return output

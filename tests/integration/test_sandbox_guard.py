"""The sandbox signs anyone in as anyone, so it refuses to start anywhere but loopback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from local_host.azurite import Azurite, free_port
from tests.servers import REPO, SAMPLE_SETTINGS, LocalHost


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"PUBLIC_BASE_URL": "https://calls.example.org"}, "PUBLIC_BASE_URL"),
        ({"STRIPE_SECRET_KEY": "sk_live_51Habc"}, "STRIPE_SECRET_KEY"),
        ({"OWNNUMBER_MODE": " sandbox"}, "OWNNUMBER_MODE"),
    ],
)
def test_the_host_refuses_a_sandbox_that_could_be_reached_or_spend_real_money(
    azurite: Azurite, overrides: dict[str, str], named: str
) -> None:
    host = LocalHost(azurite.connection_string, overrides)
    env = {**host.env, **overrides}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "local_host",
            "--port",
            str(free_port()),
            "--no-timers",
            "--settings",
            str(SAMPLE_SETTINGS),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "OwnNumber cannot start" in result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert "sk_live_51Habc" not in result.stderr

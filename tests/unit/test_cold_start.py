"""The app's import cost: function_app must not pull in the heavy SDKs."""

from __future__ import annotations

import subprocess
import sys

from tests.servers import REPO

HEAVY = ("stripe", "twilio.rest", "msal", "azure.monitor")


def test_importing_function_app_loads_no_heavy_sdk() -> None:
    probe = f"import sys, function_app; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_every_function_has_a_unique_name_and_a_trigger() -> None:
    probe = (
        "import function_app; fs = function_app.app.get_functions(); "
        "names = [f.get_function_name() for f in fs]; "
        "assert len(names) == len(set(names)); "
        "assert all(f.get_trigger() for f in fs); print(len(names))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert int(result.stdout) >= 7

"""The app's import cost: function_app must not pull in the heavy SDKs."""

from __future__ import annotations

import subprocess
import sys

from tests.servers import REPO

HEAVY = ("stripe", "twilio.rest", "msal", "azure.monitor")
# What the first request loads, and only if it needs it: the storage SDK and its HTTP client,
# phonenumbers' metadata, any of Twilio's code. Loading the app itself (as the worker does at a
# cold start) needs none of them; scripts/bench prints what that costs.
FIRST_REQUEST = ("azure.data.tables", "requests", "phonenumbers", "twilio")


def in_a_fresh_interpreter(probe: str) -> str:
    """What the probe prints when run as a cold start would run it: a new Python process."""
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_importing_function_app_loads_no_heavy_sdk() -> None:
    probe = f"import sys, function_app; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    printed = in_a_fresh_interpreter(probe)
    assert printed == ""


def test_every_function_has_a_unique_name_and_a_trigger() -> None:
    probe = (
        "import function_app; fs = function_app.app.get_functions(); "
        "names = [f.get_function_name() for f in fs]; "
        "assert len(names) == len(set(names)); "
        "assert all(f.get_trigger() for f in fs); print(len(names))"
    )
    printed = in_a_fresh_interpreter(probe)
    assert int(printed) >= 7


def test_loading_the_app_leaves_what_requests_need_to_the_requests() -> None:
    probe = (
        "import sys, function_app; function_app.app.get_functions(); "
        f"print(','.join(m for m in {FIRST_REQUEST!r} if m in sys.modules))"
    )
    printed = in_a_fresh_interpreter(probe)
    assert printed == ""


def test_the_sign_in_functions_are_registered_without_loading_msal() -> None:
    probe = (
        "import sys, function_app; "
        "names = {f.get_function_name() for f in function_app.app.get_functions()}; "
        "print(sorted(names & {'auth_login', 'auth_callback'}), 'msal' in sys.modules)"
    )
    printed = in_a_fresh_interpreter(probe)
    assert printed == "['auth_callback', 'auth_login'] False"

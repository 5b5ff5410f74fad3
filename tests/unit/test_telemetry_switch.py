"""When telemetry is configured (on the first invocation, only with a connection string), and
that the app's Python logging is masked whatever handler prints it."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from shared.telemetry.log_masking import install_log_masking
from tests.servers import REPO, SAMPLE_SETTINGS

# Loads the sample settings, imports the app as the worker does, notes what is loaded, then
# invokes one HTTP function as the worker would and notes again.
PROBE = f"""
import sys
from pathlib import Path
from local_host.settings_file import load_into_environment
load_into_environment(Path({str(SAMPLE_SETTINGS)!r}))
import azure.functions as func
import function_app
def loaded():
    return ("azure.monitor" in sys.modules, any(m.startswith("opentelemetry") for m in sys.modules))
at_import = loaded()
functions = {{f.get_function_name(): f for f in function_app.app.get_functions()}}
request = func.HttpRequest("GET", "http://127.0.0.1/api/config", body=b"")
answer = functions["public_config"].get_user_function()(request)
print(answer.status_code, at_import, loaded())
"""


def run_probe(connection_string: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLICATIONINSIGHTS_")}
    if connection_string is not None:
        env["APPLICATIONINSIGHTS_CONNECTION_STRING"] = connection_string
        # Nothing listens there and nothing need be sent: no statsbeat to Microsoft either.
        env["APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL"] = "true"
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_without_a_connection_string_azure_monitor_is_never_imported() -> None:
    assert run_probe(None) == "200 (False, False) (False, False)"


def test_with_a_connection_string_telemetry_starts_at_the_first_invocation_not_the_import() -> None:
    closed = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"
    assert run_probe(closed) == "200 (False, False) (True, True)"


@pytest.fixture
def masked_logging() -> Iterator[io.StringIO]:
    previous = logging.getLogRecordFactory()
    install_log_masking()
    install_log_masking()  # a second call must not mask twice or nest factories
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(old_level)
    logging.setLogRecordFactory(previous)


def test_log_lines_of_the_app_and_the_root_logger_are_masked(masked_logging: io.StringIO) -> None:
    logging.getLogger("ownnumber.calls").info("Dialling %s for %s", "+442079460018", "a@b.org")
    logging.getLogger().warning("Stripe said whsec_sandbox was wrong for 020 7946 0018")
    assert masked_logging.getvalue().splitlines() == [
        "INFO ownnumber.calls: Dialling +44********18 for ***@b.org",
        "WARNING root: Stripe said whsec_[redacted] was wrong for *********18",
    ]


def test_a_logged_traceback_is_masked_too(masked_logging: io.StringIO) -> None:
    try:
        raise ValueError("no route to 0044 20 7946 0018 for ann@example.com")
    except ValueError:
        logging.getLogger("ownnumber.calls").exception("Call failed")
    printed = masked_logging.getvalue()
    assert "ValueError: no route to +44********18 for ***@example.com" in printed
    assert "Traceback (most recent call last)" in printed
    assert "2079460018" not in printed
    assert "ann@" not in printed


def test_a_record_whose_arguments_do_not_fit_is_still_printed_masked(
    masked_logging: io.StringIO,
) -> None:
    logging.getLogger("ownnumber.calls").info("to %s and %s", "+442079460018")
    assert "+44********18" in masked_logging.getvalue()
    assert "2079460018" not in masked_logging.getvalue()

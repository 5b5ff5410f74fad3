"""The switch: telemetry is configured once per process, on the first invocation, and only
when APPLICATIONINSIGHTS_CONNECTION_STRING is set.

Not at import time: importing the app must stay cheap (a cold start pays for azure.monitor
only when it sends telemetry at all), and with no connection string azure.monitor and
OpenTelemetry are never imported. Log masking is installed either way: the local host's
stdout and the Functions host's log stream get masked text too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol

from shared.config import ConfigError, get_settings
from shared.telemetry.log_masking import install_log_masking
from shared.telemetry.masking import AttributeValue

logger = logging.getLogger("ownnumber.telemetry")


class Invocation(Protocol):
    def failed(self, error: BaseException) -> None: ...

    def answered(self, status: int) -> None: ...


class _Untraced:
    def failed(self, error: BaseException) -> None:
        return None

    def answered(self, status: int) -> None:
        return None


_lock = threading.Lock()
_started = False
_tracing = False


def start_telemetry() -> bool:
    """Configures telemetry unless done already; True when spans and logs are exported."""
    global _started, _tracing
    if _started:
        return _tracing
    with _lock:
        if not _started:
            install_log_masking()
            connection = _connection_string()
            if connection:
                _tracing = _configure(connection)
            _started = True
    return _tracing


@contextmanager
def invocation(name: str, attributes: Mapping[str, AttributeValue]) -> Iterator[Invocation]:
    """The span of one invocation (masked like everything else), or nothing without
    telemetry."""
    if not start_telemetry():
        yield _Untraced()
        return
    from shared.telemetry.azure_monitor import request_span

    with request_span(name, attributes) as span:
        yield span


def _configure(connection: str) -> bool:
    from shared.telemetry.azure_monitor import configure

    try:
        configure(connection)
    except Exception as error:  # noqa: BLE001 - telemetry must never take a request down
        logger.error("Telemetry is off: Application Insights refused the settings (%s)", error)
        return False
    return True


def _connection_string() -> str | None:
    try:
        return get_settings().appinsights_connection_string
    except ConfigError:
        # The settings are wrong: the app has logged which, and answers 503 until they are
        # fixed; telemetry waits for them like everything else (the next process reads them).
        return None

"""The one module that speaks azure-monitor-opentelemetry and the OpenTelemetry SDK.

Importing it costs what azure.monitor costs (about a second on a cold start), so
shared.telemetry.startup imports it only when a connection string is set, on the first
invocation.

The masking processors run before the exporters' batch processors (configure_azure_monitor
adds the caller's processors first), so what the exporters queue, and what is kept on disk
for a retry, is already masked. A finished span is read-only through the SDK's API: the
processor replaces its name, attributes, events and status description in place, which is
the route Microsoft documents for changing spans in on_end (`span._attributes`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from azure.monitor.opentelemetry import configure_azure_monitor
from opentelemetry import trace
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from shared.telemetry.masking import AttributeValue, mask_attributes, mask_text

logger = logging.getLogger("ownnumber.telemetry")

# Metric attributes kept: those whose values are methods, status codes, hosts, schemes and
# route templates, never a caller's input. A View cannot rewrite a value, so every other
# attribute key is dropped instead (the performance counters carry none).
SAFE_METRIC_ATTRIBUTES = frozenset(
    {
        "http.method",
        "http.request.method",
        "http.status_code",
        "http.response.status_code",
        "http.route",
        "http.scheme",
        "url.scheme",
        "http.flavor",
        "network.protocol.version",
        "net.peer.name",
        "net.peer.port",
        "server.address",
        "server.port",
        "error.type",
        "_MS.IsAutocollected",
        "_MS.MetricId",
    }
)
_TRACER_NAME = "ownnumber"


class MaskingSpanProcessor(SpanProcessor):
    """Masks a span's name, attributes, events (exceptions: message and stack trace) and
    status description when it ends, before any exporter sees it."""

    def on_end(self, span: ReadableSpan) -> None:
        span._name = mask_text(span.name)
        span._attributes = _masked(span.attributes)
        span._events = tuple(
            Event(event.name, _masked(event.attributes), event.timestamp) for event in span.events
        )
        status = span.status
        if status.description:
            span._status = Status(status.status_code, mask_text(status.description))


class MaskingLogRecordProcessor(LogRecordProcessor):
    """Masks a log record's body and attributes (exception message and stack trace among
    them) before the exporter's batch processor queues it."""

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        record = log_record.log_record
        if isinstance(record.body, str):
            record.body = mask_text(record.body)
        elif isinstance(record.body, Mapping):
            record.body = _masked(record.body)
        record.attributes = _masked(record.attributes)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def configure(connection_string: str) -> None:
    """Configures tracing, logging (the root logger) and metrics for Application Insights."""
    configure_azure_monitor(
        connection_string=connection_string,
        logger_name="",
        span_processors=[MaskingSpanProcessor()],
        log_record_processors=[MaskingLogRecordProcessor()],
        views=[View(instrument_name="*", attribute_keys=set(SAFE_METRIC_ATTRIBUTES))],
        # Live Metrics streams sample requests and exceptions over a channel of its own; off,
        # so that the masked envelopes are the only copy that leaves.
        enable_live_metrics=False,
    )
    logger.info("Telemetry goes to Application Insights, masked")


class RequestSpan:
    """One invocation's span: what the edge tells it about the outcome."""

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def failed(self, error: BaseException) -> None:
        self._span.record_exception(error)

    def answered(self, status: int) -> None:
        self._span.set_attribute("http.status_code", status)
        if status >= 500:
            self._span.set_status(Status(StatusCode.ERROR))


@contextmanager
def request_span(name: str, attributes: Mapping[str, AttributeValue]) -> Iterator[RequestSpan]:
    """A server span (an Application Insights request) around one invocation. The edge
    records exceptions itself: the ones it maps to a status are not escapes."""
    tracer = trace.get_tracer(_TRACER_NAME)
    with tracer.start_as_current_span(
        name,
        kind=SpanKind.SERVER,
        attributes=dict(attributes),
        record_exception=False,
        set_status_on_exception=True,
    ) as span:
        yield RequestSpan(span)


def _masked(attributes: Mapping[str, Any] | None) -> dict[str, AttributeValue]:
    return mask_attributes(attributes)

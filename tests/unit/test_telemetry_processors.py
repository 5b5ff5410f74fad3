"""The processors and the metrics View of shared.telemetry.azure_monitor, each in front of an
in-memory exporter of the real OpenTelemetry SDK, as configure_azure_monitor places them in
front of its batch exporters."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from shared.telemetry.azure_monitor import (
    SAFE_METRIC_ATTRIBUTES,
    MaskingLogRecordProcessor,
    MaskingSpanProcessor,
)

NUMBER, EMAIL = "+442079460018", "ann+calls@example.com"


class NumberRefused(Exception):
    pass


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(MaskingSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_a_span_is_masked_in_name_attributes_events_and_status(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(
        f"GET /api/lookup/{NUMBER}",
        kind=SpanKind.SERVER,
        attributes={"http.url": f"http://h/api/rates?to=%2B{NUMBER[1:]}", "http.method": "GET"},
        record_exception=False,
    ) as span:
        span.set_attribute("http.request.header.cookie", "ownnumber_session=a.b.c")
        try:
            raise NumberRefused(f"{NUMBER} refused for {EMAIL}")
        except NumberRefused as error:
            span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"failed for {EMAIL}"))

    (exported,) = exporter.get_finished_spans()
    text = repr(
        (exported.name, dict(exported.attributes or {}), exported.status.description)
    ) + repr([dict(event.attributes or {}) for event in exported.events])
    assert "2079460018" not in text
    assert "ann+calls" not in text
    assert "a.b.c" not in text
    assert exported.name == "GET /api/lookup/+44********18"
    assert exported.attributes is not None
    assert exported.attributes["http.url"] == "http://h/api/rates?to=+44********18"
    (event,) = exported.events
    assert event.attributes is not None
    assert event.attributes["exception.message"] == "+44********18 refused for ***@example.com"
    stacktrace = str(event.attributes["exception.stacktrace"])
    assert "NumberRefused: +44********18 refused" in stacktrace
    assert "test_telemetry_processors.py" in stacktrace  # still a stack trace
    assert exported.status.description == "failed for ***@example.com"


@pytest.fixture
def otel_logger() -> Iterator[tuple[logging.Logger, InMemoryLogRecordExporter]]:
    provider = LoggerProvider()
    exporter = InMemoryLogRecordExporter()
    provider.add_log_record_processor(MaskingLogRecordProcessor())
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    handler = LoggingHandler(logger_provider=provider)
    log = logging.getLogger("ownnumber.test.telemetry")
    log.addHandler(handler)
    log.propagate = False
    yield log, exporter
    log.removeHandler(handler)
    log.propagate = True
    provider.shutdown()


def test_a_log_record_is_masked_in_body_and_exception_attributes(
    otel_logger: tuple[logging.Logger, InMemoryLogRecordExporter],
) -> None:
    log, exporter = otel_logger
    try:
        raise NumberRefused(f"cannot call {NUMBER}")
    except NumberRefused:
        log.exception("Calling %s for %s failed", NUMBER, EMAIL, extra={"to": NUMBER})

    (exported,) = exporter.get_finished_logs()
    record = exported.log_record
    assert record.body == "Calling +44********18 for ***@example.com failed"
    attributes = dict(record.attributes or {})
    assert attributes["to"] == "+44********18"
    assert attributes["exception.message"] == "cannot call +44********18"
    assert "2079460018" not in repr(attributes)


def test_metric_attributes_keep_only_the_safe_keys() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        metric_readers=[reader],
        views=[View(instrument_name="*", attribute_keys=set(SAFE_METRIC_ATTRIBUTES))],
    )
    counter = provider.get_meter("test").create_counter("calls")
    counter.add(1, {"http.method": "GET", "http.url": f"/api/rates?to={NUMBER}", "to": NUMBER})
    data = reader.get_metrics_data()
    assert data is not None
    points = [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        for point in metric.data.data_points
    ]
    assert [dict(point.attributes or {}) for point in points] == [{"http.method": "GET"}]
    provider.shutdown()

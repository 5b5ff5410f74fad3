"""Telemetry: what the app tells Application Insights and its own log, and what it never does.

Owns the masking rule (masking: pure functions over text and attribute values that hide
phone numbers, email addresses and secrets), the Python logging that goes through it
(log_masking: every record the app's loggers make is masked before any handler sees it, so
stdout, the Functions host and Application Insights get the same masked text), the
OpenTelemetry side (azure_monitor: the span, log and metric processors and the one call to
configure_azure_monitor, the only module that imports azure.monitor or the OpenTelemetry
SDK), and the switch (startup: configures all that once per process, on the first
invocation, and only when APPLICATIONINSIGHTS_CONNECTION_STRING is set).

May import: shared.config (the connection string), the standard library; azure.monitor and
opentelemetry only in azure_monitor, and that only when a connection string is set.
"""

"""The browser's Application Insights connection string: its own setting, else the server's,
checked for what the SDK needs (an instrumentation key, an https ingestion endpoint), and the
CSP allows the SDK's default ingestion host."""

from __future__ import annotations

import json

import pytest

from shared.config import (
    BROWSER_ANALYTICS_SETTING,
    DEFAULT_INGESTION_ENDPOINT,
    ConfigError,
    ingestion_endpoint,
    load_settings,
)
from tests.servers import PRODUCTION, REPO, SAMPLE_SETTINGS

KEY = "InstrumentationKey=00000000-0000-0000-0000-000000000000"
REGIONAL = f"{KEY};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/"
SERVER = "APPLICATIONINSIGHTS_CONNECTION_STRING"


def sample(**overrides: str) -> dict[str, str]:
    values = dict(json.loads(SAMPLE_SETTINGS.read_text())["Values"])
    return {**values, **overrides}


def test_without_a_connection_string_the_browser_gets_none() -> None:
    assert load_settings(sample()).dialer.analytics_connection_string is None


def test_the_browsers_own_setting_comes_first_then_the_servers() -> None:
    both = sample(**{BROWSER_ANALYTICS_SETTING: REGIONAL, SERVER: KEY})
    assert load_settings(both).dialer.analytics_connection_string == REGIONAL
    assert load_settings(sample(**{SERVER: KEY})).dialer.analytics_connection_string == KEY


@pytest.mark.parametrize(
    "value",
    [
        "not a connection string",
        "InstrumentationKey=abc",
        f"{KEY};IngestionEndpoint=http://ingest.example.org/",
        f"{KEY};IngestionEndpoint=ftp://ingest.example.org/",
    ],
)
def test_a_malformed_browser_setting_stops_start_up_naming_it(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(sample(**{BROWSER_ANALYTICS_SETTING: value}))
    assert BROWSER_ANALYTICS_SETTING in str(raised.value)
    assert value not in str(raised.value)


def test_a_malformed_server_string_is_not_handed_to_browsers() -> None:
    # It is the server telemetry's to refuse; the browser just does without.
    settings = load_settings(sample(**{SERVER: "InstrumentationKey=abc"}))
    assert settings.dialer.analytics_connection_string is None


def test_plain_http_ingestion_is_for_a_loopback_fake_in_the_sandbox_only() -> None:
    fake = f"{KEY};IngestionEndpoint=http://127.0.0.1:9/"
    settings = load_settings(sample(**{BROWSER_ANALYTICS_SETTING: fake}))
    assert settings.dialer.analytics_connection_string == fake
    with pytest.raises(ConfigError):
        load_settings(sample(**PRODUCTION, **{BROWSER_ANALYTICS_SETTING: fake}))


def test_the_sdk_posts_to_the_ingestion_endpoint_or_the_global_default() -> None:
    assert ingestion_endpoint(REGIONAL) == "https://westeurope-5.in.applicationinsights.azure.com"
    assert ingestion_endpoint(KEY) == DEFAULT_INGESTION_ENDPOINT


def test_the_csp_lets_the_browser_sdk_post_to_the_default_ingestion_host() -> None:
    config = json.loads((REPO / "static_site" / "staticwebapp.config.json").read_text())
    policy = config["globalHeaders"]["Content-Security-Policy"]
    connect = next(p.split()[1:] for p in policy.split(";") if p.split()[0] == "connect-src")
    assert DEFAULT_INGESTION_ENDPOINT in connect
    # and nothing of Microsoft's CDN: the SDK is vendored, its CDN configuration turned off
    assert not [source for source in connect if "monitor.azure.com" in source]

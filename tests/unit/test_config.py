from __future__ import annotations

import json

import pytest

from shared.config import ConfigError, Mode, load_settings
from tests.servers import SAMPLE_SETTINGS


def sample() -> dict[str, str]:
    return dict(json.loads(SAMPLE_SETTINGS.read_text())["Values"])


def production() -> dict[str, str]:
    values = sample()
    values.update(
        OWNNUMBER_MODE="production",
        PUBLIC_BASE_URL="https://calls.example.org",
        AUTH_AUTHORITY="https://login.example.org/tenant",
        AUTH_CLIENT_ID="client",
        AUTH_CLIENT_SECRET="secret",
    )
    return values


def test_the_sample_settings_describe_a_working_sandbox() -> None:
    settings = load_settings(sample())
    assert settings.mode is Mode.SANDBOX
    assert settings.currency == "USD"
    assert [p.id for p in settings.credit_packs] == ["5", "10", "25"]
    assert settings.credit_packs[0].credit_micros == 5_000_000
    assert settings.auth is None


def test_production_needs_sign_in_settings() -> None:
    values = production()
    del values["AUTH_CLIENT_SECRET"]
    with pytest.raises(ConfigError, match="AUTH_CLIENT_SECRET is missing"):
        load_settings(values)


@pytest.mark.parametrize(
    ("name", "value", "sentence"),
    [
        ("PUBLIC_BASE_URL", "", "PUBLIC_BASE_URL is missing"),
        ("PUBLIC_BASE_URL", "ftp://x", "PUBLIC_BASE_URL must be an http"),
        ("AzureWebJobsStorage", "", "AzureWebJobsStorage is missing"),
        ("TWILIO_ACCOUNT_SID", "AC123", "TWILIO_ACCOUNT_SID is malformed"),
        ("TWILIO_AUTH_TOKEN", "  ", "TWILIO_AUTH_TOKEN is missing"),
        ("TWILIO_CALLER_ID", "0044123", "TWILIO_CALLER_ID is malformed"),
        ("STRIPE_WEBHOOK_SECRET", "secret", "STRIPE_WEBHOOK_SECRET is malformed"),
        ("CURRENCY", "usd", "CURRENCY is malformed"),
        ("CREDIT_PACKS", "5,abc", "CREDIT_PACKS has a bad pack 'abc'"),
        ("CREDIT_PACKS", "5.001", "CREDIT_PACKS has a bad pack"),
        ("CREDIT_PACKS", "5,5", "lists the pack '5' twice"),
        ("CREDIT_PACKS", "0", "not positive"),
        ("OWNNUMBER_MODE", "staging", "OWNNUMBER_MODE must be"),
        ("TOKEN_TTL_SECONDS", "90000", "TOKEN_TTL_SECONDS must be between"),
        ("SESSION_TTL_SECONDS", "soon", "SESSION_TTL_SECONDS must be a whole number"),
    ],
)
def test_a_bad_setting_stops_start_up_with_a_sentence_naming_it(
    name: str, value: str, sentence: str
) -> None:
    values = sample()
    values[name] = value
    with pytest.raises(ConfigError, match=sentence):
        load_settings(values)


def test_production_refuses_a_plain_http_public_url() -> None:
    values = production()
    values["PUBLIC_BASE_URL"] = "http://calls.example.org"
    with pytest.raises(ConfigError, match="must use https"):
        load_settings(values)


def test_a_bonus_pack_grants_more_credit_than_its_price() -> None:
    values = sample()
    values["CREDIT_PACKS"] = "10,25:27.50"
    pack = load_settings(values).pack("25")
    assert pack is not None
    assert (pack.price_micros, pack.credit_micros) == (25_000_000, 27_500_000)


def test_sessions_cookies_are_secure_exactly_when_the_site_is_https() -> None:
    assert not load_settings(sample()).secure_cookies
    assert load_settings(production()).secure_cookies

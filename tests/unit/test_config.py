from __future__ import annotations

import json
import re

import pytest

from shared.config import ConfigError, Mode, is_development_storage, load_settings
from tests.servers import PRODUCTION, REPO, SAMPLE_SETTINGS

README = REPO / "README.md"


def sample() -> dict[str, str]:
    return dict(json.loads(SAMPLE_SETTINGS.read_text())["Values"])


def production() -> dict[str, str]:
    values = sample()
    values.update(PRODUCTION)
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
        ("CREDIT_PACKS", "5,abc", r"CREDIT_PACKS has a bad pack \(item 2\)"),
        ("CREDIT_PACKS", "5.001", "CREDIT_PACKS has a bad pack"),
        ("CREDIT_PACKS", "5,5", r"lists a pack twice \(item 2\)"),
        ("CREDIT_PACKS", "0", "not between 0 and 1,000,000,000"),
        ("CREDIT_PACKS", "10:1e30", "not between 0 and"),
        ("OWNNUMBER_MODE", "staging", "OWNNUMBER_MODE must be"),
        ("OWNNUMBER_MODE", " sandbox", "OWNNUMBER_MODE must be exactly"),
        ("OWNNUMBER_MODE", "Sandbox", "OWNNUMBER_MODE must be exactly"),
        ("TOKEN_TTL_SECONDS", "90000", "TOKEN_TTL_SECONDS must be between"),
        ("SESSION_ABSOLUTE_SECONDS", "soon", "SESSION_ABSOLUTE_SECONDS must be a whole number"),
        ("SESSION_ABSOLUTE_SECONDS", "60", "SESSION_ABSOLUTE_SECONDS must be between"),
        ("SESSION_IDLE_SECONDS", "3600", "SESSION_IDLE_SECONDS must be between 7200"),
        ("REAUTH_MAX_AGE_SECONDS", "0", "REAUTH_MAX_AGE_SECONDS must be between"),
        ("SUPPORT_EMAIL", "support", "SUPPORT_EMAIL must be an email address"),
        ("SUPPORT_EMAIL", "help@@example.org", "SUPPORT_EMAIL must be an email address"),
        ("SUPPORT_EMAIL", "a@b@example.org", "SUPPORT_EMAIL must be an email address"),
        ("SUPPORT_EMAIL", "help desk@example.org", "SUPPORT_EMAIL must be an email address"),
        ("SUPPORT_EMAIL", "@example.org", "SUPPORT_EMAIL must be an email address"),
        ("SUPPORT_EMAIL", "help@", "SUPPORT_EMAIL must be an email address"),
        ("SUPPORT_EMAIL", "a" * 243 + "@example.org", "at most 254 characters"),
        ("LOW_BALANCE_MINUTES", "601", "LOW_BALANCE_MINUTES must be between 0 and 600"),
        ("LOW_BALANCE_MINUTES", "-1", "LOW_BALANCE_MINUTES must be between 0 and 600"),
        ("LOW_BALANCE_MINUTES", "2.5", "LOW_BALANCE_MINUTES must be a whole number"),
        ("TWILIO_VOICE_EDGES", "us1", r"TWILIO_VOICE_EDGES names an edge .* \(item 1\)"),
        ("TWILIO_VOICE_EDGES", "dublin,london", r"TWILIO_VOICE_EDGES names an edge .* \(item 2\)"),
        ("TWILIO_VOICE_EDGES", "dublin-ix", "TWILIO_VOICE_EDGES names an edge"),
        ("TWILIO_VOICE_EDGES", "roaming,dublin,roaming", r"lists an edge twice \(item 3\)"),
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


def test_sessions_last_thirty_days_at_most_and_seven_idle_by_default() -> None:
    values = sample()
    for name in ("SESSION_ABSOLUTE_SECONDS", "SESSION_IDLE_SECONDS", "REAUTH_MAX_AGE_SECONDS"):
        del values[name]
    sessions = load_settings(values).sessions
    assert (sessions.absolute_seconds, sessions.idle_seconds) == (30 * 86400, 7 * 86400)
    assert sessions.reauth_max_age_seconds == 600


def test_sessions_cookies_are_secure_exactly_when_the_site_is_https() -> None:
    assert not load_settings(sample()).secure_cookies
    assert load_settings(production()).secure_cookies


def test_an_unset_or_empty_mode_is_production() -> None:
    for mode in (None, ""):
        values = production()
        if mode is None:
            del values["OWNNUMBER_MODE"]
        else:
            values["OWNNUMBER_MODE"] = mode
        assert load_settings(values).mode is Mode.PRODUCTION


@pytest.mark.parametrize(
    ("overrides", "sentence"),
    [
        ({"PUBLIC_BASE_URL": "https://calls.example.org"}, "PUBLIC_BASE_URL must be a loopback"),
        ({"PUBLIC_BASE_URL": "http://192.168.1.20:7071"}, "PUBLIC_BASE_URL must be a loopback"),
        ({"PUBLIC_BASE_URL": "http://localhost.example.org"}, "must be a loopback"),
        ({"STRIPE_SECRET_KEY": "sk_live_abc123"}, "STRIPE_SECRET_KEY must be a test key"),
        ({"STRIPE_SECRET_KEY": "rk_live_abc123"}, "STRIPE_SECRET_KEY must be a test key"),
        ({"STRIPE_API_BASE_URL": "https://api.stripe.com"}, "STRIPE_API_BASE_URL must be a loop"),
        ({"TWILIO_API_BASE_URL": "https://api.twilio.com"}, "TWILIO_API_BASE_URL must be a loop"),
    ],
)
def test_the_sandbox_refuses_to_run_anywhere_but_loopback_or_with_live_keys(
    overrides: dict[str, str], sentence: str
) -> None:
    values = {**sample(), **overrides}
    with pytest.raises(ConfigError, match=sentence):
        load_settings(values)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:7071", "http://localhost:8080", "http://[::1]:7071", "http://127.8.0.1"],
)
def test_the_sandbox_runs_on_any_loopback_address(url: str) -> None:
    settings = load_settings({**sample(), "PUBLIC_BASE_URL": url})
    assert settings.is_sandbox
    assert settings.sandbox_is_safe


def test_live_keys_are_fine_in_production() -> None:
    settings = load_settings({**production(), "STRIPE_SECRET_KEY": "sk_live_abc123"})
    assert settings.stripe.secret_key == "sk_live_abc123"
    assert not settings.is_sandbox


def test_one_error_names_every_bad_setting_and_never_a_value() -> None:
    secret_url = "ftp://user:pa55w0rd@files.example.org"
    values = {
        **production(),
        "PUBLIC_BASE_URL": secret_url,
        "TWILIO_AUTH_TOKEN": "",
        "TOKEN_TTL_SECONDS": "pa55w0rd",
        "SESSION_IDLE_SECONDS": "99999999999",
        "CREDIT_PACKS": "pa55w0rd",
        "AUTH_AUTHORITY": "http://pa55w0rd.example.org/t",
    }
    with pytest.raises(ConfigError) as raised:
        load_settings(values)
    message = str(raised.value)
    for name in (
        "PUBLIC_BASE_URL",
        "TWILIO_AUTH_TOKEN",
        "TOKEN_TTL_SECONDS",
        "SESSION_IDLE_SECONDS",
        "CREDIT_PACKS",
        "AUTH_AUTHORITY",
    ):
        assert name in message
    assert len(raised.value.problems) == 6
    assert "pa55w0rd" not in message
    assert "99999999999" not in message


def test_an_empty_environment_names_every_required_setting() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({})
    for name in (
        "PUBLIC_BASE_URL",
        "AzureWebJobsStorage",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_API_KEY_SID",
        "TWILIO_API_KEY_SECRET",
        "TWILIO_TWIML_APP_SID",
        "TWILIO_CALLER_ID",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "AUTH_AUTHORITY",
        "AUTH_CLIENT_ID",
        "AUTH_CLIENT_SECRET",
        "RETENTION_SCHEDULE",
    ):
        assert f"The setting {name} is missing" in str(raised.value)


def test_production_needs_the_retention_schedule_the_sandbox_has_a_default() -> None:
    values = production()
    del values["RETENTION_SCHEDULE"]
    with pytest.raises(ConfigError, match="RETENTION_SCHEDULE is missing: without it Azure"):
        load_settings(values)
    values = sample()
    del values["RETENTION_SCHEDULE"]
    assert load_settings(values).privacy.retention_schedule == "0 30 3 * * *"


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "AccountKey=pa55w0rd",
        "UseDevelopmentStorage=false",
        # azure-data-tables reads only the exact form as Azurite's; this one it cannot use.
        "UseDevelopmentStorage=true;",
        "UseDevelopmentStorage=true;AccountName=x",
        "DefaultEndpointsProtocol=https;AccountName=;AccountKey=pa55w0rd",
        "=;=",
    ],
)
def test_a_malformed_storage_connection_string_is_named_never_shown(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({**sample(), "AzureWebJobsStorage": value})
    assert "AzureWebJobsStorage is not a storage connection string" in str(raised.value)
    assert "pa55w0rd" not in str(raised.value)


@pytest.mark.parametrize(
    "value",
    [
        "UseDevelopmentStorage=true",
        "usedevelopmentstorage=TRUE",
        "DefaultEndpointsProtocol=https;AccountName=ownnumberdata;AccountKey=a2V5;"
        "EndpointSuffix=core.windows.net",
        "TableEndpoint=https://ownnumberdata.table.core.windows.net/;"
        "AccountName=ownnumberdata;SharedAccessSignature=sv=2024&sig=x",
    ],
)
def test_storage_connection_strings_azure_accepts_are_accepted(value: str) -> None:
    assert load_settings({**sample(), "AzureWebJobsStorage": value}).storage_connection_string


@pytest.mark.parametrize("name", ["TWILIO_API_BASE_URL", "STRIPE_API_BASE_URL"])
def test_provider_addresses_need_https_in_production_unless_on_this_machine(name: str) -> None:
    with pytest.raises(ConfigError, match=f"{name} must use https"):
        load_settings({**production(), name: "http://api.example.org"})
    settings = load_settings({**production(), name: "http://127.0.0.1:9100/fake"})
    assert settings.mode is Mode.PRODUCTION


@pytest.mark.parametrize(
    ("value", "azurite"),
    [
        ("UseDevelopmentStorage=true", True),
        ("UseDevelopmentStorage=true;", False),
        (" usedevelopmentstorage=TRUE ", True),
        ("UseDevelopmentStorage = true", False),
        ("UseDevelopmentStorage=True", True),
        ("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=a2V5", False),
    ],
)
def test_development_storage_is_told_however_it_is_spelt(value: str, azurite: bool) -> None:
    assert is_development_storage(value) is azurite


@pytest.mark.parametrize(
    "authority",
    [
        "http://tenant.ciamlogin.com/tenant-id",
        "http://127.0.0.1:8443/tenant-id",
        "https://tenant.ciamlogin.com",
        "https://tenant.ciamlogin.com/",
        "https://tenant.ciamlogin.com/tenant-id?p=1",
        "https:///tenant-id",
        "tenant.ciamlogin.com/tenant-id",
    ],
)
def test_the_sign_in_authority_is_https_with_the_tenant_in_its_path(authority: str) -> None:
    # MSAL refuses anything else, and only when a sign-in starts: say so at start-up.
    with pytest.raises(ConfigError, match="AUTH_AUTHORITY must be an https URL with the tenant"):
        load_settings({**production(), "AUTH_AUTHORITY": authority})


def test_an_external_id_authority_is_kept_as_given() -> None:
    authority = "https://ownnumber.ciamlogin.com/4f1c2d3e-0000-4000-8000-00000000c1a0/"
    settings = load_settings({**production(), "AUTH_AUTHORITY": authority})
    assert settings.auth is not None
    assert settings.auth.authority == authority.rstrip("/")


def test_the_sandbox_signs_in_through_entra_too_once_it_is_configured() -> None:
    values = {
        **sample(),
        "AUTH_AUTHORITY": "https://ownnumber.ciamlogin.com/tenant-id",
        "AUTH_CLIENT_ID": "client",
        "AUTH_CLIENT_SECRET": "secret",
    }
    settings = load_settings(values)
    assert settings.is_sandbox
    assert settings.auth is not None
    assert settings.auth.client_id == "client"
    with pytest.raises(ConfigError, match="AUTH_CLIENT_SECRET is missing"):
        load_settings({**values, "AUTH_CLIENT_SECRET": ""})


def test_the_dialer_settings_default_to_no_address_five_minutes_and_roaming() -> None:
    values = sample()
    for name in ("SUPPORT_EMAIL", "LOW_BALANCE_MINUTES", "TWILIO_VOICE_EDGES"):
        del values[name]
    dialer = load_settings(values).dialer
    assert (dialer.support_email, dialer.low_balance_minutes, dialer.voice_edges) == (
        None,
        5,
        ("roaming",),
    )


def test_the_sample_dialer_settings_are_safe_examples() -> None:
    dialer = load_settings(sample()).dialer
    assert dialer.support_email == "support@example.org"
    assert dialer.low_balance_minutes == 5
    assert dialer.voice_edges == ("roaming",)


def test_twilio_edges_are_a_fallback_list_kept_in_order() -> None:
    values = {
        **sample(),
        "TWILIO_VOICE_EDGES": " Dublin, frankfurt ,roaming,",
        "LOW_BALANCE_MINUTES": "0",
    }
    dialer = load_settings(values).dialer
    assert dialer.voice_edges == ("dublin", "frankfurt", "roaming")
    assert dialer.low_balance_minutes == 0


def test_an_empty_support_email_means_none() -> None:
    assert load_settings({**sample(), "SUPPORT_EMAIL": "  "}).dialer.support_email is None


def test_the_dialer_settings_are_named_in_one_error_never_shown() -> None:
    values = {
        **sample(),
        "SUPPORT_EMAIL": "pa55w0rd at example.org",
        "LOW_BALANCE_MINUTES": "pa55w0rd",
        "TWILIO_VOICE_EDGES": "pa55w0rd",
    }
    with pytest.raises(ConfigError) as raised:
        load_settings(values)
    assert len(raised.value.problems) == 3
    for name in ("SUPPORT_EMAIL", "LOW_BALANCE_MINUTES", "TWILIO_VOICE_EDGES"):
        assert name in str(raised.value)
    assert "pa55w0rd" not in str(raised.value)


def _settings_read_by_config() -> set[str]:
    source = (REPO / "shared" / "config.py").read_text()
    return set(re.findall(r"""(?:read\.\w+|env\.get)\(\s*"([A-Za-z_]+)\"""", source))


def test_every_setting_the_app_reads_is_documented_and_in_the_sample() -> None:
    names = _settings_read_by_config()
    assert {"SUPPORT_EMAIL", "LOW_BALANCE_MINUTES", "TWILIO_VOICE_EDGES", "CURRENCY"} <= names
    settings_section = README.read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    assert not [name for name in names if f"`{name}`" not in settings_section]
    assert not names - set(sample())


@pytest.mark.parametrize(
    ("name", "value", "sentence"),
    [
        (
            "SPEND_PER_DAY",
            "-1",
            "The setting SPEND_PER_DAY must be a positive amount of USD, like 50.00.",
        ),
        ("SPEND_PER_DAY", "lots", "The setting SPEND_PER_DAY must be a positive amount of USD"),
        ("FIRST_PURCHASE_MAX", "0", "The setting FIRST_PURCHASE_MAX must be a positive amount"),
        ("CALLS_PER_HOUR", "0", "The setting CALLS_PER_HOUR must be between 1 and 10000."),
        ("DESTINATIONS_PER_DAY", "x", "The setting DESTINATIONS_PER_DAY must be a whole number."),
        ("TOKENS_PER_IP_PER_HOUR", "0", "The setting TOKENS_PER_IP_PER_HOUR must be between"),
    ],
)
def test_a_malformed_limit_is_named_in_a_sentence(name: str, value: str, sentence: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({**sample(), name: value})
    assert sentence in str(refused.value)


def test_the_limits_default_to_sensible_production_values() -> None:
    values = {k: v for k, v in sample().items() if not k.endswith(("_PER_HOUR", "_PER_MINUTE"))}
    values = {k: v for k, v in values.items() if k not in ("SPEND_PER_DAY", "FIRST_PURCHASE_MAX")}
    limits = load_settings(values).limits
    assert (limits.calls_per_hour, limits.destinations_per_day) == (30, 20)
    assert limits.spend_per_day_micros == 50_000_000
    assert limits.first_purchase_max_micros == 20_000_000
    assert limits.checkouts_per_user_per_hour == 5
    assert (
        load_settings({**sample(), "SPEND_PER_DAY": "12.5"}).limits.spend_per_day_micros
        == 12_500_000
    )

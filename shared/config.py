"""Typed configuration, read once from the environment.

Azure Functions (and our local host, like Core Tools) put the app settings into the
environment. Everything is checked here, at start-up, so that a missing or malformed setting
stops the app with a sentence naming it instead of failing on some later request.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from shared.money.micros import (
    MICROS_PER_UNIT,
    AmountError,
    format_micros,
    micros_to_minor,
    parse_micros,
)

# A pack's price and credit, at most: far above any real pack, and far enough below Int64 that
# no sum of packs a ledger could hold overflows it.
MAX_PACK_MICROS = 10**9 * MICROS_PER_UNIT

# In the sandbox, the provider APIs are played by the local host under these paths.
SANDBOX_TWILIO_PATH = "/sandbox/twilio"
SANDBOX_STRIPE_PATH = "/sandbox/stripe"


def is_loopback_host(host: str | None) -> bool:
    """True for `localhost` and the loopback ranges (127.0.0.0/8, ::1), where a sandbox may run."""
    if not host:
        return False
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def storage_connection_parts(value: str) -> dict[str, str] | None:
    """The key=value pairs of a connection string (keys lower-cased), or None if it has none."""
    parts: dict[str, str] = {}
    for segment in value.split(";"):
        if not segment.strip():
            continue  # a trailing ';' is common and harmless
        key, sep, val = segment.partition("=")
        if not sep or not key.strip() or not val.strip():
            return None
        parts[key.strip().lower()] = val.strip()
    return parts or None


def is_development_storage(value: str) -> bool:
    """UseDevelopmentStorage=true, in any case: the local Azurite. Exactly that, as
    azure-data-tables reads it (with a ';' after it, it is a malformed connection string)."""
    return value.strip().lower() == "usedevelopmentstorage=true"


def is_storage_connection_string(value: str) -> bool:
    parts = storage_connection_parts(value)
    if parts is None:
        return False
    if "usedevelopmentstorage" in parts:
        return is_development_storage(value)
    return "accountname" in parts and ("accountkey" in parts or "sharedaccesssignature" in parts)


def is_loopback_url(url: str | None) -> bool:
    return bool(url) and is_loopback_host(urlsplit(url or "").hostname)


class ConfigError(Exception):
    """Settings are missing or malformed: one sentence each, naming the setting."""

    def __init__(self, *problems: str) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


class Mode(StrEnum):
    PRODUCTION = "production"
    SANDBOX = "sandbox"


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    api_key_sid: str
    api_key_secret: str
    twiml_app_sid: str
    caller_id: str
    # Base address of Twilio's REST API; tests point it at a loopback fake.
    api_base_url: str | None


@dataclass(frozen=True)
class StripeSettings:
    secret_key: str
    webhook_secret: str
    # Base address of Stripe's API; tests point it at a loopback fake.
    api_base_url: str | None


@dataclass(frozen=True)
class AuthSettings:
    authority: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class CreditPack:
    id: str
    price_micros: int
    credit_micros: int


@dataclass(frozen=True)
class CallingSettings:
    token_ttl_seconds: int
    blocked_countries: str
    blocked_prefixes: str
    rate_deck_path: Path | None
    # How long past a call's time limit its hold may live before reconciliation asks Twilio.
    reconcile_margin_seconds: int
    # How old any hold must be before reconciliation asks Twilio about it anyway (a <Dial>
    # that never ran, a lost final report), so that a glitch does not block calls for hours.
    reconcile_grace_seconds: int = 180


@dataclass(frozen=True)
class CallerIdSettings:
    """Limits on verifying a number as caller ID (each attempt makes Twilio ring a phone)."""

    # Verifications one user may start in an hour (a fixed window, the clock's hour).
    attempts_per_user_per_hour: int = 3
    # Verifications of one number, by all users together, in an hour: nobody can make a
    # stranger's phone ring again and again by signing up many accounts.
    attempts_per_number_per_hour: int = 3


@dataclass(frozen=True)
class LimitSettings:
    """Abuse and fraud limits (README "Limits"). Those that guard money are global, kept on the
    account's balance row; the others are counted per instance, in memory."""

    # Global: call velocity, against international revenue share fraud.
    calls_per_hour: int = 30
    destinations_per_day: int = 20
    spend_per_day_micros: int = 50 * MICROS_PER_UNIT
    # Global: an account's purchases before its first one is credited (card testing).
    first_purchase_max_micros: int = 20 * MICROS_PER_UNIT
    checkouts_per_user_per_hour: int = 5
    # Per instance, in memory.
    tokens_per_user_per_hour: int = 60
    tokens_per_ip_per_hour: int = 600
    rates_per_user_per_minute: int = 60
    rates_per_ip_per_minute: int = 300
    checkouts_per_ip_per_hour: int = 30
    exports_per_ip_per_hour: int = 10
    caller_id_attempts_per_ip_per_hour: int = 10
    sign_ins_per_ip_per_hour: int = 60


@dataclass(frozen=True)
class PrivacySettings:
    """How long each kind of record is kept, and what export and deletion may do (the privacy
    registry, shared.privacy.registry, names these settings for each kind it describes)."""

    # Calls and their history rows, from the call's start; the ledger keeps its charge.
    call_retention_days: int = 180
    # Accounting records (ledger, journal, payments) of a deleted account, pseudonymised, from
    # the deletion: commercial and tax law keep books for up to ten years in most of Europe.
    accounting_retention_years: int = 10
    # NCRONTAB (six fields) of the daily retention run.
    retention_schedule: str = "0 30 3 * * *"
    # Whether deleting an account also deletes its calls' logs at Twilio (Calls API DELETE).
    delete_twilio_call_logs: bool = False
    # Exports (GET /api/me/export) one user may make in an hour.
    exports_per_user_per_hour: int = 3


@dataclass(frozen=True)
class SessionSettings:
    # A session lives until the earlier of created + absolute and last seen + idle.
    absolute_seconds: int
    idle_seconds: int
    # How recent a sign-in the dangerous actions (delete account, caller ID, export) need.
    reauth_max_age_seconds: int


# The public edges of the Twilio Voice JavaScript SDK for `new Device(token, {edge})` (its `Edge`
# enumeration, @twilio/voice-sdk 2.x), each of whose signalling hosts the site's CSP allows.
# The Interconnect ones (ashburn-ix…) need a private connection to Twilio and CSP hosts of
# their own, so a deployment that has one edits both.
VOICE_SDK_EDGES = (
    "roaming",
    "ashburn",
    "dublin",
    "frankfurt",
    "sao-paulo",
    "singapore",
    "sydney",
    "tokyo",
    "umatilla",
)
# Browser analytics: the SDK posts to the connection string's IngestionEndpoint, or to this
# global endpoint when it names none. The site's CSP (connect-src) must allow that host.
BROWSER_ANALYTICS_SETTING = "APPLICATIONINSIGHTS_BROWSER_CONNECTION_STRING"
DEFAULT_INGESTION_ENDPOINT = "https://dc.services.visualstudio.com"
_INSTRUMENTATION_KEY = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
# The longest address SMTP carries (RFC 5321's 256-octet path, less its angle brackets).
MAX_EMAIL_CHARS = 254
_EMAIL_LIKE = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class DialerSettings:
    """What the dialer page is told before anyone signs in (GET /api/config)."""

    # Shown on the banner of an account that is disputed or below zero; None: no address.
    support_email: str | None
    # The page warns when the balance buys fewer minutes than this to the last destination.
    low_balance_minutes: int
    # Passed to `new Device(token, {edge})`, in order: the SDK falls back along the list.
    voice_edges: tuple[str, ...]
    # The Application Insights connection string the browser SDK is given (after consent
    # only); None: no browser analytics. Not a secret: every visitor's browser would hold it.
    analytics_connection_string: str | None = None


@dataclass(frozen=True)
class Settings:
    mode: Mode
    public_base_url: str
    storage_connection_string: str
    currency: str
    credit_packs: tuple[CreditPack, ...]
    sessions: SessionSettings
    twilio: TwilioSettings
    stripe: StripeSettings
    auth: AuthSettings | None
    calling: CallingSettings
    dialer: DialerSettings
    appinsights_connection_string: str | None
    caller_id: CallerIdSettings = CallerIdSettings()
    privacy: PrivacySettings = PrivacySettings()
    limits: LimitSettings = LimitSettings()

    @property
    def is_sandbox(self) -> bool:
        return self.mode is Mode.SANDBOX

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.public_base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def secure_cookies(self) -> bool:
        return self.public_base_url.startswith("https://")

    @property
    def sandbox_is_safe(self) -> bool:
        """Whether these settings keep the sandbox to this machine (checked again by the dev
        sign-in on every request, not only at start-up)."""
        return not sandbox_problems(
            self.public_base_url,
            self.stripe.secret_key,
            {
                "TWILIO_API_BASE_URL": self.twilio.api_base_url,
                "STRIPE_API_BASE_URL": self.stripe.api_base_url,
            },
        )

    def pack(self, pack_id: str) -> CreditPack | None:
        return next((p for p in self.credit_packs if p.id == pack_id), None)

    def describe_pack(self, pack: CreditPack) -> str:
        return format_micros(pack.price_micros, self.currency)


class _Reader:
    """Reads one setting at a time and words every complaint the same way.

    A complaint is noted and reading goes on, so that one start-up names every setting that
    is wrong; a sentence names the setting and what it needs, never the value (which may be
    a secret, and the sentence is shown to callers in a 503).
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.problems: list[str] = []

    def complain(self, sentence: str) -> None:
        self.problems.append(sentence)

    def optional(self, name: str, default: str | None = None) -> str | None:
        value = self._env.get(name, "").strip()
        return value or default

    def required(self, name: str, why: str = "") -> str:
        value = self.optional(name)
        if value is None:
            suffix = f" {why}" if why else ""
            self.complain(f"The setting {name} is missing.{suffix}")
            return ""
        return value

    def matching(self, name: str, pattern: str, example: str, *, required: bool = True) -> str:
        value = self.required(name) if required else self.optional(name, "")
        if value and not re.fullmatch(pattern, value):
            self.complain(f"The setting {name} is malformed: expected something like {example}.")
            return ""
        return value or ""

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.optional(name, str(default))
        assert raw is not None
        try:
            value = int(raw)
        except ValueError:
            self.complain(f"The setting {name} must be a whole number.")
            return default
        if not low <= value <= high:
            self.complain(f"The setting {name} must be between {low} and {high}.")
            return default
        return value

    def amount(self, name: str, default_micros: int, currency: str) -> int:
        """A positive amount of the currency, like 50.00."""
        raw = self.optional(name)
        if raw is None:
            return default_micros
        try:
            micros = parse_micros(raw)
        except AmountError:
            micros = 0
        if not 0 < micros <= MAX_PACK_MICROS:
            example = format_micros(default_micros, currency).removesuffix(f" {currency}")
            self.complain(
                f"The setting {name} must be a positive amount of {currency}, like {example}."
            )
            return default_micros
        return micros

    def boolean(self, name: str, default: bool) -> bool:
        raw = (self.optional(name) or "").lower()
        if not raw:
            return default
        if raw not in ("true", "false"):
            self.complain(f"The setting {name} must be true or false.")
            return default
        return raw == "true"

    def url(self, name: str, *, required: bool = True, https_only: bool = False) -> str | None:
        """An http(s) URL; with https_only, plain http only to this machine (a test's fake),
        never across a network, where it would carry keys in clear."""
        value = self.required(name) if required else self.optional(name)
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.complain(f"The setting {name} must be an http(s) URL.")
            return None
        if https_only and parts.scheme != "https" and not is_loopback_host(parts.hostname):
            self.complain(f"The setting {name} must use https outside the local sandbox.")
            return None
        return value.rstrip("/")

    def authority(self, name: str) -> str:
        """An OpenID Connect authority as MSAL takes it: https (MSAL refuses anything else, on
        loopback too), a host, and the tenant as the first segment of its path."""
        value = self.required(name)
        if not value:
            return ""
        parts = urlsplit(value)
        if (
            parts.scheme != "https"
            or not parts.hostname
            or not parts.path.strip("/")
            or parts.query
            or parts.fragment
        ):
            self.complain(
                f"The setting {name} must be an https URL with the tenant in its path, like "
                "https://<tenant>.ciamlogin.com/<tenant-id>."
            )
            return ""
        return value.rstrip("/")

    def storage_connection(self, name: str) -> str:
        """A Table Storage connection string: UseDevelopmentStorage=true (Azurite), or
        key=value pairs naming the account and a key or SAS token."""
        value = self.required(name, "Use UseDevelopmentStorage=true for Azurite.")
        if value and not is_storage_connection_string(value):
            self.complain(
                f"The setting {name} is not a storage connection string: expected "
                "UseDevelopmentStorage=true or DefaultEndpointsProtocol=https;AccountName=…;"
                "AccountKey=…;EndpointSuffix=core.windows.net."
            )
            return ""
        return value


def _parse_credit_packs(raw: str, currency: str) -> tuple[CreditPack, ...]:
    """'5,10,25' or '25:27.5' (price:credit, for a bonus) into packs with exact micros."""
    packs: list[CreditPack] = []
    for number, item in enumerate((part.strip() for part in raw.split(",")), start=1):
        if not item:
            continue
        price_text, _, credit_text = item.partition(":")
        try:
            price = parse_micros(price_text)
            credit = parse_micros(credit_text) if credit_text else price
            micros_to_minor(price, currency)
        except AmountError:
            raise ConfigError(
                f"The setting CREDIT_PACKS has a bad pack (item {number}): a pack is an amount "
                f"in whole minor units of {currency}, like 10, or price:credit, like 25:27.50."
            ) from None
        if not 0 < price <= MAX_PACK_MICROS or not 0 < credit <= MAX_PACK_MICROS:
            raise ConfigError(
                f"The setting CREDIT_PACKS has a pack that is not between 0 and "
                f"{MAX_PACK_MICROS // MICROS_PER_UNIT:,} (item {number})."
            )
        pack_id = price_text.strip()
        if any(p.id == pack_id for p in packs):
            raise ConfigError(f"The setting CREDIT_PACKS lists a pack twice (item {number}).")
        packs.append(CreditPack(id=pack_id, price_micros=price, credit_micros=credit))
    if not packs:
        raise ConfigError("The setting CREDIT_PACKS must list at least one pack, like 5,10,25.")
    return tuple(packs)


def _mode(read: _Reader, env: Mapping[str, str]) -> Mode:
    # Read exactly as written: " sandbox" is a typo to refuse, never a sandbox to run.
    raw = env.get("OWNNUMBER_MODE", "")
    if raw == "":
        return Mode.PRODUCTION
    try:
        return Mode(raw)
    except ValueError:
        read.complain("The setting OWNNUMBER_MODE must be exactly 'production' or 'sandbox'.")
        return Mode.PRODUCTION


def sandbox_problems(
    public_base_url: str | None,
    stripe_secret_key: str,
    provider_urls: Mapping[str, str | None],
) -> list[str]:
    """Why the sandbox may not run with these settings (nothing: it may).

    The sandbox signs anyone in as anyone and plays Twilio and Stripe, so it runs only where
    nobody else can reach it: on loopback, with test keys, talking to providers on loopback.
    """
    problems = []
    if not is_loopback_url(public_base_url):
        problems.append(
            "OWNNUMBER_MODE=sandbox runs only on this machine: PUBLIC_BASE_URL must be a "
            "loopback address such as http://127.0.0.1:7071."
        )
    if stripe_secret_key.startswith(("sk_live_", "rk_live_")):
        problems.append(
            "OWNNUMBER_MODE=sandbox never uses live keys: STRIPE_SECRET_KEY must be a test key."
        )
    for name, url in provider_urls.items():
        if url and not is_loopback_url(url):
            problems.append(
                f"OWNNUMBER_MODE=sandbox sends its keys only to this machine: {name} must be a "
                "loopback address, or empty."
            )
    return problems


def _session_settings(read: _Reader) -> SessionSettings:
    # A session's last sight is written at most once an hour (shared.identity.sessions), so an
    # idle lifetime under two hours could end a session that is in use.
    return SessionSettings(
        absolute_seconds=read.integer("SESSION_ABSOLUTE_SECONDS", 30 * 86400, 3600, 366 * 86400),
        idle_seconds=read.integer("SESSION_IDLE_SECONDS", 7 * 86400, 7200, 366 * 86400),
        reauth_max_age_seconds=read.integer("REAUTH_MAX_AGE_SECONDS", 600, 60, 86400),
    )


# Six NCRONTAB fields (second minute hour day month weekday) of digits and * , - /.
_NCRONTAB = re.compile(r"[0-9*,/-]+( [0-9*,/-]+){5}")


def _privacy_settings(read: _Reader, sandbox: bool) -> PrivacySettings:
    # The timer's schedule is %RETENTION_SCHEDULE%, and the Functions host never runs a timer
    # whose setting is missing: in production a missing one would silently keep data forever.
    if not sandbox and read.optional("RETENTION_SCHEDULE") is None:
        read.complain(
            "The setting RETENTION_SCHEDULE is missing: without it Azure Functions never runs "
            "the retention timer. Use 0 30 3 * * * for 03:30 UTC every day."
        )
    schedule = read.optional("RETENTION_SCHEDULE", PrivacySettings.retention_schedule) or ""
    if not _NCRONTAB.fullmatch(schedule):
        read.complain(
            "The setting RETENTION_SCHEDULE must be an NCRONTAB expression of six fields "
            "(second minute hour day month weekday), like 0 30 3 * * * for 03:30 every day."
        )
        schedule = PrivacySettings.retention_schedule
    return PrivacySettings(
        call_retention_days=read.integer("CALL_RETENTION_DAYS", 180, 1, 3660),
        accounting_retention_years=read.integer("ACCOUNTING_RETENTION_YEARS", 10, 1, 30),
        retention_schedule=schedule,
        delete_twilio_call_logs=read.boolean("DELETE_TWILIO_CALL_LOGS", False),
        exports_per_user_per_hour=read.integer("EXPORTS_PER_USER_PER_HOUR", 3, 1, 100),
    )


def _limit_settings(read: _Reader, currency: str) -> LimitSettings:
    d = LimitSettings()
    return LimitSettings(
        calls_per_hour=read.integer("CALLS_PER_HOUR", d.calls_per_hour, 1, 10_000),
        destinations_per_day=read.integer(
            "DESTINATIONS_PER_DAY", d.destinations_per_day, 1, 10_000
        ),
        spend_per_day_micros=read.amount("SPEND_PER_DAY", d.spend_per_day_micros, currency),
        first_purchase_max_micros=read.amount(
            "FIRST_PURCHASE_MAX", d.first_purchase_max_micros, currency
        ),
        checkouts_per_user_per_hour=read.integer(
            "CHECKOUTS_PER_USER_PER_HOUR", d.checkouts_per_user_per_hour, 1, 1000
        ),
        tokens_per_user_per_hour=read.integer(
            "TOKENS_PER_USER_PER_HOUR", d.tokens_per_user_per_hour, 1, 1_000_000
        ),
        tokens_per_ip_per_hour=read.integer(
            "TOKENS_PER_IP_PER_HOUR", d.tokens_per_ip_per_hour, 1, 1_000_000
        ),
        rates_per_user_per_minute=read.integer(
            "RATES_PER_USER_PER_MINUTE", d.rates_per_user_per_minute, 1, 1_000_000
        ),
        rates_per_ip_per_minute=read.integer(
            "RATES_PER_IP_PER_MINUTE", d.rates_per_ip_per_minute, 1, 1_000_000
        ),
        checkouts_per_ip_per_hour=read.integer(
            "CHECKOUTS_PER_IP_PER_HOUR", d.checkouts_per_ip_per_hour, 1, 1_000_000
        ),
        exports_per_ip_per_hour=read.integer(
            "EXPORTS_PER_IP_PER_HOUR", d.exports_per_ip_per_hour, 1, 1_000_000
        ),
        caller_id_attempts_per_ip_per_hour=read.integer(
            "CALLER_ID_ATTEMPTS_PER_IP_PER_HOUR", d.caller_id_attempts_per_ip_per_hour, 1, 1_000_000
        ),
        sign_ins_per_ip_per_hour=read.integer(
            "SIGN_INS_PER_IP_PER_HOUR", d.sign_ins_per_ip_per_hour, 1, 1_000_000
        ),
    )


def _support_email(read: _Reader) -> str | None:
    value = read.optional("SUPPORT_EMAIL")
    if value is None:
        return None
    if len(value) > MAX_EMAIL_CHARS or not _EMAIL_LIKE.fullmatch(value):
        read.complain(
            "The setting SUPPORT_EMAIL must be an email address like support@example.org: "
            f"one @, no spaces, at most {MAX_EMAIL_CHARS} characters (or empty for none)."
        )
        return None
    return value


def _voice_edges(read: _Reader) -> tuple[str, ...]:
    raw = read.optional("TWILIO_VOICE_EDGES", "roaming") or ""
    edges: list[str] = []
    for number, item in enumerate((part.strip() for part in raw.split(",")), start=1):
        if not item:
            continue
        edge = item.lower()
        if edge not in VOICE_SDK_EDGES:
            read.complain(
                f"The setting TWILIO_VOICE_EDGES names an edge Twilio's Voice SDK does not know "
                f"(item {number}): use a comma-separated list of {', '.join(VOICE_SDK_EDGES)}."
            )
            return ("roaming",)
        if edge in edges:
            read.complain(f"The setting TWILIO_VOICE_EDGES lists an edge twice (item {number}).")
            return ("roaming",)
        edges.append(edge)
    return tuple(edges) or ("roaming",)


def connection_string_parts(value: str) -> dict[str, str]:
    """An Application Insights connection string's `Key=value;` pairs, keys lower-cased."""
    pairs = (part.split("=", 1) for part in value.split(";") if "=" in part)
    return {key.strip().lower(): item.strip() for key, item in pairs}


def ingestion_endpoint(connection_string: str) -> str:
    """Where the browser SDK posts telemetry (`<endpoint>/v2/track`): the connection string's
    IngestionEndpoint, or the SDK's global default without one."""
    endpoint = connection_string_parts(connection_string).get("ingestionendpoint", "")
    return (endpoint or DEFAULT_INGESTION_ENDPOINT).rstrip("/")


def _browser_analytics(read: _Reader, sandbox: bool) -> str | None:
    """APPLICATIONINSIGHTS_BROWSER_CONNECTION_STRING, else the server's connection string (when
    it is well formed: that one is the telemetry's to check)."""
    own = read.optional(BROWSER_ANALYTICS_SETTING)
    value = own or read.optional("APPLICATIONINSIGHTS_CONNECTION_STRING")
    if value is None:
        return None
    key = connection_string_parts(value).get("instrumentationkey", "")
    endpoint = urlsplit(ingestion_endpoint(value))
    https = endpoint.scheme == "https" or (
        sandbox and endpoint.scheme == "http" and is_loopback_host(endpoint.hostname)
    )
    if _INSTRUMENTATION_KEY.fullmatch(key) and endpoint.hostname and https:
        return value
    if own:
        read.complain(
            f"The setting {BROWSER_ANALYTICS_SETTING} must be an Application Insights "
            "connection string: InstrumentationKey=<guid>;IngestionEndpoint=https://…/ "
            "(http only to loopback, in the sandbox)."
        )
    return None


def _dialer_settings(read: _Reader, sandbox: bool) -> DialerSettings:
    return DialerSettings(
        support_email=_support_email(read),
        low_balance_minutes=read.integer("LOW_BALANCE_MINUTES", 5, 0, 600),
        voice_edges=_voice_edges(read),
        analytics_connection_string=_browser_analytics(read, sandbox),
    )


def load_settings(env: Mapping[str, str]) -> Settings:
    """The settings, or ConfigError naming every setting that is missing or malformed."""
    read = _Reader(env)
    mode = _mode(read, env)
    sandbox = mode is Mode.SANDBOX
    public_base_url = read.url("PUBLIC_BASE_URL", https_only=not sandbox) or ""
    currency = read.matching("CURRENCY", r"[A-Z]{3}", "USD", required=False) or "USD"

    twilio_api = read.url("TWILIO_API_BASE_URL", required=False, https_only=not sandbox)
    twilio = TwilioSettings(
        account_sid=read.matching("TWILIO_ACCOUNT_SID", r"AC[0-9a-f]{32}", "AC followed by 32 hex"),
        auth_token=read.required("TWILIO_AUTH_TOKEN"),
        api_key_sid=read.matching("TWILIO_API_KEY_SID", r"SK[0-9a-f]{32}", "SK followed by 32 hex"),
        api_key_secret=read.required("TWILIO_API_KEY_SECRET"),
        twiml_app_sid=read.matching(
            "TWILIO_TWIML_APP_SID", r"AP[0-9a-f]{32}", "AP followed by 32 hex"
        ),
        caller_id=read.matching("TWILIO_CALLER_ID", r"\+[1-9][0-9]{6,14}", "+15005550006"),
        api_base_url=twilio_api or (f"{public_base_url}{SANDBOX_TWILIO_PATH}" if sandbox else None),
    )
    stripe_api = read.url("STRIPE_API_BASE_URL", required=False, https_only=not sandbox)
    stripe = StripeSettings(
        secret_key=read.matching(
            "STRIPE_SECRET_KEY", r"(sk|rk)_(test|live)_[A-Za-z0-9]+", "sk_test_..."
        ),
        webhook_secret=read.matching("STRIPE_WEBHOOK_SECRET", r"whsec_[A-Za-z0-9]+", "whsec_..."),
        api_base_url=stripe_api or (f"{public_base_url}{SANDBOX_STRIPE_PATH}" if sandbox else None),
    )
    if sandbox:
        for problem in sandbox_problems(
            public_base_url or None,
            stripe.secret_key,
            {"TWILIO_API_BASE_URL": twilio_api, "STRIPE_API_BASE_URL": stripe_api},
        ):
            read.complain(problem)
    # Entra External ID signs users in, required outside the sandbox; the sandbox has its dev
    # login, and Entra's too once AUTH_CLIENT_ID is set (to try a real tenant locally).
    auth: AuthSettings | None = None
    if not sandbox or read.optional("AUTH_CLIENT_ID"):
        auth = AuthSettings(
            authority=read.authority("AUTH_AUTHORITY"),
            client_id=read.required("AUTH_CLIENT_ID"),
            client_secret=read.required("AUTH_CLIENT_SECRET"),
        )
    rate_deck = read.optional("RATE_DECK_PATH")
    calling = CallingSettings(
        token_ttl_seconds=read.integer("TOKEN_TTL_SECONDS", 3600, 60, 86400),
        blocked_countries=read.optional("BLOCKED_COUNTRIES", "") or "",
        blocked_prefixes=read.optional("BLOCKED_PREFIXES", "") or "",
        rate_deck_path=Path(rate_deck) if rate_deck else None,
        reconcile_margin_seconds=read.integer("RECONCILE_MARGIN_SECONDS", 300, 0, 86400),
        reconcile_grace_seconds=read.integer("RECONCILE_GRACE_SECONDS", 180, 0, 86400),
    )
    credit_packs: tuple[CreditPack, ...] = ()
    try:
        credit_packs = _parse_credit_packs(read.optional("CREDIT_PACKS", "5,10,25") or "", currency)
    except ConfigError as error:
        read.complain(str(error))
    settings = Settings(
        mode=mode,
        public_base_url=public_base_url,
        storage_connection_string=read.storage_connection("AzureWebJobsStorage"),
        currency=currency,
        credit_packs=credit_packs,
        sessions=_session_settings(read),
        twilio=twilio,
        stripe=stripe,
        auth=auth,
        calling=calling,
        dialer=_dialer_settings(read, sandbox),
        appinsights_connection_string=read.optional("APPLICATIONINSIGHTS_CONNECTION_STRING"),
        privacy=_privacy_settings(read, sandbox),
        limits=_limit_settings(read, currency),
        caller_id=CallerIdSettings(
            attempts_per_user_per_hour=read.integer(
                "CALLER_ID_ATTEMPTS_PER_USER_PER_HOUR", 3, 1, 100
            ),
            attempts_per_number_per_hour=read.integer(
                "CALLER_ID_ATTEMPTS_PER_NUMBER_PER_HOUR", 3, 1, 100
            ),
        ),
    )
    if read.problems:
        raise ConfigError(*read.problems)
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read on first use and then kept."""
    return load_settings(os.environ)


def log_settings_problems(logger: logging.Logger) -> None:
    """Logs one error naming every missing or malformed setting, as the app loads.

    The app still loads (a Functions app that fails to import shows nothing useful in the
    portal); until the settings are fixed every endpoint that needs them answers 503 with the
    same sentences (a request without a session cookie is still told 401 first).
    """
    try:
        get_settings()
    except ConfigError as error:
        logger.error(
            "OwnNumber is misconfigured; its endpoints answer 503 until this is fixed: %s",
            error,
        )

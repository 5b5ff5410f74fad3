"""Our connection overrides for Twilio's webhooks: the fragment we generate, the parser the
sandbox reads any fragment with (Twilio's limits and defaults), and the URLs that carry it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from shared.telephony.webhook_overrides import (
    CONNECT_TIMEOUT_RANGE,
    OVERRIDES,
    READ_TIMEOUT_MS,
    RETRY_COUNT_RANGE,
    TOTAL_TIME_RANGE,
    TWILIO_DEFAULTS,
    ConnectionOverrides,
    InvalidOverrides,
    overrides_of,
    parse_overrides,
    with_overrides,
    without_fragment,
)
from shared.telephony.webhook_paths import dial_callbacks, public_url, twilio_url, voice_url

BASE = "https://calls.example.com"


def test_our_fragment_retries_5xx_and_time_outs_twice_within_twilios_budget() -> None:
    assert OVERRIDES.fragment() == "rc=2&rp=ct,rt,5xx&ct=3000&rt=10000&tt=15000"
    assert parse_overrides(OVERRIDES.fragment()) == OVERRIDES
    for failure in ("5xx", "ct", "rt"):
        assert OVERRIDES.retries(failure)
    assert not OVERRIDES.retries("4xx")  # a bad signature or input stays bad


def test_our_time_outs_fit_the_request_deadline_and_twilios_15_seconds() -> None:
    # Our handlers answer within about 8-10 s (a 503 once their deadline passes): the read
    # time-out waits for that, and a first try that timed out still leaves time for a retry.
    assert 8_000 < READ_TIMEOUT_MS <= 10_000
    assert OVERRIDES.total_time_ms == TOTAL_TIME_RANGE[1] == 15_000
    assert OVERRIDES.connect_timeout_ms + OVERRIDES.read_timeout_ms < OVERRIDES.total_time_ms
    assert 1 < OVERRIDES.retry_count < RETRY_COUNT_RANGE[1]


def test_without_a_fragment_twilio_retries_once_and_only_after_a_time_out() -> None:
    assert parse_overrides("") == TWILIO_DEFAULTS == overrides_of(f"{BASE}/api/voice")
    assert (TWILIO_DEFAULTS.retry_count, TWILIO_DEFAULTS.retry_on) == (1, {"ct", "rt"})
    assert not TWILIO_DEFAULTS.retries("5xx")
    assert (
        TWILIO_DEFAULTS.connect_timeout_ms,
        TWILIO_DEFAULTS.read_timeout_ms,
        TWILIO_DEFAULTS.total_time_ms,
    ) == (5_000, 15_000, 15_000)


def test_a_fragment_names_only_what_it_changes_in_any_order() -> None:
    parsed = parse_overrides("rp=5xx&rc=4")
    assert (parsed.retry_count, parsed.retry_on) == (4, {"5xx"})
    assert parsed.read_timeout_ms == TWILIO_DEFAULTS.read_timeout_ms
    assert parse_overrides("rp=all").retry_on == {"4xx", "5xx", "ct", "rt"}
    assert parse_overrides("rc=0").retry_count == 0
    edged = parse_overrides("e=dublin&sni=n")
    assert (edged.edge, edged.sni) == ("dublin", False)
    assert parse_overrides(edged.fragment()) == edged


@pytest.mark.parametrize(
    "fragment",
    [
        f"ct={CONNECT_TIMEOUT_RANGE[0] - 1}",
        f"ct={CONNECT_TIMEOUT_RANGE[1] + 1}",
        "rt=15001",
        "tt=0",
        "rc=6",
        "rc=-1",
        "rc=two",
        "rp=",
        "rp=5xx,",
        "rp=5xx,5xx",
        "rp=3xx",
        "rp=sometimes",
        "sni=maybe",
        "e=Not An Edge",
        "rc=1&rc=2",
        "rc",
        "retries=2",
        "section-2",
    ],
)
def test_a_fragment_twilio_would_refuse_is_refused(fragment: str) -> None:
    with pytest.raises(InvalidOverrides):
        parse_overrides(fragment)


def test_overrides_out_of_twilios_range_cannot_be_built() -> None:
    with pytest.raises(InvalidOverrides, match="tt"):
        ConnectionOverrides(total_time_ms=20_000)
    with pytest.raises(InvalidOverrides, match="rp"):
        ConnectionOverrides(retry_on=frozenset())


def test_a_url_carries_our_overrides_after_its_query() -> None:
    plain = f"{BASE}/api/call-status?user=u1&call=CA1"
    carried = with_overrides(plain)
    assert carried == f"{plain}#{OVERRIDES.fragment()}"
    parts = urlsplit(carried)
    assert parse_qs(parts.query) == {"user": ["u1"], "call": ["CA1"]}
    assert parse_overrides(parts.fragment) == OVERRIDES
    assert without_fragment(carried) == plain
    # One fragment only: overrides replace whatever the URL carried.
    assert with_overrides(f"{plain}#rc=1") == carried


def test_every_url_we_give_twilio_carries_our_overrides() -> None:
    callbacks = dial_callbacks(BASE, "u1", "CA" + "1" * 32)
    query = f"user=u1&call=CA{'1' * 32}"
    assert callbacks.action_url == with_overrides(
        public_url(BASE, "/api/call-status/dial-action", query)
    )
    assert callbacks.status_callback_url == with_overrides(
        public_url(BASE, "/api/call-status", query)
    )
    assert voice_url(BASE) == f"{BASE}/api/voice#{OVERRIDES.fragment()}"
    assert twilio_url(BASE, "/api/voice") == voice_url(BASE)
    for url in (callbacks.action_url, callbacks.status_callback_url, voice_url(BASE)):
        assert overrides_of(url) == OVERRIDES

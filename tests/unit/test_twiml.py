"""The TwiML answers, read back as XML; and the pieces of Twilio's protocol they rely on."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import urlencode

import jwt
import pytest
from twilio.request_validator import RequestValidator

from shared.config import TwilioSettings, load_settings
from shared.telephony.access_token import TokenTtlInvalid, mint_voice_token, token_ttl
from shared.telephony.signature import (
    SignatureInvalid,
    public_url,
    sign,
    signed_url,
    verified_webhook,
    verify,
)
from shared.telephony.twiml import DialPlan, dial, empty, hang_up, refuse
from shared.telephony.webhook_overrides import (
    OVERRIDES,
    overrides_of,
    parse_overrides,
    with_overrides,
)
from shared.telephony.webhook_paths import dial_callbacks
from tests.servers import SAMPLE_SETTINGS

BASE = "https://calls.example.com"
CALLBACKS = dial_callbacks(BASE, "u1", "CA1")
PLAN = DialPlan(
    to_e164="+442079460018",
    caller_id="+15005550006",
    time_limit_seconds=4000,
    action_url=CALLBACKS.action_url,
    status_callback_url=CALLBACKS.status_callback_url,
)


def test_dial_bridges_on_answer_with_a_time_limit_and_every_status_event() -> None:
    root = ET.fromstring(dial(PLAN))
    assert root.tag == "Response"
    [command] = list(root)
    assert command.tag == "Dial"
    assert command.attrib == {
        "answerOnBridge": "true",
        "callerId": "+15005550006",
        "timeLimit": "4000",
        "action": PLAN.action_url,
        "method": "POST",
    }
    [number] = list(command)
    assert number.tag == "Number"
    assert number.text == "+442079460018"
    assert number.attrib == {
        "statusCallback": PLAN.status_callback_url,
        "statusCallbackEvent": "initiated ringing answered completed",
        "statusCallbackMethod": "POST",
    }


def test_urls_with_several_parameters_and_our_overrides_survive_the_xml() -> None:
    assert "&amp;call=CA1#rc=2&amp;rp=" in dial(PLAN)
    root = ET.fromstring(dial(PLAN))
    for url in (
        root.find("Dial").attrib["action"],
        root.find("Dial/Number").attrib["statusCallback"],
    ):
        assert url.endswith(f"?user=u1&call=CA1#{OVERRIDES.fragment()}")
        assert overrides_of(url) == OVERRIDES


@pytest.mark.parametrize("limit", [0, -1, True])
def test_the_time_limit_must_be_a_positive_whole_number_of_seconds(limit: int) -> None:
    with pytest.raises(ValueError, match="timeLimit"):
        DialPlan("+442079460018", "+15005550006", limit, PLAN.action_url, PLAN.action_url)


def test_only_an_e164_number_is_dialled() -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        DialPlan("0207 946 0018", "+15005550006", 60, PLAN.action_url, PLAN.action_url)


def test_a_refusal_says_why_then_hangs_up() -> None:
    root = ET.fromstring(refuse("Calls to <+44> & co are not available."))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root[0].text == "Calls to <+44> & co are not available."


def test_hang_up_and_empty_answers() -> None:
    assert [c.tag for c in ET.fromstring(hang_up())] == ["Hangup"]
    empty_root = ET.fromstring(empty())
    assert (empty_root.tag, list(empty_root)) == ("Response", [])


# --- signatures ----------------------------------------------------------------------------


def test_a_signature_made_like_twilios_verifies_for_that_url_only() -> None:
    url = public_url(BASE, "/api/call-status", "user=u1&call=CA1")
    form = [("CallSid", "CA2"), ("CallStatus", "ringing"), ("Empty", "")]
    signature = sign(url, form, "secret")
    verify(url, form, signature, "secret")
    # Twilio sometimes signs with the default port spelled out; both are Twilio's.
    verify(url.replace(".com/", ".com:443/"), form, signature, "secret")
    for bad_url, bad_form, bad_signature, token in [
        (url + "&x=1", form, signature, "secret"),
        (url.replace("u1", "u2"), form, signature, "secret"),
        (url, [*form, ("Extra", "1")], signature, "secret"),
        (url, form, signature, "other"),
        (url, form, None, "secret"),
        (url, form, "", "secret"),
    ]:
        with pytest.raises(SignatureInvalid):
            verify(bad_url, bad_form, bad_signature, token)


def test_twilio_signs_a_url_with_overrides_as_requested_without_the_fragment() -> None:
    given = CALLBACKS.status_callback_url  # what the TwiML gave Twilio
    form = [("CallSid", "CA2"), ("CallStatus", "completed")]
    requested = signed_url(given)
    assert requested == f"{BASE}/api/call-status?user=u1&call=CA1"
    as_twilio = RequestValidator("secret").compute_signature(requested, dict(form))
    assert sign(given, form, "secret") == as_twilio
    verify(given, form, as_twilio, "secret")
    # A helper library handed the configured URL hashes the fragment too: also Twilio's.
    with_fragment = RequestValidator("secret").compute_signature(given, dict(form))
    assert with_fragment != as_twilio
    verify(given, form, with_fragment, "secret")
    for forged in (
        RequestValidator("other").compute_signature(requested, dict(form)),
        RequestValidator("secret").compute_signature(
            with_overrides(given, parse_overrides("rc=5")), dict(form)
        ),
        RequestValidator("secret").compute_signature(requested + "&x=1", dict(form)),
        RequestValidator("secret").compute_signature(requested, {**dict(form), "X": "1"}),
    ):
        with pytest.raises(SignatureInvalid):
            verify(given, form, forged, "secret")


def test_a_webhook_is_verified_against_our_url_with_its_overrides() -> None:
    base = "http://127.0.0.1:7071"  # the sample settings are the sandbox's, on loopback
    settings = load_settings(
        {**json.loads(SAMPLE_SETTINGS.read_text())["Values"], "PUBLIC_BASE_URL": base}
    )
    token, account = settings.twilio.auth_token, settings.twilio.account_sid
    form = {"AccountSid": account, "CallSid": "CA2", "CallStatus": "completed"}
    body = urlencode(form).encode()
    path, query = "/api/call-status", "user=u1&call=CA1"
    requested = f"{base}{path}?{query}"  # all that reaches us: no fragment
    validator = RequestValidator(token)
    for signature in (
        validator.compute_signature(requested, form),
        validator.compute_signature(f"{requested}#{OVERRIDES.fragment()}", form),
    ):
        assert verified_webhook(settings, path, query, body, signature) == form
    for forged in (
        RequestValidator("not-the-token").compute_signature(requested, form),
        validator.compute_signature(f"{requested}#rc=5", form),
        validator.compute_signature(requested.replace("u1", "u2"), form),
        None,
    ):
        with pytest.raises(SignatureInvalid):
            verified_webhook(settings, path, query, body, forged)


def test_repeated_fields_are_all_signed() -> None:
    url = f"{BASE}/api/voice"
    both = [("A", "1"), ("A", "2")]
    assert sign(url, both, "t") != sign(url, [("A", "2")], "t")
    verify(url, both, sign(url, both, "t"), "t")


# --- the access token ----------------------------------------------------------------------

SETTINGS = TwilioSettings(
    account_sid="AC" + "0" * 32,
    auth_token="token",
    api_key_sid="SK" + "0" * 32,
    api_key_secret="a-secret-as-long-as-twilio-makes-them",
    twiml_app_sid="AP" + "0" * 32,
    caller_id="+15005550006",
    api_base_url=None,
)


def test_the_voice_token_only_allows_outgoing_calls_through_our_app() -> None:
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    minted = mint_voice_token(SETTINGS, "u1", 600, clock=lambda: now)
    claims = jwt.decode(
        minted.token,
        SETTINGS.api_key_secret,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_nbf": False},
    )
    assert claims["grants"] == {
        "identity": "u1",
        "voice": {"outgoing": {"application_sid": SETTINGS.twiml_app_sid}},
    }
    assert (claims["iss"], claims["sub"]) == (SETTINGS.api_key_sid, SETTINGS.account_sid)
    assert claims["nbf"] == int(now.timestamp())
    assert claims["exp"] == int(now.timestamp()) + 600
    assert minted.expires_at == datetime(2026, 11, 24, 10, 10, tzinfo=UTC)
    assert minted.identity == "u1"


def test_the_token_lifetime_defaults_to_the_cap_and_never_exceeds_it() -> None:
    assert token_ttl(None, 3600, 10**6) == 3600
    assert token_ttl(600, 3600, 10**6) == 600
    assert token_ttl(86400, 3600, 10**6) == 3600
    for bad in (86401, 59, "600", 1.0, False):
        with pytest.raises(TokenTtlInvalid):
            token_ttl(bad, 3600, 10**6)


def test_a_token_never_outlives_its_session() -> None:
    assert token_ttl(None, 3600, 90) == 90
    assert token_ttl(600, 3600, 599) == 599
    assert token_ttl(600, 3600, 0) == 1

"""The Calls API adapter reads its settings from shared.config, never from the environment."""

from __future__ import annotations

import pytest

from shared.config import TwilioSettings
from shared.telephony.calls_api import TwilioCallsApi

pytestmark = pytest.mark.unit

SETTINGS = TwilioSettings(
    account_sid="AC" + "0" * 32,
    auth_token="token",
    api_key_sid="SK" + "0" * 32,
    api_key_secret="secret",
    twiml_app_sid="AP" + "0" * 32,
    caller_id="+15005550006",
    api_base_url="http://127.0.0.1:9/sandbox/twilio",
)


@pytest.mark.parametrize(("edge", "region"), [("roaming", None), ("dublin,roaming", "ie1")])
def test_the_voice_sdk_edge_setting_does_not_move_the_rest_api(
    monkeypatch: pytest.MonkeyPatch, edge: str, region: str | None
) -> None:
    # An environment left with TWILIO_EDGE (Twilio's own variable) must not move our REST host.
    monkeypatch.setenv("TWILIO_EDGE", edge)
    if region:
        monkeypatch.setenv("TWILIO_REGION", region)
    client = TwilioCallsApi(SETTINGS)._rest()
    url = "https://api.twilio.com/2010-04-01/Accounts.json"
    assert client.get_hostname(url) == url

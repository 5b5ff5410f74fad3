"""The sandbox device in a real browser: the module the dialer loads in sandbox mode instead of
the Twilio Voice SDK, imported by the site's own page (so its CSP applies), placing a call
through the telephony sandbox with a token from /api/token, as the dialer will."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page

from tests.servers import LocalHost

Fund = Callable[[str, int], None]
LANDLINE = "+442079460958"  # Ofcom's drama range: the sandbox answers it
BUSY = "+442079460001"
ONE_DOLLAR = 1_000_000
DEADLINE_SECONDS = 20.0

# Loads the device as the dialer does and records every event, its arguments made plain.
START = """async ({token, to, options}) => {
  const { Device } = await import('/sandbox/telephony/device.js');
  const plain = (value) => value instanceof Error ? {code: value.code, name: value.name,
    message: value.message} : value === window.call ? 'call' : value;
  const log = (window.log = []);
  const device = (window.device = new Device(token, options));
  device.on('error', (error) => log.push(['device error', plain(error)]));
  device.on('tokenWillExpire', (d) => log.push(['tokenWillExpire', d === device]));
  window.deviceChanges = [];
  device.audio.on('deviceChange', (lost) => deviceChanges.push(lost.map((d) => d.deviceId)));
  if (!to) return null;
  const call = (window.call = await device.connect({params: {To: to, Source: 'test'}}));
  for (const name of ['ringing', 'accept', 'disconnect', 'cancel', 'error', 'warning',
    'warning-cleared', 'reconnecting', 'reconnected', 'mute']) {
    call.on(name, (...args) => log.push([name, ...args.map(plain)]));
  }
  window.volumes = [];
  call.on('volume', (input, output) => window.volumes.push([input, output, call.status()]));
  return {status: call.status(), busy: device.isBusy, custom: [...call.customParameters]};
}"""


def signed_in(page: Page, host: LocalHost, fund: Fund | None = None) -> str:
    """Opens the site and signs in through the page's own request context (its cookies are
    the page's); with `fund`, gives the account a dollar. Returns the user id."""
    page.goto(host.base_url + "/")
    answer = page.request.post(
        host.base_url + "/api/auth/dev-login",
        data={"email": f"{uuid.uuid4().hex[:10]}@example.com"},
        headers={"Origin": host.base_url},
    )
    assert answer.ok, answer.text()
    user_id = str(answer.json()["user_id"])
    if fund is not None:
        fund(user_id, ONE_DOLLAR)
    return user_id


def token(page: Page, host: LocalHost, ttl: int | None = None) -> str:
    answer = page.request.post(
        host.base_url + "/api/token",
        data={"ttl": ttl} if ttl else {},
        headers={"Origin": host.base_url},
    )
    assert answer.ok, answer.text()
    return str(answer.json()["token"])


def start(page: Page, token: str, to: str | None = None, **options: Any) -> Any:
    return page.evaluate(START, {"token": token, "to": to, "options": options})


def events(page: Page) -> list[list[Any]]:
    return list(page.evaluate("window.log"))


def names(page: Page) -> list[str]:
    return [str(event[0]) for event in events(page)]


def wait_for_event(page: Page, name: str, count: int = 1) -> list[Any]:
    """The `count`th event called `name`, once it has come."""
    page.wait_for_function(
        "([name, count]) => window.log.filter((e) => e[0] === name).length >= count",
        arg=[name, count],
        timeout=DEADLINE_SECONDS * 1000,
    )
    return [event for event in events(page) if event[0] == name][count - 1]


def sandbox_call(page: Page, host: LocalHost, sid: str) -> dict[str, Any]:
    answer = page.request.get(f"{host.base_url}/sandbox/telephony/calls/{sid}")
    assert answer.ok, answer.text()
    return dict(answer.json())


def poll(what: str, probe: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not (found := probe()):
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.05)  # ask the server again
    return found


def network(page: Page, host: LocalHost, sid: str, event: str, name: str | None = None) -> None:
    answer = page.request.post(
        f"{host.base_url}/sandbox/telephony/calls/{sid}/quality",
        data={"event": event, **({"name": name} if name else {})},
    )
    assert answer.ok, answer.text()


def test_a_call_rings_is_answered_takes_digits_rides_out_the_network_and_hangs_up(
    microphone_page: Page, host: LocalHost, fund: Fund
) -> None:
    page = microphone_page
    signed_in(page, host, fund)
    started = start(page, token(page, host), LANDLINE)
    assert started == {
        "status": "connecting",
        "busy": True,
        "custom": [["To", LANDLINE], ["Source", "test"]],
    }

    assert wait_for_event(page, "accept") == ["accept", "call"]
    assert names(page) == ["ringing", "accept"]
    assert events(page)[0] == ["ringing", True]  # answerOnBridge: the ringback is early media
    sid = page.evaluate("call.parameters.CallSid")
    assert sid.startswith("CA")
    assert page.evaluate("call.status()") == "open"
    assert sandbox_call(page, host, sid)["options"]["params"]["Source"] == "test"

    # Digits: validated as the SDK validates them, then sent to the call.
    refused = page.evaluate("() => { try { call.sendDigits('1x'); } catch (e) { return e.name; } }")
    assert refused == "InvalidArgumentError"
    page.evaluate("call.sendDigits('1')")
    poll("got the digit", lambda: sandbox_call(page, host, sid)["digits"] == "1")

    # The network turns the sandbox is told of arrive as the SDK's events.
    network(page, host, sid, "warning", "high-rtt")
    assert wait_for_event(page, "warning") == ["warning", "high-rtt", None]
    network(page, host, sid, "warning-cleared", "high-rtt")
    assert wait_for_event(page, "warning-cleared") == ["warning-cleared", "high-rtt", None]
    network(page, host, sid, "reconnecting")
    reconnecting = wait_for_event(page, "reconnecting")
    assert reconnecting[1]["code"] == 53405
    assert reconnecting[1]["message"] == "ConnectionError (53405): Media connection failed."
    assert page.evaluate("call.status()") == "reconnecting"
    network(page, host, sid, "reconnected")
    assert wait_for_event(page, "reconnected") == ["reconnected"]
    assert page.evaluate("call.status()") == "open"

    # Mute: an event on each change only, and the microphone's track is off meanwhile.
    page.evaluate("call.mute(); call.mute(true)")
    assert page.evaluate("call.isMuted()") is True
    assert page.evaluate("call.getLocalStream().getAudioTracks()[0].enabled") is False
    page.evaluate("call.mute(false)")
    assert [e for e in events(page) if e[0] == "mute"] == [
        ["mute", True, "call"],
        ["mute", False, "call"],
    ]

    # ~Every 100 ms since the microphone opened, volumes: the (fake) microphone's, and what
    # was played: the ringback while ringing, the chime once answered.
    loud = "([status, side]) => volumes.some((v) => v[2] === status && v[side] > 0)"
    assert page.evaluate(loud, ["ringing", 1])
    assert page.evaluate(loud, ["open", 1])
    assert page.evaluate(loud, ["open", 0])

    page.evaluate("call.disconnect()")
    assert wait_for_event(page, "disconnect") == ["disconnect", "call"]
    assert page.evaluate("call.status()") == "closed"
    assert page.evaluate("device.isBusy") is False
    assert page.evaluate("call.getLocalStream().getTracks().every((t) => t.readyState === 'ended')")
    heard = page.evaluate("volumes.length")
    page.wait_for_timeout(300)  # three volume intervals: none may come after the end
    assert page.evaluate("volumes.length") == heard
    ended = poll("ended", lambda: (state := sandbox_call(page, host, sid))["finished"] and state)
    assert ended["dial"]["hangup_reason"] == "caller"
    assert ended["digits"] == "1"
    history = poll("settled", lambda: settled(page, host, sid))
    assert history["status"] == "completed"
    assert history["billed_seconds"] >= 1
    assert [e for e in names(page) if e in ("error", "device error", "cancel")] == []


def settled(page: Page, host: LocalHost, sid: str) -> dict[str, Any] | None:
    calls = page.request.get(host.base_url + "/api/calls").json()["calls"]
    return next((c for c in calls if c["call_sid"] == sid and c["settled"]), None)


def test_the_audio_devices_are_listed_and_chosen_as_with_the_sdk(
    microphone_page: Page, host: LocalHost, fund: Fund
) -> None:
    page = microphone_page
    signed_in(page, host, fund)
    start(page, token(page, host), LANDLINE)
    wait_for_event(page, "accept")

    # Allowed the microphone, the page sees the devices' names (Chromium's fake ones).
    labels = "(kind) => [...device.audio[kind].values()].map((d) => d.label)"
    assert "Fake Default Audio Input" in page.evaluate(labels, "availableInputDevices")
    assert "Fake Default Audio Output" in page.evaluate(labels, "availableOutputDevices")
    assert page.evaluate("deviceChanges.length") >= 1
    assert page.evaluate("device.audio.isOutputSelectionSupported") is True
    speakers = "[...device.audio.speakerDevices.get()].map((d) => d.deviceId)"
    assert page.evaluate(speakers) == ["default"]
    other = page.evaluate("[...device.audio.availableOutputDevices.keys()].at(-1)")
    page.evaluate("(id) => device.audio.speakerDevices.set(id)", other)
    assert page.evaluate(speakers) == [other]
    outcome = "(p) => p.then(() => 'resolved', (e) => `${e.name}: ${e.message}`)"
    assert (
        page.evaluate(f"({outcome})(device.audio.speakerDevices.set(['default', 'nope']))")
        == "InvalidArgumentError: Devices not found: nope"
    )

    # A microphone chosen during the call replaces the call's own.
    page.evaluate("window.firstTrack = call.getLocalStream().getAudioTracks()[0]")
    mic = page.evaluate("[...device.audio.availableInputDevices.values()].at(-1).deviceId")
    page.evaluate("(id) => device.audio.setInputDevice(id)", mic)
    assert page.evaluate("call.getLocalStream().getAudioTracks()[0].getSettings().deviceId") == mic
    assert page.evaluate("firstTrack.readyState") == "ended"
    assert (
        page.evaluate(f"({outcome})(device.audio.setInputDevice('nope'))")
        == "InvalidArgumentError: Device not found: nope"
    )
    page.evaluate("call.disconnect()")
    wait_for_event(page, "disconnect")
    assert page.evaluate("device.audio.inputDevice.deviceId") == mic


def test_a_busy_number_ends_the_call_with_a_disconnect_and_its_outcome_in_the_history(
    microphone_page: Page, host: LocalHost, fund: Fund
) -> None:
    page = microphone_page
    signed_in(page, host, fund)
    start(page, token(page, host), BUSY)

    wait_for_event(page, "disconnect")
    assert names(page) == ["disconnect"]  # nobody answered: no ringing, no accept, no error
    sid = page.evaluate("call.parameters.CallSid")
    assert poll("settled", lambda: settled(page, host, sid))["status"] == "busy"


def test_a_refused_microphone_ends_the_call_as_the_sdk_does_and_places_nothing(
    mic_denied_page: Page, host: LocalHost, fund: Fund
) -> None:
    page = mic_denied_page
    user_id = signed_in(page, host, fund)
    # As the SDK's: connect() resolves, then the call fails for want of a microphone.
    assert start(page, token(page, host), LANDLINE)["status"] == "connecting"

    error = wait_for_event(page, "error")
    assert names(page) == ["disconnect", "error"]
    assert error[1]["code"] == 31401
    assert error[1]["name"] == "PermissionDeniedError"
    assert error[1]["message"].startswith("PermissionDeniedError (31401): ")
    assert page.evaluate("call.status()") == "closed"
    assert page.evaluate("device.isBusy") is False
    placed = page.request.get(host.base_url + "/sandbox/telephony/calls").json()["calls"]
    assert not [c for c in placed if c["identity"].startswith(f"{user_id}_")]


def test_hanging_up_at_once_leaves_no_call_up_and_the_microphone_released(
    microphone_page: Page, host: LocalHost, fund: Fund
) -> None:
    page = microphone_page
    user_id = signed_in(page, host, fund)
    start(page, token(page, host), LANDLINE)
    # Whether the browser has opened the microphone yet, or the sandbox placed the call, is
    # a race the user may win either way: neither may outlive the hangup.
    page.evaluate("call.disconnect()")

    assert names(page) == ["disconnect"]
    assert page.evaluate("[call.status(), device.isBusy]") == ["closed", False]
    page.wait_for_function(
        "() => (call.getLocalStream()?.getTracks() || []).every((t) => t.readyState === 'ended')"
    )

    def all_ended() -> tuple[list[dict[str, Any]]] | None:
        placed = page.request.get(host.base_url + "/sandbox/telephony/calls").json()["calls"]
        calls = [c for c in placed if c["identity"].startswith(f"{user_id}_")]
        return (calls,) if all(c["finished"] for c in calls) else None

    [calls] = poll("ended", all_ended)
    assert all(c["dial"] is None or c["dial"]["answered_at"] is None for c in calls)
    assert names(page) == ["disconnect"]


def test_a_token_the_sandbox_refuses_is_the_devices_error(
    microphone_page: Page, host: LocalHost
) -> None:
    page = microphone_page
    signed_in(page, host)
    start(page, "not-a-jwt", LANDLINE)

    error = wait_for_event(page, "device error")
    assert error[1]["code"] == 20101
    assert error[1]["name"] == "AccessTokenInvalid"
    wait_for_event(page, "disconnect")
    assert page.evaluate("device.isBusy") is False


def test_token_will_expire_fires_once_for_each_token_then_an_expired_one_is_an_error(
    page: Page, host: LocalHost
) -> None:
    signed_in(page, host)
    began = time.monotonic()
    start(page, token(page, host, ttl=60), tokenRefreshMs=58_000)

    assert wait_for_event(page, "tokenWillExpire") == ["tokenWillExpire", True]
    assert 1.0 < time.monotonic() - began < 10.0  # 60 s of life, warned 58 s before the end
    page.evaluate("(t) => device.updateToken(t)", token(page, host, ttl=60))
    wait_for_event(page, "tokenWillExpire", count=2)
    assert names(page) == ["tokenWillExpire", "tokenWillExpire"]

    # A token nobody renews: warned at once (less than tokenRefreshMs is left), then expired.
    soon = int(time.time()) + 1
    page.evaluate("(t) => device.updateToken(t)", unsigned_token({"exp": soon}))
    error = wait_for_event(page, "device error")
    assert error[1]["code"] == 20104
    assert error[1]["name"] == "AccessTokenExpired"
    assert names(page) == ["tokenWillExpire"] * 3 + ["device error"]
    assert page.evaluate("device.state") == "unregistered"
    page.evaluate("device.destroy()")
    assert page.evaluate("device.state") == "destroyed"


def unsigned_token(claims: dict[str, Any]) -> str:
    """A JWT's shape with made-up claims: the device reads exp and never checks signatures."""
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{payload}.signature"

"""The telephony sandbox's wire protocol, against a stub app that checks it as Twilio's docs
describe it: every request signed over its exact URL, the documented parameters, the true
SequenceNumber order under shuffling, calls that fail loudly on TwiML Twilio refuses, and
retries exactly as the URL's connection overrides (or their absence) say."""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from twilio.request_validator import RequestValidator

from local_host.sandbox.call_simulation import CallOptions, CallSimulator
from local_host.sandbox.twiml_parser import DOCUMENT_PARSE_FAILURE, INVALID_CONTENT_TYPE
from shared.config import Settings, load_settings
from shared.telephony.webhook_overrides import (
    OVERRIDES,
    RETRY_COUNT,
    InvalidOverrides,
    with_overrides,
)
from tests.servers import SAMPLE_SETTINGS

AUTH_TOKEN = "sandbox-twilio-auth-token"
LANDLINE = "+442079460018"
QUICK = CallOptions(ring_delay_ms=5, answer_delay_ms=5, duration_seconds=61)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    params: dict[str, str]
    headers: dict[str, str]
    signed: bool


@dataclass
class StubApp:
    """Plays our app: answers the voice webhook with set TwiML, records everything."""

    base_url: str = ""
    voice: tuple[int, str, str] = (200, "text/xml", "")
    action: tuple[int, str, str] = (200, "text/xml", "<Response/>")
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Answers given first, per path, one per request: (status, seconds the answer is held).
    script: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    # Set when the test ends, so that no held answer outlives it.
    released: threading.Event = field(default_factory=threading.Event)

    def dial(
        self,
        dial_attributes: str = "",
        number_attributes: str | None = None,
        fragment: str = "",
    ) -> None:
        """Answer the voice webhook with a <Dial>; its URLs end with `fragment` if given."""
        fragment = html.escape(fragment)  # an attribute holds '&' as '&amp;'
        number_attributes = (
            f'statusCallback="{self.base_url}/status?user=u1{fragment}" '
            'statusCallbackEvent="initiated ringing answered completed"'
            if number_attributes is None
            else number_attributes
        )
        self.voice = (
            200,
            "text/xml",
            f'<Response><Dial answerOnBridge="true" callerId="+15005550006" timeLimit="3600" '
            f'action="{self.base_url}/action?user=u1{fragment}" {dial_attributes}>'
            f"<Number {number_attributes}>{LANDLINE}</Number></Dial></Response>",
        )

    def answer_first(self, path: str, *answers: tuple[int, float]) -> None:
        with self.lock:
            self.script.setdefault(path, []).extend(answers)

    def paths(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]


def _handler(app: StubApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            url = app.base_url + self.path
            params = dict(parse_qsl(body.decode(), keep_blank_values=True))
            signature = self.headers.get("X-Twilio-Signature", "")
            signed = RequestValidator(AUTH_TOKEN).validate(url, params, signature)
            parts = urlsplit(self.path)
            with app.lock:
                app.received.append(
                    Received(
                        self.command,
                        parts.path,
                        dict(parse_qsl(parts.query)),
                        params,
                        {name.lower(): value for name, value in self.headers.items()},
                        signed,
                    )
                )
                scripted = app.script.get(parts.path)
                first = scripted.pop(0) if scripted else None
            status, content_type, text = {"/api/voice": app.voice, "/action": app.action}.get(
                parts.path, (200, "text/xml", "<Response/>")
            )
            if first is not None:
                status, held = first
                content_type, text = "application/problem+json", json.dumps({"status": status})
                # A slow app: the sandbox's read time-out may expire meanwhile.
                app.released.wait(held)
            data = text.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sandbox gave up on this answer, as Twilio would

        do_GET = do_POST = _handle

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Handler


@pytest.fixture
def app() -> Iterator[StubApp]:
    stub = StubApp()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    stub.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    stub.dial()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield stub
    stub.released.set()
    server.shutdown()
    server.server_close()
    thread.join()


def settings_for(base_url: str) -> Settings:
    values = json.loads(SAMPLE_SETTINGS.read_text())["Values"]
    return load_settings({**values, "PUBLIC_BASE_URL": base_url})


@pytest.fixture
def sandbox(app: StubApp) -> CallSimulator:
    # The stub stands where our app would be, so the sandbox posts its /api/voice.
    return CallSimulator(settings_for(app.base_url))


def quick_sandbox(app: StubApp, voice_fragment: str | None = None) -> CallSimulator:
    """A sandbox whose webhook time-outs run 100 times faster than Twilio's (a 15 s read
    time-out takes 150 ms), and whose voice URL ends with `voice_fragment` if given."""
    voice_url = None if voice_fragment is None else f"{app.base_url}/api/voice{voice_fragment}"
    return CallSimulator(settings_for(app.base_url), voice_url=voice_url, webhook_time_scale=0.01)


def run(sandbox: CallSimulator, **options: Any) -> dict[str, Any]:
    """One call to LANDLINE with QUICK options (or these instead), once it has finished."""
    call = sandbox.start_call("u1", LANDLINE, replace(QUICK, **options))
    deadline = time.monotonic() + 10
    while not sandbox.state(call.sid)["finished"]:
        assert time.monotonic() < deadline, sandbox.state(call.sid)
        time.sleep(0.01)  # the call runs in its own thread; poll its state
    return sandbox.state(call.sid)


def by_sequence(received: list[Received]) -> list[str]:
    ordered = sorted(received, key=lambda r: int(r.params["SequenceNumber"]))
    return [r.params["CallStatus"] for r in ordered]


def test_the_voice_webhook_is_what_twilio_posts_for_a_voice_sdk_call(
    app: StubApp, sandbox: CallSimulator
) -> None:
    state = run(sandbox, params={"Locale": "en-GB"})
    [voice] = app.paths("/api/voice")
    assert voice.signed
    assert voice.method == "POST"
    assert voice.headers["content-type"] == "application/x-www-form-urlencoded"
    assert voice.headers["user-agent"] == "TwilioProxy/1.1"
    assert voice.headers["i-twilio-idempotency-token"]
    settings = sandbox.settings.twilio
    assert voice.params == {
        "AccountSid": settings.account_sid,
        "ApiVersion": "2010-04-01",
        "ApplicationSid": settings.twiml_app_sid,
        "CallSid": state["sid"],
        "CallStatus": "ringing",
        "Called": "",
        "Caller": "client:u1",
        "Direction": "inbound",
        "From": "client:u1",
        "To": LANDLINE,
        "Locale": "en-GB",
    }


def test_status_callbacks_are_signed_numbered_and_carry_the_duration(
    app: StubApp, sandbox: CallSimulator
) -> None:
    state = run(sandbox)
    received = app.paths("/status")
    assert [r.params["CallStatus"] for r in received] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert all(r.signed and r.query == {"user": "u1"} for r in received)
    assert [r.params["SequenceNumber"] for r in received] == ["0", "1", "2", "3"]
    first, last = received[0].params, received[-1].params
    assert first["CallSid"] == last["CallSid"] == state["dial"]["sid"] != state["sid"]
    assert first["ParentCallSid"] == state["sid"]
    assert first["Direction"] == "outbound-dial"
    assert first["From"] == "+15005550006"
    assert first["To"] == LANDLINE
    assert first["CallbackSource"] == "call-progress-events"
    assert parsedate_to_datetime(first["Timestamp"]).tzinfo is not None
    assert "CallDuration" not in first
    assert last["CallDuration"] == "61"
    assert "Duration" not in last  # not a parameter of call status callbacks in Twilio's docs
    assert len({r.headers["i-twilio-idempotency-token"] for r in received}) == 4


def test_the_dial_action_follows_with_the_dialled_legs_outcome(
    app: StubApp, sandbox: CallSimulator
) -> None:
    state = run(sandbox)
    [action] = app.paths("/action")
    assert action.signed
    assert action.query == {"user": "u1"}
    assert action.params["CallSid"] == state["sid"]
    assert action.params["DialCallSid"] == state["dial"]["sid"]
    assert action.params["DialCallStatus"] == "completed"
    assert action.params["DialCallDuration"] == "61"
    assert action.params["From"] == "client:u1"
    # The action comes after the last status callback when nothing is reordered.
    assert app.received.index(action) > app.received.index(app.paths("/status")[-1])


def test_shuffled_duplicated_callbacks_keep_the_true_sequence_numbers(
    app: StubApp, sandbox: CallSimulator
) -> None:
    run(sandbox, duration_seconds=5, shuffle_callbacks=True, duplicate_callbacks=True, seed=3)
    received = app.paths("/status")
    assert len(received) == 8
    delivered = [r.params["SequenceNumber"] for r in received]
    assert delivered != sorted(delivered)
    assert by_sequence(received)[::2] == ["initiated", "ringing", "in-progress", "completed"]
    tokens: dict[str, set[str]] = {}
    for r in received:
        tokens.setdefault(r.params["SequenceNumber"], set()).add(
            r.headers["i-twilio-idempotency-token"]
        )
    # A redelivery carries the token of the delivery it repeats, as Twilio's retries do.
    assert all(len(same) == 1 for same in tokens.values())
    assert len(tokens) == 4


def test_only_the_events_the_number_asked_for_are_sent(
    app: StubApp, sandbox: CallSimulator
) -> None:
    app.dial(number_attributes=f'statusCallback="{app.base_url}/status"')
    run(sandbox)
    [only] = app.paths("/status")
    assert (only.params["CallStatus"], only.params["SequenceNumber"]) == ("completed", "0")


def test_get_callbacks_are_signed_over_the_url_with_the_parameters_in_it(
    app: StubApp, sandbox: CallSimulator
) -> None:
    app.dial(
        'method="GET"',
        f'statusCallback="{app.base_url}/status?user=u1" statusCallbackMethod="GET"',
    )
    run(sandbox)
    [status] = app.paths("/status")
    [action] = app.paths("/action")
    assert status.method == action.method == "GET"
    assert status.signed
    assert action.signed
    assert status.query["user"] == "u1"
    assert status.query["CallStatus"] == "completed"
    assert action.query["DialCallStatus"] == "completed"


def test_the_call_is_cut_at_time_limit(app: StubApp, sandbox: CallSimulator) -> None:
    app.voice = (200, "text/xml", app.voice[2].replace('timeLimit="3600"', 'timeLimit="45"'))
    state = run(sandbox, duration_seconds=600)
    assert state["dial"]["duration_seconds"] == 45
    assert state["dial"]["hangup_reason"] == "time_limit"
    assert app.paths("/status")[-1].params["CallDuration"] == "45"


def test_talk_seconds_are_real_seconds_rounded_up(app: StubApp, sandbox: CallSimulator) -> None:
    state = run(sandbox, duration_seconds=None, talk_seconds=0.1)
    assert state["dial"]["duration_seconds"] == 1
    assert state["dial"]["hangup_reason"] == "callee"


def test_hanging_up_while_it_rings_cancels_the_dialled_leg(
    app: StubApp, sandbox: CallSimulator
) -> None:
    call = sandbox.start_call("u1", LANDLINE, replace(QUICK, answer_delay_ms=5000))
    deadline = time.monotonic() + 10
    while not app.paths("/status") or app.paths("/status")[-1].params["CallStatus"] != "ringing":
        assert time.monotonic() < deadline
        time.sleep(0.01)  # wait for the ringing callback
    call.hangup.set()
    deadline = time.monotonic() + 10
    while not sandbox.state(call.sid)["finished"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    last = app.paths("/status")[-1].params
    assert (last["CallStatus"], last["CallDuration"]) == ("canceled", "0")
    assert app.paths("/action")[0].params["DialCallStatus"] == "canceled"


def test_dropped_callbacks_are_never_sent_but_are_listed(
    app: StubApp, sandbox: CallSimulator
) -> None:
    state = run(sandbox, drop_callbacks=True)
    assert [r.path for r in app.received] == ["/api/voice"]
    dropped = [w for w in state["webhooks"] if w["dropped"]]
    assert [w["kind"] for w in dropped] == ["status"] * 4 + ["action"]
    assert state["dial"]["status"] == "completed"


def test_with_action_first_the_dial_action_comes_before_every_status_callback(
    app: StubApp, sandbox: CallSimulator
) -> None:
    run(sandbox, action_first=True)
    [action] = app.paths("/action")
    statuses = app.paths("/status")
    assert len(statuses) == 4
    assert app.received.index(action) < min(app.received.index(r) for r in statuses)


def test_status_callbacks_and_the_dial_action_can_be_lost_apart(
    app: StubApp, sandbox: CallSimulator
) -> None:
    run(sandbox, drop_status_callbacks=True)
    assert [r.path for r in app.received] == ["/api/voice", "/action"]
    state = run(sandbox, drop_dial_action=True)
    assert [r.path for r in app.received[2:]] == ["/api/voice"] + ["/status"] * 4
    assert [w["kind"] for w in state["webhooks"] if w["dropped"]] == ["action"]


def test_what_follows_a_dial_without_action_is_executed(
    app: StubApp, sandbox: CallSimulator
) -> None:
    app.voice = (
        200,
        "text/xml",
        f"<Response><Dial><Number>{LANDLINE}</Number></Dial><Say>Goodbye</Say></Response>",
    )
    state = run(sandbox)
    assert state["spoken"] == ["Goodbye"]
    assert state["status"] == "completed"


@pytest.mark.parametrize(
    ("voice", "code"),
    [
        ((200, "text/xml", "<Response><Dial>+442079460018</Dial></Response>"), 12100),
        ((200, "text/xml", '<Response><Dial timeLimit="0"><Number>+4420</Number></Dial>'), 12100),
        ((200, "application/json", '{"dial": "+442079460018"}'), INVALID_CONTENT_TYPE),
        ((500, "text/plain", "boom"), 11200),
        ((403, "application/problem+json", "{}"), 11200),
    ],
)
def test_a_voice_answer_twilio_cannot_use_fails_the_call_loudly(
    app: StubApp, sandbox: CallSimulator, voice: tuple[int, str, str], code: int
) -> None:
    app.voice = voice
    state = run(sandbox)
    assert state["status"] == "failed"
    assert state["error"]["code"] == code
    assert state["error"]["message"].endswith(".")
    assert state["dial"] is None
    # The default voice URL carries our overrides: a 5xx is tried again, nothing else is.
    attempts = 1 + RETRY_COUNT if voice[0] >= 500 else 1
    assert [r.path for r in app.received] == ["/api/voice"] * attempts
    assert [w["attempt"] for w in state["webhooks"]] == list(range(1, attempts + 1))


def test_a_bad_action_answer_fails_the_call_loudly(app: StubApp, sandbox: CallSimulator) -> None:
    app.action = (200, "text/xml", "<Response><Hangup>now</Hangup></Response>")
    state = run(sandbox)
    assert state["status"] == "failed"
    assert state["error"]["code"] == DOCUMENT_PARSE_FAILURE
    assert state["dial"]["status"] == "completed"


@pytest.mark.parametrize(("fragment", "attempts"), [("", 2), (None, 1 + RETRY_COUNT)])
def test_a_webhook_nobody_answers_fails_the_call_after_twilios_retries(
    fragment: str | None, attempts: int
) -> None:
    # A refused connection is a failed connect: retried once by default, as ours say with one.
    dead = CallSimulator(
        settings_for("http://127.0.0.1:9"),
        voice_url=None if fragment is None else "http://127.0.0.1:9/api/voice",
    )
    state = dead.state(dead.start_call("u1", LANDLINE, QUICK).sid)
    assert state["status"] == "failed"
    assert state["error"]["code"] == 11200
    assert state["error"]["message"].endswith(f"(attempt {attempts}).")
    tried = state["webhooks"]
    assert [(w["attempt"], w["error"], w["failure"]) for w in tried] == [
        (n, "ConnectionError", "ct") for n in range(1, attempts + 1)
    ]
    assert len({w["idempotency_token"] for w in tried}) == 1


# --- retries, as the URL's connection overrides say --------------------------------------


def attempts_of(state: dict[str, Any], kind: str) -> list[tuple[int, int | None, str | None]]:
    """(attempt, status code, failure) of each request of this kind the sandbox sent."""
    return [
        (w["attempt"], w["status_code"], w["failure"])
        for w in state["webhooks"]
        if w["kind"] == kind
    ]


def test_without_overrides_a_5xx_is_final(app: StubApp) -> None:
    sandbox = quick_sandbox(app, voice_fragment="")
    app.answer_first("/api/voice", (503, 0))
    state = run(sandbox)
    assert state["error"]["code"] == 11200
    assert attempts_of(state, "voice") == [(1, 503, "5xx")]
    assert [r.path for r in app.received] == ["/api/voice"]


def test_without_overrides_status_callbacks_answered_500_are_not_retried(app: StubApp) -> None:
    app.answer_first("/status", *[(500, 0)] * 4)
    state = run(quick_sandbox(app))
    assert attempts_of(state, "status") == [(1, 500, "5xx")] * 4
    assert len(app.paths("/status")) == 4
    assert state["error"] is None  # a lost status callback does not fail the call


def test_without_overrides_a_read_time_out_spends_the_whole_budget(app: StubApp) -> None:
    # Twilio's default read time-out (15 s; 150 ms here) is all of its default total time, so
    # the retry its default policy allows after a read time-out never has time to happen.
    app.answer_first("/status", (200, 2))
    state = run(quick_sandbox(app))
    assert attempts_of(state, "status") == [(1, None, "rt")] + [(1, 200, None)] * 3
    assert state["webhooks"][1]["error"] == "ReadTimeout"


def test_a_read_time_out_within_the_budget_is_retried_once_with_the_same_token(
    app: StubApp,
) -> None:
    # A shorter read time-out (5 s of 15; 50 ms here) and otherwise Twilio's defaults: rc=1.
    app.dial(fragment="#rt=5000")
    app.answer_first("/status", (200, 2), (200, 2))
    state = run(quick_sandbox(app))
    assert attempts_of(state, "status") == [(1, None, "rt"), (2, None, "rt")] + [(1, 200, None)] * 3
    first, again = app.paths("/status")[:2]
    assert first.params == again.params
    assert first.signed
    assert again.signed
    token = "i-twilio-idempotency-token"
    assert first.headers[token] == again.headers[token] != app.paths("/status")[2].headers[token]


def test_with_our_overrides_a_5xx_is_retried_signed_and_with_the_same_token(
    app: StubApp,
) -> None:
    app.dial(fragment="#" + OVERRIDES.fragment())
    app.answer_first("/status", (503, 0), (502, 0))
    app.answer_first("/action", (500, 0))
    state = run(quick_sandbox(app))
    statuses = attempts_of(state, "status")
    assert statuses[:3] == [(1, 503, "5xx"), (2, 502, "5xx"), (3, 200, None)]
    assert statuses[3:] == [(1, 200, None)] * 3
    assert attempts_of(state, "action") == [(1, 500, "5xx"), (2, 200, None)]
    assert state["error"] is None
    received = app.paths("/status")
    # Each attempt is signed over the URL as requested: the fragment never reaches the app.
    assert all(r.signed for r in app.received)
    assert len({r.headers["i-twilio-idempotency-token"] for r in received[:3]}) == 1
    assert len({r.headers["i-twilio-idempotency-token"] for r in received}) == 4
    assert [r.params["SequenceNumber"] for r in received] == ["0", "0", "0", "1", "2", "3"]


def test_with_our_overrides_retries_stop_after_the_retry_count(app: StubApp) -> None:
    app.dial(fragment="#" + OVERRIDES.fragment())
    app.answer_first("/status", *[(503, 0)] * 20)
    state = run(quick_sandbox(app))
    tried = [n for n, _, _ in attempts_of(state, "status")]
    assert tried == list(range(1, RETRY_COUNT + 2)) * 4
    assert len(app.paths("/status")) == 4 * (1 + RETRY_COUNT)


@pytest.mark.parametrize(("fragment", "deliveries"), [(OVERRIDES.fragment(), 1), ("rp=4xx", 2)])
def test_a_4xx_is_retried_only_when_the_policy_names_it(
    app: StubApp, fragment: str, deliveries: int
) -> None:
    app.dial(fragment="#" + fragment)
    app.answer_first("/action", *[(403, 0)] * 5)
    state = run(quick_sandbox(app))
    assert len(app.paths("/action")) == deliveries
    assert state["error"]["code"] == 11200


def test_the_total_time_cuts_the_retries_short(app: StubApp) -> None:
    # Five retries of 100 ms read time-outs asked for, within 250 ms in all: three at most.
    app.dial(fragment="#rc=5&rp=rt&ct=100&rt=100&tt=250")
    app.answer_first("/action", *[(200, 2)] * 6)
    sandbox = CallSimulator(settings_for(app.base_url))
    state = run(sandbox)
    tried = attempts_of(state, "action")
    assert 2 <= len(tried) <= 3, tried
    assert all(failure == "rt" for _, _, failure in tried)
    assert state["error"]["code"] == 11200


def test_the_voice_url_with_our_overrides_is_signed_without_its_fragment(
    app: StubApp, sandbox: CallSimulator
) -> None:
    state = run(sandbox)
    [voice] = [w for w in state["webhooks"] if w["kind"] == "voice"]
    assert voice["url"] == with_overrides(f"{app.base_url}/api/voice")
    [received] = app.paths("/api/voice")
    assert received.signed
    with_fragment = RequestValidator(AUTH_TOKEN).compute_signature(voice["url"], received.params)
    assert received.headers["x-twilio-signature"] != with_fragment


def test_a_call_can_use_a_voice_url_without_overrides(app: StubApp) -> None:
    app.answer_first("/api/voice", (500, 0))
    state = run(quick_sandbox(app), voice_fragment="")
    assert [w["url"] for w in state["webhooks"]] == [f"{app.base_url}/api/voice"]
    assert state["error"]["code"] == 11200


def test_a_fragment_twilio_would_refuse_is_refused(app: StubApp) -> None:
    with pytest.raises(InvalidOverrides):
        CallSimulator(settings_for(app.base_url), voice_url=f"{app.base_url}/api/voice#rc=9")
    app.dial(fragment="#rc=2&rp=sometimes")
    state = run(quick_sandbox(app))
    assert state["error"]["code"] == DOCUMENT_PARSE_FAILURE
    assert "connection overrides" in state["error"]["message"]
    assert state["dial"] is None

"""The telephony sandbox's HTTP face: plays Twilio's part of a browser call on request.

Mounted at /sandbox/telephony in the local host (only when OWNNUMBER_MODE=sandbox); the
calls themselves are simulated by call_simulation, over real signed HTTP to our endpoints.

Endpoints (JSON):
- GET  /sandbox/telephony                  the voice URL, magic numbers and default options
- POST /sandbox/telephony/calls            start a call; 201 with the call's state
- GET  /sandbox/telephony/calls            the most recent calls' states, newest first
- GET  /sandbox/telephony/calls/{sid}      one call's state
- POST /sandbox/telephony/calls/{sid}/hangup   the caller hangs up now; 202 with the state
- POST /sandbox/telephony/calls/{sid}/digits   {"digits": "1#"}: what the SDK's
  Call.sendDigits sends; 200 with the state
- POST /sandbox/telephony/calls/{sid}/quality  {"event": ..., "name": ...}: the caller's
  network turns; 200 with the state
- GET  /sandbox/telephony/device.js        the sandbox device: an ES module with the Voice JS
  SDK's Device and Call, which the dialer loads in sandbox mode instead of the SDK

POST /sandbox/telephony/calls takes {"identity": "<user id>"} or {"token": "<access token
from /api/token>"} (checked as Twilio checks it), "to", and options:
- ring_delay_ms (default 1000), answer_delay_ms (default 2000): when the callee's phone rings
  and when it answers (or, for the no-answer number, gives up), after the dial starts;
- talk_seconds: the callee hangs up after this many real seconds of talk;
- duration_seconds: the CallDuration to report, without waiting for it in real time (the
  call hangs up right after answering, or after talk_seconds); capped at timeLimit, as the
  carrier cuts the call there. Without either, the call lasts until hangup or timeLimit;
- duplicate_callbacks: every status callback is delivered twice (same idempotency token);
- shuffle_callbacks: status callbacks are held until the call ends and then delivered in a
  shuffled order (seed: to make it reproducible); SequenceNumber keeps the true order;
- concurrent_callbacks: held callbacks are delivered all at once, in parallel threads;
- action_first: the status callbacks are held until the <Dial action> request has been
  answered, then delivered (Twilio promises no order between the two);
- drop_status_callbacks: no status callback is sent; drop_dial_action: no <Dial action>
  request is sent; drop_callbacks: neither (lost webhooks, for reconciliation). The Calls API
  still knows the call;
- params: further parameters the SDK passes with device.connect({params});
- voice_fragment: the voice URL's fragment for this call, instead of the TwiML App's
  (the README's connection overrides): "" for none (Twilio's default retries), or other
  overrides such as "rc=1&rp=5xx".

Every webhook is retried as Twilio retries it for its URL: with our connection overrides
(all the TwiML's URLs, and the default voice URL) twice more after a 5xx or a time-out;
without any, once more after a time-out only. Each attempt is listed on the call with its
`attempt` number, the shared idempotency token and its `failure`.

Magic destinations (valid UK fixed-line numbers from Ofcom's drama range, which the
destination policy accepts and the sample deck prices as a UK landline):
- +442079460001: busy      (initiated, then busy)
- +442079460002: no-answer (initiated, ringing, then no-answer after answer_delay_ms)
- +442079460003: failed    (initiated, then failed)
Every other number answers.

The caller's side of an answered call (answered and not yet ended, else 409):
- digits: 1 to 32 of 0-9, * and #, w (wait 0.5 s) and W (wait 1 s), as Twilio takes them
  (the SDK itself refuses W). Recorded on the call: "digits" is all of them in order,
  "digits_sent" each request's with its time. Not while reconnecting (409).
- quality: "event" is "warning" or "warning-cleared" with the "name" of a Voice SDK warning
  (high-rtt, low-mos, high-jitter, high-packet-loss, high-packets-lost-fraction,
  low-bytes-received, low-bytes-sent, ice-connectivity-lost, constant-audio-input-level,
  constant-audio-output-level), or "reconnecting" then "reconnected" (no name): the media
  drops and comes back, and the call stays up. Each is appended to the call's "events" as
  {"seq", "event", "name", "at"} (seq from 1), and "quality" holds the warnings raised and
  whether it is reconnecting. Only in an order the SDK could report them: a warning already
  raised, a clear of one that is not, a second reconnecting or a reconnected without one is
  a 409. The sandbox device turns these into the Call's events of the same names.

The phone pane (phone_page): Twilio's caller-ID validation calls ringing on the owner's phone.
- GET  /sandbox/telephony/phone            the pane (HTML): each ringing call, a code field
- GET  /sandbox/telephony/phone.json       {"calls": [{call_sid, phone_number, friendly_name,
  started_at}]}: the validation calls ringing
- POST /sandbox/telephony/phone/{call_sid} form code=123456 (or action=hangup): 303 back to
  the pane; JSON {"code": "123456"} or {"hang_up": true}: 200 {"verification_status",
  "outgoing_caller_id_sid", "callback_status", "callbacks"}

device.js is served only here, so it exists only where the sandbox is mounted: the sandbox
device never ships on the production code path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from local_host.http_types import LocalRequest, LocalResponse, json_response, problem_response
from local_host.routing import Route, RouteHandler, RouteTable
from local_host.sandbox.call_simulation import (
    ANSWERED,
    MAGIC_OUTCOMES,
    CallOptions,
    CallsApiFeed,
    CallSimulator,
    SandboxRequestInvalid,
)
from local_host.sandbox.caller_id_store import CallerIdStore
from local_host.sandbox.json_body import json_object
from local_host.sandbox.phone_page import PhonePane
from shared.config import Settings
from shared.errors import InvalidInput
from shared.telephony.webhook_overrides import InvalidOverrides, parse_overrides

PREFIX = "/sandbox/telephony"
_NO_STORE = ("Cache-Control", "no-store")
DEVICE_MODULE = Path(__file__).with_name("device.js")


class TelephonySandbox:
    """The HTTP handler mounted at /sandbox/telephony, in front of the simulated calls."""

    def __init__(
        self,
        settings: Settings,
        calls_api: CallsApiFeed | None = None,
        caller_ids: CallerIdStore | None = None,
    ) -> None:
        self.settings = settings
        self.calls = CallSimulator(settings, calls_api)
        self.phone = PhonePane(settings, caller_ids or CallerIdStore())
        self._routes: RouteTable[RouteHandler] = RouteTable(
            (
                Route.of("GET", "", self._describe),
                Route.of("POST", "calls", self._start),
                Route.of("GET", "calls", self._list),
                Route.of("GET", "calls/{sid}", self._show),
                Route.of("POST", "calls/{sid}/hangup", self._hang_up),
                Route.of("POST", "calls/{sid}/digits", self._digits),
                Route.of("POST", "calls/{sid}/quality", self._quality),
                Route.of("GET", "device.js", self._device_module),
                Route.of("GET", "phone", self.phone.show),
                Route.of("GET", "phone.json", self.phone.pending_json),
                Route.of("POST", "phone/{call_sid}", self.phone.answer),
            ),
            "sandbox endpoint",
        )

    def handle(self, request: LocalRequest) -> LocalResponse:
        try:
            return self._routes.dispatch(request, request.path[len(PREFIX) :])
        except SandboxRequestInvalid as error:
            title = {404: "Not found", 409: "Conflict", 401: "Unauthorized"}.get(
                error.status, "Invalid request"
            )
            return problem_response(error.status, title, str(error))

    def _describe(self, _request: LocalRequest) -> LocalResponse:
        return json_response(
            200,
            {
                "voice_url": self.calls.voice_url,
                "magic_numbers": dict(MAGIC_OUTCOMES),
                "other_numbers": ANSWERED,
                "default_options": CallOptions().as_json(),
            },
            _NO_STORE,
        )

    def _start(self, request: LocalRequest) -> LocalResponse:
        data = _json_body(request)
        known = {f.name for f in fields(CallOptions)} | {"identity", "token", "to"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SandboxRequestInvalid(
                f"Unknown field(s) {', '.join(unknown)}; use {', '.join(sorted(known))}."
            )
        identity = self._identity(data)
        to = data.get("to")
        if not isinstance(to, str) or not to.strip() or len(to) > 64:
            raise SandboxRequestInvalid("to must be the number to call, as the user typed it.")
        call = self.calls.start_call(identity, to.strip(), call_options(data))
        return json_response(
            201, self.calls.state(call.sid), _NO_STORE, ("Location", f"{PREFIX}/calls/{call.sid}")
        )

    def _list(self, _request: LocalRequest) -> LocalResponse:
        return json_response(200, {"calls": self.calls.latest(50)}, _NO_STORE)

    def _show(self, _request: LocalRequest, sid: str) -> LocalResponse:
        return json_response(200, self.calls.state(sid), _NO_STORE)

    def _hang_up(self, _request: LocalRequest, sid: str) -> LocalResponse:
        self.calls.hang_up(sid)
        return json_response(202, self.calls.state(sid), _NO_STORE)

    def _digits(self, request: LocalRequest, sid: str) -> LocalResponse:
        data = _json_body(request)
        _only_fields(data, "digits")
        digits = data.get("digits")
        if not isinstance(digits, str):
            raise SandboxRequestInvalid('Send {"digits": "1"}: the digits as a string.')
        self.calls.send_digits(sid, digits)
        return json_response(200, self.calls.state(sid), _NO_STORE)

    def _quality(self, request: LocalRequest, sid: str) -> LocalResponse:
        data = _json_body(request)
        _only_fields(data, "event", "name")
        event, name = data.get("event"), data.get("name")
        if not isinstance(event, str) or not (name is None or isinstance(name, str)):
            raise SandboxRequestInvalid(
                'Send {"event": "warning", "name": "high-rtt"}: event and name as strings.'
            )
        self.calls.quality_event(sid, event, name)
        return json_response(200, self.calls.state(sid), _NO_STORE)

    def _device_module(self, _request: LocalRequest) -> LocalResponse:
        # Read on each request, as the static site is: an edit shows on the next reload.
        return LocalResponse(
            200,
            DEVICE_MODULE.read_bytes(),
            [
                ("Content-Type", "text/javascript; charset=utf-8"),
                _NO_STORE,
                ("X-Content-Type-Options", "nosniff"),
            ],
        )

    def _identity(self, data: Mapping[str, Any]) -> str:
        token, identity = data.get("token"), data.get("identity")
        if (token is None) == (identity is None):
            raise SandboxRequestInvalid("Give either identity (a user id) or token, not both.")
        if token is not None:
            if not isinstance(token, str):
                raise SandboxRequestInvalid("token must be the access token from /api/token.")
            return self._identity_from_token(token)
        if not isinstance(identity, str) or not _is_identity(identity):
            raise SandboxRequestInvalid(
                "identity must be a user id: 1 to 121 letters, digits, '_', '-', '.' or '@'."
            )
        return identity

    def _identity_from_token(self, token: str) -> str:
        """What Twilio reads from the SDK's access token, refusing one it would refuse."""
        import jwt  # PyJWT, a dependency of twilio; only the sandbox decodes tokens

        twilio = self.settings.twilio
        try:
            claims = jwt.decode(
                token,
                twilio.api_key_secret,
                algorithms=["HS256"],
                options={"require": ["exp", "iss", "sub", "grants"]},
            )
        except jwt.ExpiredSignatureError:
            raise SandboxRequestInvalid(
                "The access token has expired (Twilio 20104).", 401
            ) from None
        except jwt.PyJWTError as error:
            raise SandboxRequestInvalid(
                f"The access token is invalid (Twilio 20101): {str(error).rstrip('.')}.", 401
            ) from None
        grants = claims.get("grants") or {}
        outgoing = (grants.get("voice") or {}).get("outgoing") or {}
        identity = grants.get("identity")
        if claims.get("iss") != twilio.api_key_sid or claims.get("sub") != twilio.account_sid:
            raise SandboxRequestInvalid("The access token was issued for another account.", 401)
        if outgoing.get("application_sid") != twilio.twiml_app_sid:
            raise SandboxRequestInvalid(
                "The access token grants no outgoing calls through our TwiML App.", 401
            )
        if not isinstance(identity, str) or not _is_identity(identity):
            raise SandboxRequestInvalid("The access token carries no valid identity.", 401)
        return identity


def call_options(data: Mapping[str, Any]) -> CallOptions:
    """The options of a POST /sandbox/telephony/calls body (the defaults for those absent)."""
    values: dict[str, Any] = {}
    for name, low, high in (
        ("ring_delay_ms", 0, 60_000),
        ("answer_delay_ms", 0, 60_000),
        ("duration_seconds", 0, 86_400),
        ("seed", 0, 2**63),
    ):
        if data.get(name) is not None:
            values[name] = _whole(data[name], name, low, high)
    if data.get("talk_seconds") is not None:
        talk = data["talk_seconds"]
        if isinstance(talk, bool) or not isinstance(talk, int | float) or not 0 <= talk <= 14400:
            raise SandboxRequestInvalid("talk_seconds must be a number from 0 to 14400.")
        values["talk_seconds"] = float(talk)
    for name in (
        "duplicate_callbacks",
        "shuffle_callbacks",
        "concurrent_callbacks",
        "drop_callbacks",
        "drop_status_callbacks",
        "drop_dial_action",
        "action_first",
    ):
        if data.get(name) is not None:
            if not isinstance(data[name], bool):
                raise SandboxRequestInvalid(f"{name} must be true or false.")
            values[name] = data[name]
    fragment = data.get("voice_fragment")
    if fragment is not None:
        if not isinstance(fragment, str) or len(fragment) > 200:
            raise SandboxRequestInvalid("voice_fragment must be a short string.")
        try:
            parse_overrides(fragment)
        except InvalidOverrides as error:
            raise SandboxRequestInvalid(
                f"voice_fragment is not connection overrides Twilio takes: {error}."
            ) from None
        values["voice_fragment"] = fragment
    params = data.get("params", {})
    if not isinstance(params, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(k) < 100 and len(v) < 1000
        for k, v in params.items()
    ):
        raise SandboxRequestInvalid("params must be an object of short strings.")
    values["params"] = dict(params)
    return CallOptions(**values)


def _only_fields(data: Mapping[str, Any], *names: str) -> None:
    unknown = sorted(set(data) - set(names))
    if unknown:
        quoted = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise SandboxRequestInvalid(f"Unknown field(s) {quoted}; use {', '.join(names)}.")


def _is_identity(value: str) -> bool:
    return 0 < len(value) <= 121 and all(
        c.isascii() and (c.isalnum() or c in "_-.@") for c in value
    )


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SandboxRequestInvalid(f"{name} must be a whole number between {low} and {high}.")
    return value


def _json_body(request: LocalRequest) -> dict[str, Any]:
    try:
        return json_object(request.body)
    except InvalidInput as error:
        raise SandboxRequestInvalid(str(error)) from None

"""The telephony sandbox: plays Twilio's part of a browser call, over real signed HTTP.

What Twilio does when the Voice JS SDK connects through our TwiML App, the sandbox does in
the local host (only when OWNNUMBER_MODE=sandbox):

1. POSTs the voice webhook, settings.public_base_url + "/api/voice", form-encoded and signed
   with TWILIO_AUTH_TOKEN exactly as Twilio signs (X-Twilio-Signature over the full URL and
   the form), carrying CallSid, AccountSid, ApplicationSid, From/Caller=client:<identity>,
   To, Called="", Direction=inbound, CallStatus=ringing, ApiVersion and the SDK's params;
2. reads the answer strictly (twiml_parser): TwiML Twilio would refuse fails the call with
   Twilio's error code (12100 "Document parse failure", 12300 "Invalid Content-Type"), and
   a webhook that does not answer 2xx fails it with 11200 "HTTP retrieval failure";
3. executes it: <Say> is recorded as what the caller heard; <Dial><Number> creates the child
   call and, in a background thread, sends the signed status callbacks the <Number> asked for
   (SequenceNumber 0, 1, 2…; CallDuration on the final one), cuts the call at
   timeLimit seconds of talk exactly as Twilio does, then requests the <Dial action> with
   DialCallStatus, DialCallSid and DialCallDuration, and executes what that answers.

Every call is also recorded in the Calls REST API fake (sandbox/twilio), so reconciliation
reads what "Twilio" knows about calls whose callbacks were lost.

Endpoints (JSON):
- GET  /sandbox/telephony                  the magic numbers and the default options
- POST /sandbox/telephony/calls            start a call; 201 with the call's state
- GET  /sandbox/telephony/calls            the most recent calls' states, newest first
- GET  /sandbox/telephony/calls/{sid}      one call's state
- POST /sandbox/telephony/calls/{sid}/hangup   the caller hangs up now; 202 with the state

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
- params: further parameters the SDK passes with device.connect({params}).

Magic destinations (valid UK fixed-line numbers from Ofcom's drama range, which the
destination policy accepts and the sample deck prices as a UK landline):
- +442079460001: busy      (initiated, then busy)
- +442079460002: no-answer (initiated, ringing, then no-answer after answer_delay_ms)
- +442079460003: failed    (initiated, then failed)
Every other number answers.
"""

from __future__ import annotations

import json
import logging
import math
import random
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Protocol
from urllib.parse import urlencode

import requests

from local_host.http_types import LocalRequest, LocalResponse, json_response, problem_response
from local_host.routing import Route, RouteTable
from local_host.sandbox.twiml_parser import (
    Dial,
    Hangup,
    Pause,
    Reject,
    Say,
    TwimlDocument,
    TwimlError,
    parse_twiml,
)
from shared.config import Settings
from shared.twilio_signature import SIGNATURE_HEADER, sign
from shared.webhook_paths import VOICE_PATH

logger = logging.getLogger("local_host.sandbox.telephony")

PREFIX = "/sandbox/telephony"
API_VERSION = "2010-04-01"
USER_AGENT = "TwilioProxy/1.1"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
HTTP_RETRIEVAL_FAILURE = 11200
# Twilio gives a webhook 15 seconds to answer.
WEBHOOK_TIMEOUT_SECONDS = 15
# Calls kept for GET; the oldest finished ones are forgotten first.
MAX_CALLS_KEPT = 500
# An action document may <Dial> again; Twilio would follow forever, the sandbox not.
MAX_DIALS_PER_CALL = 3
MAX_CONCURRENT_CALLBACKS = 16
_NO_STORE = ("Cache-Control", "no-store")

MAGIC_OUTCOMES: Mapping[str, str] = {
    "+442079460001": "busy",
    "+442079460002": "no-answer",
    "+442079460003": "failed",
}
ANSWERED = "answered"

FINAL_STATUSES = frozenset(["completed", "busy", "no-answer", "failed", "canceled"])


class SandboxRequestInvalid(ValueError):
    """The request to the sandbox itself is wrong; the message says how."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class CallsApiFeed(Protocol):
    """Where the sandbox tells the Calls REST API fake about each call (parent and child)."""

    def record_call(self, call: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class CallOptions:
    ring_delay_ms: int = 1000
    answer_delay_ms: int = 2000
    talk_seconds: float | None = None
    duration_seconds: int | None = None
    duplicate_callbacks: bool = False
    shuffle_callbacks: bool = False
    concurrent_callbacks: bool = False
    drop_callbacks: bool = False
    drop_status_callbacks: bool = False
    drop_dial_action: bool = False
    action_first: bool = False
    seed: int | None = None
    params: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallOptions:
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
            if (
                isinstance(talk, bool)
                or not isinstance(talk, int | float)
                or not 0 <= talk <= 14400
            ):
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
        params = data.get("params", {})
        if not isinstance(params, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) < 100 and len(v) < 1000
            for k, v in params.items()
        ):
            raise SandboxRequestInvalid("params must be an object of short strings.")
        values["params"] = dict(params)
        return cls(**values)

    @property
    def drops_status_callbacks(self) -> bool:
        return self.drop_callbacks or self.drop_status_callbacks

    @property
    def drops_dial_action(self) -> bool:
        return self.drop_callbacks or self.drop_dial_action

    @property
    def holds_status_callbacks(self) -> bool:
        return self.shuffle_callbacks or self.concurrent_callbacks or self.action_first

    def as_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"params": dict(self.params)}


@dataclass
class Webhook:
    """One request the sandbox sent, and what came back."""

    kind: str  # voice | status | action
    url: str
    method: str
    params: dict[str, str]
    token: str
    delivery: int = 1
    status_code: int | None = None
    error: str | None = None
    sent_at: str | None = None
    dropped: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "url": self.url,
            "method": self.method,
            "params": self.params,
            "idempotency_token": self.token,
            "delivery": self.delivery,
            "status_code": self.status_code,
            "error": self.error,
            "sent_at": self.sent_at,
            "dropped": self.dropped,
        }


@dataclass
class DialLeg:
    """The child call a <Dial><Number> makes."""

    sid: str
    to: str
    caller_id: str | None
    time_limit: int
    outcome: str
    status: str = "queued"
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    hangup_reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "to": self.to,
            "caller_id": self.caller_id,
            "time_limit": self.time_limit,
            "outcome": self.outcome,
            "status": self.status,
            "started_at": _iso(self.started_at),
            "answered_at": _iso(self.answered_at),
            "ended_at": _iso(self.ended_at),
            "duration_seconds": self.duration_seconds,
            "hangup_reason": self.hangup_reason,
        }


@dataclass
class SimulatedCall:
    sid: str
    identity: str
    to: str
    options: CallOptions
    created_at: datetime
    status: str = "ringing"
    dials: list[DialLeg] = field(default_factory=list)
    spoken: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    webhooks: list[Webhook] = field(default_factory=list)
    ended_at: datetime | None = None
    finished: bool = False
    hangup: threading.Event = field(default_factory=threading.Event)

    @property
    def client(self) -> str:
        return f"client:{self.identity}"

    def as_json(self) -> dict[str, Any]:
        dial = self.dials[-1] if self.dials else None
        return {
            "sid": self.sid,
            "identity": self.identity,
            "to": self.to,
            "status": self.status,
            "finished": self.finished,
            "dial": dial.as_json() if dial else None,
            "time_limit": dial.time_limit if dial else None,
            "spoken": list(self.spoken),
            "error": self.error,
            "created_at": _iso(self.created_at),
            "ended_at": _iso(self.ended_at),
            "options": self.options.as_json(),
            "webhooks": [webhook.as_json() for webhook in self.webhooks],
        }


class TelephonySandbox:
    """The simulated calls, and the HTTP handler mounted at /sandbox/telephony."""

    def __init__(
        self,
        settings: Settings,
        calls_api: CallsApiFeed | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.calls_api = calls_api
        self.clock = clock
        self._calls: OrderedDict[str, SimulatedCall] = OrderedDict()
        self._lock = threading.RLock()
        self._routes = RouteTable(
            (
                Route.of("GET", "", self._describe),
                Route.of("POST", "calls", self._start),
                Route.of("GET", "calls", self._list),
                Route.of("GET", "calls/{sid}", self._show),
                Route.of("POST", "calls/{sid}/hangup", self._hang_up),
            ),
            "sandbox endpoint",
        )

    # --- HTTP ------------------------------------------------------------------------------

    def handle(self, request: LocalRequest) -> LocalResponse:
        found = self._routes.resolve(request, request.path[len(PREFIX) :])
        if isinstance(found, LocalResponse):
            return found
        action, params = found
        try:
            return action(request, **params)
        except SandboxRequestInvalid as error:
            title = {404: "Not found", 409: "Conflict", 401: "Unauthorized"}.get(
                error.status, "Invalid request"
            )
            return problem_response(error.status, title, str(error))

    def _describe(self, _request: LocalRequest) -> LocalResponse:
        return json_response(
            200,
            {
                "voice_url": self.voice_url,
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
        call = self.start_call(identity, to.strip(), CallOptions.from_json(data))
        return json_response(
            201, self.state(call.sid), _NO_STORE, ("Location", f"{PREFIX}/calls/{call.sid}")
        )

    def _list(self, _request: LocalRequest) -> LocalResponse:
        with self._lock:
            calls = [call.as_json() for call in reversed(self._calls.values())]
        return json_response(200, {"calls": calls[:50]}, _NO_STORE)

    def _show(self, _request: LocalRequest, sid: str) -> LocalResponse:
        return json_response(200, self.state(sid), _NO_STORE)

    def _hang_up(self, _request: LocalRequest, sid: str) -> LocalResponse:
        call = self._call(sid)
        with self._lock:
            if call.finished or call.status in FINAL_STATUSES:
                raise SandboxRequestInvalid(f"The call {sid} has already ended.", 409)
            call.hangup.set()
        return json_response(202, self.state(sid), _NO_STORE)

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

    # --- Python API ------------------------------------------------------------------------

    @property
    def voice_url(self) -> str:
        return f"{self.settings.public_base_url}{VOICE_PATH}"

    def state(self, sid: str) -> dict[str, Any]:
        call = self._call(sid)
        with self._lock:
            return call.as_json()

    def start_call(self, identity: str, to: str, options: CallOptions) -> SimulatedCall:
        """Place the call: the voice webhook now, the rest of the call in a background thread."""
        call = SimulatedCall(
            sid=new_call_sid(), identity=identity, to=to, options=options, created_at=self.clock()
        )
        with self._lock:
            self._calls[call.sid] = call
            self._forget_old_calls()
        self._feed_parent(call)
        document = self._fetch(call, "voice", self.voice_url, "POST", self._parent_params(call))
        if document is None:
            self._finish(call)
        elif any(isinstance(verb, Dial) for verb in document.verbs):
            threading.Thread(
                target=self._run_safely,
                args=(call, document),
                name=f"sandbox-call-{call.sid}",
                daemon=True,
            ).start()
        else:
            self._run_safely(call, document)
        return call

    # --- the call ----------------------------------------------------------------------------

    def _run_safely(self, call: SimulatedCall, document: TwimlDocument) -> None:
        try:
            self._execute(call, document)
        except Exception:
            # A bug in the sandbox must not take the host down; the call ends failed instead.
            logger.exception("The sandbox call %s failed", call.sid)
            self._fail(call, 0, "The sandbox failed while running this call; see the host log.")
        finally:
            self._finish(call)

    def _execute(self, call: SimulatedCall, document: TwimlDocument) -> None:
        for verb in document.verbs:
            if isinstance(verb, Say):
                with self._lock:
                    call.spoken.append(verb.text)
            elif isinstance(verb, Pause):
                continue  # nobody listens to the silence: no need to wait it out
            elif isinstance(verb, Hangup):
                return
            elif isinstance(verb, Reject):
                with self._lock:
                    call.status = "busy" if verb.reason == "busy" else "failed"
                return
            elif isinstance(verb, Dial):
                if len(call.dials) >= MAX_DIALS_PER_CALL:
                    self._fail(
                        call, 0, f"The sandbox dials at most {MAX_DIALS_PER_CALL} times a call."
                    )
                    return
                leg, callbacks = self._dial(call, verb)
                if not call.options.action_first or verb.action is None:
                    callbacks.finish()
                if verb.action is None:
                    if call.hangup.is_set():
                        return
                    continue
                if call.options.drops_dial_action:
                    self.record_dropped(call, "action", verb.action, verb.method, {})
                    callbacks.finish()
                    return
                params = self._parent_params(call) | {
                    "DialCallSid": leg.sid,
                    "DialCallStatus": leg.status,
                    "DialCallDuration": str(leg.duration_seconds or 0),
                }
                if call.hangup.is_set():
                    params["CallStatus"] = "completed"
                following = self._fetch(call, "action", verb.action, verb.method, params)
                callbacks.finish()  # with action_first, the held status callbacks come now
                if following is not None and not call.hangup.is_set():
                    self._execute(call, following)
                return

    def _dial(self, call: SimulatedCall, dial: Dial) -> tuple[DialLeg, _Callbacks]:
        """Runs the dialled leg to its end; the status callbacks held back (shuffled, all at
        once, or after the action) are the caller's to deliver with `finish`."""
        number = dial.number
        leg = DialLeg(
            sid=new_call_sid(),
            to=number.e164,
            caller_id=dial.caller_id,
            time_limit=dial.time_limit,
            outcome=MAGIC_OUTCOMES.get(number.e164, ANSWERED),
            started_at=self.clock(),
        )
        with self._lock:
            call.dials.append(leg)
            if not dial.answer_on_bridge:
                call.status = "in-progress"
        callbacks = _Callbacks(self, call, leg, dial)
        options = call.options

        def advance(status: str, event: str) -> None:
            with self._lock:
                leg.status = status
            self._feed_child(call, leg)
            callbacks.emit(event, status)

        def end(status: str, duration: int, reason: str) -> tuple[DialLeg, _Callbacks]:
            self._end_leg(leg, status, duration, reason)
            advance(status, "completed")
            return leg, callbacks

        advance("initiated", "initiated")
        if call.hangup.wait(options.ring_delay_ms / 1000):
            return end("canceled", 0, "caller")
        if leg.outcome in ("busy", "failed"):
            return end(leg.outcome, 0, "callee")
        advance("ringing", "ringing")
        if call.hangup.wait(options.answer_delay_ms / 1000):
            return end("canceled", 0, "caller")
        if leg.outcome == "no-answer":
            return end("no-answer", 0, "callee")

        answered = time.monotonic()
        with self._lock:
            leg.answered_at = self.clock()
            call.status = "in-progress"
        self._feed_parent(call)
        advance("in-progress", "answered")
        return end("completed", *self._talk(call, leg, answered))

    def _talk(self, call: SimulatedCall, leg: DialLeg, answered: float) -> tuple[int, str]:
        """Waits while the call is up; returns its CallDuration and who ended it."""
        options, limit = call.options, leg.time_limit
        if options.talk_seconds is not None:
            wait, reason = min(options.talk_seconds, limit), "callee"
        elif options.duration_seconds is not None:
            wait, reason = 0.0, "callee"
        else:
            wait, reason = float(limit), "time_limit"
        if call.hangup.wait(wait):
            reason = "caller"
        elapsed = time.monotonic() - answered
        if options.duration_seconds is not None:
            duration = options.duration_seconds
        else:
            duration = math.ceil(elapsed)
        if duration >= limit:
            # The carrier cuts the call at timeLimit: that is all that is ever billed.
            duration, reason = limit, "time_limit"
        return duration, reason

    def _end_leg(self, leg: DialLeg, status: str, duration: int, reason: str) -> None:
        with self._lock:
            leg.duration_seconds = duration
            leg.hangup_reason = reason
            leg.ended_at = self.clock()
            leg.status = status

    # --- webhooks --------------------------------------------------------------------------

    def _fetch(
        self, call: SimulatedCall, kind: str, url: str, method: str, params: dict[str, str]
    ) -> TwimlDocument | None:
        """Request TwiML as Twilio does; None (and the call failed) when it cannot be used."""
        webhook = Webhook(kind, url, method, params, _idempotency_token())
        response = self.deliver(call, webhook)
        if response is None or not 200 <= response.status_code < 300:
            got = webhook.error or f"HTTP {webhook.status_code}"
            self._fail(call, HTTP_RETRIEVAL_FAILURE, f"The {kind} webhook {url} failed: {got}.")
            return None
        try:
            return parse_twiml(response.content, response.headers.get("Content-Type"))
        except TwimlError as error:
            # The code only: the message may quote the document, and with it the dialled number.
            logger.error("TwiML from %s rejected (Twilio %s)", url, error.code)
            self._fail(call, error.code, str(error))
            return None

    def deliver(self, call: SimulatedCall, webhook: Webhook) -> requests.Response | None:
        """Send one signed webhook and record the outcome on the call."""
        url, body = webhook.url, None
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
            IDEMPOTENCY_HEADER: webhook.token,
        }
        if webhook.method == "GET":
            # Twilio signs a GET over the URL with the parameters in its query, and no form.
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(webhook.params)}"
            headers[SIGNATURE_HEADER] = sign(url, {}, self.settings.twilio.auth_token)
        else:
            body = urlencode(webhook.params)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers[SIGNATURE_HEADER] = sign(url, webhook.params, self.settings.twilio.auth_token)
        with self._lock:
            webhook.sent_at = _iso(self.clock())
            call.webhooks.append(webhook)
        try:
            response = requests.request(
                webhook.method, url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS
            )
        except requests.RequestException as error:
            logger.warning("Sandbox webhook %s %s failed: %s", webhook.method, url, error)
            with self._lock:
                webhook.error = type(error).__name__
            return None
        with self._lock:
            webhook.status_code = response.status_code
        if response.status_code >= 400:
            logger.warning(
                "Sandbox webhook %s %s answered %s: %s",
                webhook.method,
                url,
                response.status_code,
                response.text[:300],
            )
        return response

    def record_dropped(
        self, call: SimulatedCall, kind: str, url: str, method: str, params: dict[str, str]
    ) -> None:
        with self._lock:
            call.webhooks.append(
                Webhook(kind, url, method, params, _idempotency_token(), dropped=True)
            )

    def _parent_params(self, call: SimulatedCall) -> dict[str, str]:
        twilio = self.settings.twilio
        return {
            **call.options.params,
            "AccountSid": twilio.account_sid,
            "ApiVersion": API_VERSION,
            "ApplicationSid": twilio.twiml_app_sid,
            "CallSid": call.sid,
            "CallStatus": call.status,
            "Called": "",
            "Caller": call.client,
            "Direction": "inbound",
            "From": call.client,
            "To": call.to,
        }

    # --- bookkeeping ---------------------------------------------------------------------------

    def _fail(self, call: SimulatedCall, code: int, message: str) -> None:
        with self._lock:
            call.status = "failed"
            call.error = {"code": code, "message": message}

    def _finish(self, call: SimulatedCall) -> None:
        with self._lock:
            if call.status not in FINAL_STATUSES:
                call.status = "completed"
            call.ended_at = self.clock()
            call.finished = True
        self._feed_parent(call)

    def _call(self, sid: str) -> SimulatedCall:
        with self._lock:
            call = self._calls.get(sid)
        if call is None:
            raise SandboxRequestInvalid(f"The sandbox has no call {sid[:40]!r}.", 404)
        return call

    def _forget_old_calls(self) -> None:
        while len(self._calls) > MAX_CALLS_KEPT:
            oldest = next((sid for sid, call in self._calls.items() if call.finished), None)
            if oldest is None:
                return
            del self._calls[oldest]

    def _feed_parent(self, call: SimulatedCall) -> None:
        if self.calls_api is None:
            return
        with self._lock:
            record = {
                "sid": call.sid,
                "parent_call_sid": None,
                "from": call.client,
                "to": call.to,
                "direction": "inbound",
                "status": call.status,
                "start_time": call.created_at,
                "end_time": call.ended_at,
                "duration": _seconds_between(call.created_at, call.ended_at),
            }
        self._feed(record)

    def _feed_child(self, call: SimulatedCall, leg: DialLeg) -> None:
        if self.calls_api is None:
            return
        with self._lock:
            record = {
                "sid": leg.sid,
                "parent_call_sid": call.sid,
                "from": leg.caller_id or call.client,
                "to": leg.to,
                "direction": "outbound-dial",
                "status": "queued" if leg.status == "initiated" else leg.status,
                "start_time": leg.started_at,
                "end_time": leg.ended_at,
                "duration": leg.duration_seconds,
            }
        self._feed(record)

    def _feed(self, record: Mapping[str, Any]) -> None:
        assert self.calls_api is not None
        try:
            self.calls_api.record_call(record)
        except Exception:
            logger.exception("The Calls API fake refused the call %s", record.get("sid"))


class _Callbacks:
    """The status callbacks of one dialled leg, numbered in the order the events happened."""

    def __init__(
        self, sandbox: TelephonySandbox, call: SimulatedCall, leg: DialLeg, dial: Dial
    ) -> None:
        self.sandbox, self.call, self.leg, self.dial = sandbox, call, leg, dial
        self.sequence = 0
        self.held: list[Webhook] = []

    def emit(self, event: str, status: str) -> None:
        number = self.dial.number
        if number.status_callback is None or event not in number.status_callback_events:
            return
        params = self._params(status)
        webhook = Webhook(
            "status",
            number.status_callback,
            number.status_callback_method,
            params,
            _idempotency_token(),
        )
        options = self.call.options
        if options.drops_status_callbacks:
            self.sandbox.record_dropped(self.call, "status", webhook.url, webhook.method, params)
        elif options.holds_status_callbacks:
            self.held.append(webhook)
        else:
            self._send(webhook)

    def finish(self) -> None:
        """Deliver what was held back, shuffled and/or all at once (once; later calls no-op)."""
        deliveries = [copy for webhook in self.held for copy in self._copies(webhook)]
        self.held = []
        options = self.call.options
        if options.shuffle_callbacks and len(deliveries) > 1:
            order = list(deliveries)
            random.Random(options.seed).shuffle(deliveries)
            if deliveries == order:
                deliveries.reverse()  # a shuffle that changes nothing would test nothing
        if options.concurrent_callbacks and deliveries:
            workers = min(len(deliveries), MAX_CONCURRENT_CALLBACKS)
            with ThreadPoolExecutor(workers, thread_name_prefix="sandbox-callback") as pool:
                list(pool.map(lambda webhook: self.sandbox.deliver(self.call, webhook), deliveries))
        else:
            for webhook in deliveries:
                self.sandbox.deliver(self.call, webhook)

    def _send(self, webhook: Webhook) -> None:
        for copy in self._copies(webhook):
            self.sandbox.deliver(self.call, copy)

    def _copies(self, webhook: Webhook) -> list[Webhook]:
        if not self.call.options.duplicate_callbacks:
            return [webhook]
        # A redelivery: same parameters, same idempotency token, as Twilio's retries.
        again = Webhook(
            webhook.kind, webhook.url, webhook.method, webhook.params, webhook.token, delivery=2
        )
        return [webhook, again]

    def _params(self, status: str) -> dict[str, str]:
        twilio, leg = self.sandbox.settings.twilio, self.leg
        caller = leg.caller_id or self.call.client
        params = {
            "AccountSid": twilio.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": leg.sid,
            "ParentCallSid": self.call.sid,
            "CallStatus": status,
            "Direction": "outbound-dial",
            "From": caller,
            "Caller": caller,
            "To": leg.to,
            "Called": leg.to,
            "SequenceNumber": str(self.sequence),
            "Timestamp": format_datetime(self.sandbox.clock()),
            "CallbackSource": "call-progress-events",
        }
        self.sequence += 1
        if status in FINAL_STATUSES:
            params["CallDuration"] = str(leg.duration_seconds or 0)
        return params


def new_call_sid() -> str:
    return "CA" + secrets.token_hex(16)


def _idempotency_token() -> str:
    return f"{uuid.uuid4().hex}-{uuid.uuid4().hex[:8]}"


def _is_identity(value: str) -> bool:
    return 0 < len(value) <= 121 and all(
        c.isascii() and (c.isalnum() or c in "_-.@") for c in value
    )


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SandboxRequestInvalid(f"{name} must be a whole number between {low} and {high}.")
    return value


def _seconds_between(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, math.ceil((end - start).total_seconds()))


def _iso(moment: datetime | str | None) -> str | None:
    if moment is None or isinstance(moment, str):
        return moment
    return moment.isoformat()


def _json_body(request: LocalRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        raise SandboxRequestInvalid("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise SandboxRequestInvalid("The request body must be a JSON object.")
    return data

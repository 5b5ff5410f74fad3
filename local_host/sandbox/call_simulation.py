"""The simulated calls of the telephony sandbox: what Twilio does with a browser call.

What Twilio does when the Voice JS SDK connects through our TwiML App, a `CallSimulator`
does in the local host:

1. POSTs the TwiML App's voice URL (by default the one the README says to configure,
   settings.public_base_url + "/api/voice" with our connection overrides), form-encoded and
   signed (twilio_webhooks), carrying CallSid, AccountSid, ApplicationSid,
   From/Caller=client:<identity>, To, Called="", Direction=inbound, CallStatus=ringing,
   ApiVersion and the SDK's params; every webhook is retried as its URL's connection
   overrides say, as Twilio retries it;
2. reads the answer strictly (twiml_parser): TwiML Twilio would refuse fails the call with
   Twilio's error code (12100 "Document parse failure", 12300 "Invalid Content-Type"), and
   a webhook that does not answer 2xx (after its retries) fails it with 11200 "HTTP retrieval
   failure";
3. executes it: <Say> is recorded as what the caller heard; <Dial><Number> creates the child
   call and, in a background thread, sends the signed status callbacks the <Number> asked for
   (SequenceNumber 0, 1, 2…; CallDuration on the final one), cuts the call at
   timeLimit seconds of talk exactly as Twilio does, then requests the <Dial action> with
   DialCallStatus, DialCallSid and DialCallDuration, and executes what that answers.

While the dialled leg is up, the caller's side of the media can be played too: the digits the
SDK's Call.sendDigits sends (`send_digits`), and the network's turns that make the SDK raise
quality warnings or reconnect (`quality_event`). Our app never sees either (Twilio keeps them
to itself), so they are only recorded on the call, for the sandbox device and the tests.

Every call is also recorded in the Calls REST API fake (sandbox/twilio), so reconciliation
reads what "Twilio" knows about calls whose callbacks were lost.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Protocol

from local_host.sandbox.twilio_webhooks import (
    CallbackDelivery,
    StatusCallbacks,
    Webhook,
    WebhookSender,
    idempotency_token,
)
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
from shared.telephony.webhook_overrides import overrides_of, without_fragment
from shared.telephony.webhook_paths import voice_url

logger = logging.getLogger("local_host.sandbox.telephony")

API_VERSION = "2010-04-01"
HTTP_RETRIEVAL_FAILURE = 11200
# Calls kept for GET; the oldest finished ones are forgotten first.
MAX_CALLS_KEPT = 500
# An action document may <Dial> again; Twilio would follow forever, the sandbox not.
MAX_DIALS_PER_CALL = 3

MAGIC_OUTCOMES: Mapping[str, str] = {
    "+442079460001": "busy",
    "+442079460002": "no-answer",
    "+442079460003": "failed",
}
ANSWERED = "answered"

FINAL_STATUSES = frozenset(["completed", "busy", "no-answer", "failed", "canceled"])

# What Twilio takes as digits to send: DTMF tones, and w / W for a pause of 0.5 s / 1 s.
DTMF_CHARACTERS = frozenset("0123456789*#wW")
MAX_DIGITS = 32
# The names the Voice JS SDK 2.x gives Call 'warning' and 'warning-cleared' events
# (lib/twilio/call.ts: its stats thresholds' prefixes and names, and ICE's own).
WARNING_NAMES = (
    "high-rtt",
    "low-mos",
    "high-jitter",
    "high-packet-loss",
    "high-packets-lost-fraction",
    "low-bytes-received",
    "low-bytes-sent",
    "ice-connectivity-lost",
    "constant-audio-input-level",
    "constant-audio-output-level",
)
WARNING, WARNING_CLEARED, RECONNECTING, RECONNECTED = (
    "warning",
    "warning-cleared",
    "reconnecting",
    "reconnected",
)
QUALITY_EVENTS = (WARNING, WARNING_CLEARED, RECONNECTING, RECONNECTED)


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
    # The fragment of the voice URL for this call: None keeps the TwiML App's, "" drops it
    # (Twilio's default retries), anything else replaces it (validated as overrides).
    voice_fragment: str | None = None

    @property
    def drops_dial_action(self) -> bool:
        return self.drop_callbacks or self.drop_dial_action

    @property
    def callback_delivery(self) -> CallbackDelivery:
        return CallbackDelivery(
            drop=self.drop_callbacks or self.drop_status_callbacks,
            hold=self.shuffle_callbacks or self.concurrent_callbacks or self.action_first,
            duplicate=self.duplicate_callbacks,
            shuffle=self.shuffle_callbacks,
            concurrent=self.concurrent_callbacks,
            seed=self.seed,
        )

    def as_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"params": dict(self.params)}


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


@dataclass(frozen=True)
class DigitsSent:
    """Digits the caller's SDK sent in one Call.sendDigits."""

    digits: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"digits": self.digits, "at": _iso(self.at)}


@dataclass(frozen=True)
class QualityEvent:
    """A turn of the caller's network, as the SDK reports it (see quality_event)."""

    seq: int
    event: str
    name: str | None
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "event": self.event, "name": self.name, "at": _iso(self.at)}


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
    digits: list[DigitsSent] = field(default_factory=list)
    events: list[QualityEvent] = field(default_factory=list)
    warnings: set[str] = field(default_factory=set)
    reconnecting: bool = False

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
            "digits": "".join(sent.digits for sent in self.digits),
            "digits_sent": [sent.as_json() for sent in self.digits],
            "events": [event.as_json() for event in self.events],
            "quality": {"warnings": sorted(self.warnings), "reconnecting": self.reconnecting},
        }


class CallSimulator:
    """The simulated calls: each placed, run to its end and kept for its state."""

    def __init__(
        self,
        settings: Settings,
        calls_api: CallsApiFeed | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        voice_url: str | None = None,
        webhook_time_scale: float = 1.0,
    ) -> None:
        """`voice_url` is the TwiML App's Voice URL (by default the README's); a test may
        shrink Twilio's webhook time-outs with `webhook_time_scale` (see WebhookSender)."""
        self.settings = settings
        self.calls_api = calls_api
        self.clock = clock
        self.voice_url = voice_url or default_voice_url(settings)
        overrides_of(self.voice_url)  # InvalidOverrides now, not on the first call
        self._calls: OrderedDict[str, SimulatedCall] = OrderedDict()
        self._lock = threading.RLock()
        self._webhooks = WebhookSender(
            settings.twilio.auth_token, self._lock, clock, time_scale=webhook_time_scale
        )

    def state(self, sid: str) -> dict[str, Any]:
        call = self._call(sid)
        with self._lock:
            return call.as_json()

    def latest(self, count: int) -> list[dict[str, Any]]:
        """The states of the most recent calls, newest first."""
        with self._lock:
            calls = [call.as_json() for call in reversed(self._calls.values())]
        return calls[:count]

    def start_call(self, identity: str, to: str, options: CallOptions) -> SimulatedCall:
        """Place the call: the voice webhook now, the rest of the call in a background thread."""
        call = SimulatedCall(
            sid=new_call_sid(), identity=identity, to=to, options=options, created_at=self.clock()
        )
        with self._lock:
            self._calls[call.sid] = call
            self._forget_old_calls()
        self._feed_parent(call)
        url = call_voice_url(self.voice_url, options.voice_fragment)
        document = self._fetch(call, "voice", url, "POST", self._parent_params(call))
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

    def hang_up(self, sid: str) -> None:
        """The caller hangs up now."""
        call = self._call(sid)
        with self._lock:
            if call.finished or call.status in FINAL_STATUSES:
                raise SandboxRequestInvalid(f"The call {sid} has already ended.", 409)
            call.hangup.set()

    def send_digits(self, sid: str, digits: str) -> None:
        """The caller's SDK sends DTMF digits (Call.sendDigits) on the answered call."""
        if not 1 <= len(digits) <= MAX_DIGITS or not set(digits) <= DTMF_CHARACTERS:
            raise SandboxRequestInvalid(
                f"digits must be 1 to {MAX_DIGITS} of 0-9, * and #, with w to wait half a"
                " second and W to wait a second, as Twilio takes them."
            )
        call = self._call(sid)
        with self._lock:
            self._require_up(call, "Digits")
            if call.reconnecting:
                raise SandboxRequestInvalid(
                    f"The call {sid} is reconnecting: no digits reach Twilio until it has"
                    " reconnected.",
                    409,
                )
            call.digits.append(DigitsSent(digits, self.clock()))

    def quality_event(self, sid: str, event: str, name: str | None) -> None:
        """The caller's network turns: the SDK raises or clears a warning (`name`), or loses
        its media and reconnects. Only in an order the SDK could report it."""
        if event not in QUALITY_EVENTS:
            raise SandboxRequestInvalid(f"event must be one of {', '.join(QUALITY_EVENTS)}.")
        if event in (WARNING, WARNING_CLEARED) and name not in WARNING_NAMES:
            raise SandboxRequestInvalid(
                f"A {event} needs the name of a Voice SDK warning: {', '.join(WARNING_NAMES)}."
            )
        if event in (RECONNECTING, RECONNECTED) and name is not None:
            raise SandboxRequestInvalid(f"A {event} event takes no name; only warnings do.")
        call = self._call(sid)
        with self._lock:
            self._require_up(call, "Network events")
            if event == WARNING and name in call.warnings:
                raise SandboxRequestInvalid(
                    f"The warning {name} is already raised on the call {sid}; clear it first.",
                    409,
                )
            if event == WARNING_CLEARED and name not in call.warnings:
                raise SandboxRequestInvalid(
                    f"The warning {name} is not raised on the call {sid}: nothing to clear.", 409
                )
            if event == RECONNECTING and call.reconnecting:
                raise SandboxRequestInvalid(f"The call {sid} is already reconnecting.", 409)
            if event == RECONNECTED and not call.reconnecting:
                raise SandboxRequestInvalid(
                    f"The call {sid} is not reconnecting: send reconnecting first.", 409
                )
            if name is not None and event == WARNING:
                call.warnings.add(name)
            elif name is not None:
                call.warnings.discard(name)
            else:
                call.reconnecting = event == RECONNECTING
            call.events.append(QualityEvent(len(call.events) + 1, event, name, self.clock()))

    def _require_up(self, call: SimulatedCall, what: str) -> None:
        """Refuses (409) unless the call's dialled leg is answered and still up. Under the lock."""
        leg = call.dials[-1] if call.dials else None
        if call.finished or call.hangup.is_set() or (leg is not None and leg.ended_at):
            raise SandboxRequestInvalid(
                f"The call {call.sid} has ended. {what} reach only a call that is up.", 409
            )
        if leg is None or leg.answered_at is None:
            raise SandboxRequestInvalid(
                f"The call {call.sid} has not been answered. {what} reach only a call that is up.",
                409,
            )

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
                    self._webhooks.record_dropped(
                        call.webhooks, "action", verb.action, verb.method, {}
                    )
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

    def _dial(self, call: SimulatedCall, dial: Dial) -> tuple[DialLeg, StatusCallbacks]:
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
        callbacks = StatusCallbacks(self._webhooks, call.webhooks, call.options.callback_delivery)
        sequence = 0
        options = call.options

        def advance(status: str, event: str) -> None:
            nonlocal sequence
            with self._lock:
                leg.status = status
            self._feed_child(call, leg)
            if number.status_callback is None or event not in number.status_callback_events:
                return
            params = self._status_params(call, leg, status, sequence)
            sequence += 1
            callbacks.emit(
                Webhook(
                    "status",
                    number.status_callback,
                    number.status_callback_method,
                    params,
                    idempotency_token(),
                )
            )

        def end(status: str, duration: int, reason: str) -> tuple[DialLeg, StatusCallbacks]:
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

    # --- what the app is sent ----------------------------------------------------------------

    def _fetch(
        self, call: SimulatedCall, kind: str, url: str, method: str, params: dict[str, str]
    ) -> TwimlDocument | None:
        """Request TwiML as Twilio does; None (and the call failed) when it cannot be used."""
        webhook = Webhook(kind, url, method, params, idempotency_token())
        response, last = self._webhooks.send(call.webhooks, webhook)
        if response is None or not 200 <= response.status_code < 300:
            got = last.error or f"HTTP {last.status_code}"
            if last.attempt > 1:
                got += f" (attempt {last.attempt})"
            self._fail(call, HTTP_RETRIEVAL_FAILURE, f"The {kind} webhook {url} failed: {got}.")
            return None
        try:
            return parse_twiml(response.content, response.headers.get("Content-Type"))
        except TwimlError as error:
            # The code only: the message may quote the document, and with it the dialled number.
            logger.error("TwiML from %s rejected (Twilio %s)", url, error.code)
            self._fail(call, error.code, str(error))
            return None

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

    def _status_params(
        self, call: SimulatedCall, leg: DialLeg, status: str, sequence: int
    ) -> dict[str, str]:
        """A status callback's parameters; `sequence` numbers them in the order of events."""
        twilio = self.settings.twilio
        caller = leg.caller_id or call.client
        params = {
            "AccountSid": twilio.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": leg.sid,
            "ParentCallSid": call.sid,
            "CallStatus": status,
            "Direction": "outbound-dial",
            "From": caller,
            "Caller": caller,
            "To": leg.to,
            "Called": leg.to,
            "SequenceNumber": str(sequence),
            "Timestamp": format_datetime(self.clock()),
            "CallbackSource": "call-progress-events",
        }
        if status in FINAL_STATUSES:
            params["CallDuration"] = str(leg.duration_seconds or 0)
        return params

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


def new_call_sid() -> str:
    return "CA" + secrets.token_hex(16)


def default_voice_url(settings: Settings) -> str:
    """The Voice URL the README tells operators to give the TwiML App."""
    return voice_url(settings.public_base_url)


def call_voice_url(configured: str, fragment: str | None) -> str:
    """The voice URL of one call: the configured one, or it with `fragment` instead (see
    CallOptions.voice_fragment). Raises InvalidOverrides for a fragment Twilio would refuse."""
    if fragment is None:
        return configured
    url = without_fragment(configured) + (f"#{fragment}" if fragment else "")
    overrides_of(url)
    return url


def _seconds_between(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, math.ceil((end - start).total_seconds()))


def _iso(moment: datetime | str | None) -> str | None:
    if moment is None or isinstance(moment, str):
        return moment
    return moment.isoformat()

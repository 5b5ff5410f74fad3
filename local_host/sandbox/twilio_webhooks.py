"""Twilio's webhook requests as Twilio sends them, for the telephony sandbox.

Each request is signed with TWILIO_AUTH_TOKEN exactly as Twilio signs (X-Twilio-Signature
over the URL as requested, without its fragment, and the form; a GET over the URL with the
parameters in its query), carries Twilio's User-Agent and I-Twilio-Idempotency-Token, and is
recorded on its call with what came back. A call's status callbacks can be delivered the ways
tests need to provoke: twice each, held back and then shuffled and/or all at once, or dropped
(recorded, never sent).

Failed requests are retried as Twilio retries them, by the URL's connection overrides
(shared/telephony/webhook_overrides.py): without a fragment, once, and only after a connect or read
time-out; with one, as many times (rc), after the failures (rp) and within the time-outs (ct,
rt) and the total time (tt) it names, the first attempt included. Each attempt
is recorded with its number (`attempt`), the same idempotency token and what went wrong
(`failure`: ct, rt, 4xx or 5xx). A refused connection counts as a failed connect (ct), one
dropped before an answer as a read that timed out (rt).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import requests
from urllib3.exceptions import NewConnectionError

from shared.telephony.signature import SIGNATURE_HEADER, sign, signed_url
from shared.telephony.webhook_overrides import ConnectionOverrides, overrides_of

logger = logging.getLogger("local_host.sandbox.telephony")

USER_AGENT = "TwilioProxy/1.1"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
MAX_CONCURRENT_CALLBACKS = 16


@dataclass
class Webhook:
    """One request the sandbox sent (one attempt of one delivery), and what came back."""

    kind: str  # voice | status | action
    url: str  # as Twilio was given it, connection overrides and all
    method: str
    params: dict[str, str]
    token: str
    delivery: int = 1  # 2: the redelivery that duplicate_callbacks adds
    attempt: int = 1  # 2, 3…: Twilio's retries of this delivery
    status_code: int | None = None
    error: str | None = None
    failure: str | None = None  # ct | rt | 4xx | 5xx, when the attempt failed
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
            "attempt": self.attempt,
            "status_code": self.status_code,
            "error": self.error,
            "failure": self.failure,
            "sent_at": self.sent_at,
            "dropped": self.dropped,
        }


def idempotency_token() -> str:
    return f"{uuid.uuid4().hex}-{uuid.uuid4().hex[:8]}"


class WebhookSender:
    """Sends signed webhooks, retrying as Twilio would, and records each attempt on its
    call's list, under the calls' lock.

    `time_scale` shrinks every time-out and budget of the overrides alike (tests use it to see
    a 15 s read time-out in 150 ms); 1 is Twilio's own timing.
    """

    def __init__(
        self,
        auth_token: str,
        lock: threading.RLock,
        clock: Callable[[], datetime],
        time_scale: float = 1.0,
    ) -> None:
        if not 0 < time_scale <= 1:
            raise ValueError("time_scale must be above 0 and at most 1")
        self.auth_token = auth_token
        self.lock = lock
        self.clock = clock
        self.time_scale = time_scale

    def send(
        self, sent: list[Webhook], webhook: Webhook
    ) -> tuple[requests.Response | None, Webhook]:
        """Deliver one webhook, with Twilio's retries; the last answer (None if none came)
        and the last attempt, each attempt recorded on `sent` (the call's webhooks)."""
        overrides = overrides_of(webhook.url)
        budget = overrides.total_time_ms / 1000 * self.time_scale
        started = time.monotonic()
        attempt = webhook
        while True:
            left = budget - (time.monotonic() - started)
            response = self._attempt(sent, attempt, overrides, left)
            failure = attempt.failure
            if failure is None or not overrides.retries(failure):
                return response, attempt
            if attempt.attempt > overrides.retry_count or time.monotonic() - started >= budget:
                return response, attempt
            logger.info(
                "Sandbox webhook %s %s failed (%s); retrying it as Twilio would",
                webhook.method,
                webhook.url,
                failure,
            )
            attempt = replace(
                webhook, attempt=attempt.attempt + 1, status_code=None, error=None, failure=None
            )

    def _attempt(
        self, sent: list[Webhook], webhook: Webhook, overrides: ConnectionOverrides, left: float
    ) -> requests.Response | None:
        # What is requested, and signed, is the URL without its fragment.
        url, body = signed_url(webhook.url), None
        logged = url  # never with a GET's parameters
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
            IDEMPOTENCY_HEADER: webhook.token,
        }
        if webhook.method == "GET":
            # Twilio signs a GET over the URL with the parameters in its query, and no form.
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(webhook.params)}"
            headers[SIGNATURE_HEADER] = sign(url, {}, self.auth_token)
        else:
            body = urlencode(webhook.params)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers[SIGNATURE_HEADER] = sign(url, webhook.params, self.auth_token)
        scale = self.time_scale / 1000
        timeout = (
            min(overrides.connect_timeout_ms * scale, left),
            min(overrides.read_timeout_ms * scale, left),
        )
        with self.lock:
            webhook.sent_at = self.clock().isoformat()
            sent.append(webhook)
        try:
            response = requests.request(
                webhook.method, url, data=body, headers=headers, timeout=timeout
            )
        except requests.RequestException as error:
            # A GET's parameters (phone numbers among them) are in its URL, and so in the
            # error's text: the log gets neither.
            detail = type(error).__name__ if webhook.method == "GET" else error
            logger.warning("Sandbox webhook %s %s failed: %s", webhook.method, logged, detail)
            with self.lock:
                webhook.error = type(error).__name__
                webhook.failure = _failure_of(error)
            return None
        with self.lock:
            webhook.status_code = response.status_code
            if response.status_code >= 400:
                webhook.failure = "5xx" if response.status_code >= 500 else "4xx"
        if response.status_code >= 400:
            logger.warning(
                "Sandbox webhook %s %s answered %s: %s",
                webhook.method,
                logged,
                response.status_code,
                response.text[:300],
            )
        return response

    def record_dropped(
        self, sent: list[Webhook], kind: str, url: str, method: str, params: dict[str, str]
    ) -> None:
        """A webhook Twilio would have sent and the sandbox loses on purpose."""
        with self.lock:
            sent.append(Webhook(kind, url, method, params, idempotency_token(), dropped=True))


def _failure_of(error: requests.RequestException) -> str | None:
    """Which of Twilio's retry classes a failed request falls in (None: none of them)."""
    if isinstance(error, requests.ConnectTimeout):
        return "ct"
    if isinstance(error, requests.ReadTimeout):
        return "rt"
    if isinstance(error, requests.ConnectionError):
        cause = error.args[0] if error.args else None
        if isinstance(getattr(cause, "reason", cause), NewConnectionError):
            return "ct"  # refused or unreachable: no connection was made
        return "rt"  # the connection dropped before an answer came
    return None  # a malformed URL, say: no retry mends it


@dataclass(frozen=True)
class CallbackDelivery:
    """How a leg's status callbacks reach the app (the call's options say which)."""

    drop: bool = False
    hold: bool = False  # until `finish`: the call has ended, or its action was answered
    duplicate: bool = False
    shuffle: bool = False
    concurrent: bool = False
    seed: int | None = None


class StatusCallbacks:
    """The status callbacks of one dialled leg, delivered as `CallbackDelivery` says."""

    def __init__(
        self, sender: WebhookSender, sent: list[Webhook], delivery: CallbackDelivery
    ) -> None:
        self.sender, self.sent, self.delivery = sender, sent, delivery
        self.held: list[Webhook] = []

    def emit(self, webhook: Webhook) -> None:
        if self.delivery.drop:
            self.sender.record_dropped(
                self.sent, "status", webhook.url, webhook.method, webhook.params
            )
        elif self.delivery.hold:
            self.held.append(webhook)
        else:
            for copy in self._copies(webhook):
                self.sender.send(self.sent, copy)

    def finish(self) -> None:
        """Deliver what was held back, shuffled and/or all at once (once; later calls no-op)."""
        deliveries = [copy for webhook in self.held for copy in self._copies(webhook)]
        self.held = []
        if self.delivery.shuffle and len(deliveries) > 1:
            order = list(deliveries)
            random.Random(self.delivery.seed).shuffle(deliveries)
            if deliveries == order:
                deliveries.reverse()  # a shuffle that changes nothing would test nothing
        if self.delivery.concurrent and deliveries:
            workers = min(len(deliveries), MAX_CONCURRENT_CALLBACKS)
            with ThreadPoolExecutor(workers, thread_name_prefix="sandbox-callback") as pool:
                list(pool.map(lambda webhook: self.sender.send(self.sent, webhook), deliveries))
        else:
            for webhook in deliveries:
                self.sender.send(self.sent, webhook)

    def _copies(self, webhook: Webhook) -> list[Webhook]:
        if not self.delivery.duplicate:
            return [webhook]
        # A redelivery: same parameters, same idempotency token, as Twilio's retries.
        again = Webhook(
            webhook.kind, webhook.url, webhook.method, webhook.params, webhook.token, delivery=2
        )
        return [webhook, again]

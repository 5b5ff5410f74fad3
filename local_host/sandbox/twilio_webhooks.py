"""Twilio's webhook requests as Twilio sends them, for the telephony sandbox.

Each request is signed with TWILIO_AUTH_TOKEN exactly as Twilio signs (X-Twilio-Signature
over the full URL and the form; a GET over the URL with the parameters in its query), carries
Twilio's User-Agent and I-Twilio-Idempotency-Token, and is recorded on its call with what came
back. A call's status callbacks can be delivered the ways tests need to provoke: twice each,
held back and then shuffled and/or all at once, or dropped (recorded, never sent).
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import requests

from shared.twilio_signature import SIGNATURE_HEADER, sign

logger = logging.getLogger("local_host.sandbox.telephony")

USER_AGENT = "TwilioProxy/1.1"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
# Twilio gives a webhook 15 seconds to answer.
WEBHOOK_TIMEOUT_SECONDS = 15
MAX_CONCURRENT_CALLBACKS = 16


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


def idempotency_token() -> str:
    return f"{uuid.uuid4().hex}-{uuid.uuid4().hex[:8]}"


class WebhookSender:
    """Sends signed webhooks and records each on its call's list, under the calls' lock."""

    def __init__(
        self, auth_token: str, lock: threading.RLock, clock: Callable[[], datetime]
    ) -> None:
        self.auth_token = auth_token
        self.lock = lock
        self.clock = clock

    def send(self, sent: list[Webhook], webhook: Webhook) -> requests.Response | None:
        """Send one signed webhook and record the outcome on `sent` (the call's webhooks)."""
        url, body = webhook.url, None
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
        with self.lock:
            webhook.sent_at = self.clock().isoformat()
            sent.append(webhook)
        try:
            response = requests.request(
                webhook.method, url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS
            )
        except requests.RequestException as error:
            logger.warning("Sandbox webhook %s %s failed: %s", webhook.method, url, error)
            with self.lock:
                webhook.error = type(error).__name__
            return None
        with self.lock:
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
        self, sent: list[Webhook], kind: str, url: str, method: str, params: dict[str, str]
    ) -> None:
        """A webhook Twilio would have sent and the sandbox loses on purpose."""
        with self.lock:
            sent.append(Webhook(kind, url, method, params, idempotency_token(), dropped=True))


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

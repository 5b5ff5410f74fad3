"""Traffic as Twilio and Stripe send it, and the totals it must end with, worked out here.

Shared by the concurrency test and the storage-outage tests: a seeded plan of users, calls,
payments, refunds and disputes; senders that deliver each webhook as its sender does (Twilio
retries only as the URL's connection overrides say, and gives up; Stripe redelivers until it
gets a 2xx); a fake of the Stripe API endpoints the app reads (a PaymentIntent, a charge's
refunds) that can be told to fail; a pool of worker threads that runs each user's calls in
order, interleaved with everyone else's work; and the checks of the books afterwards.

The expected figures are computed from the rate deck's CSV and the packs with code of this
module's own, not with the app's Rate or credit_taken_back: a bug shared by both would pass.
"""

from __future__ import annotations

import csv
import json
import queue
import random
import secrets
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from local_host.sandbox.stripe_signing import build_event, deliver, stripe_id
from shared.calling.rating import SAMPLE_DECK_PATH
from shared.money.ledger import EntryKind, Ledger
from shared.storage.keys import (
    ACCOUNTS_TABLE,
    BALANCE_KEY,
    HOLD_KEY,
    JOURNAL_PREFIX,
    LEDGER_PREFIX,
    OPEN_CALLS_PARTITION,
    OPEN_CALLS_TABLE,
    call_key,
)
from shared.storage.table_store import TableStore
from shared.telephony.signature import sign
from shared.telephony.webhook_overrides import overrides_of, without_fragment
from shared.telephony.webhook_paths import voice_url
from tests.conftest import Client

AUTH_TOKEN = "sandbox-twilio-auth-token"
ACCOUNT_SID = "AC00000000000000000000000000000000"
APP_SID = "AP00000000000000000000000000000000"
CALLER_ID = "+15005550006"
WEBHOOK_SECRET = "whsec_sandbox"
# A pack whose credit is not a whole number of micros per cent (12.00 buys 13.00), so that
# the floor in a partial refund's share is exercised, beside the sample's round packs.
CREDIT_PACKS = "5,10,25,12:13"
PACKS = {"5": (500, 5_000_000), "10": (1000, 10_000_000), "25": (2500, 25_000_000)}
PACKS["12"] = (1200, 13_000_000)
# What every user starts with (an ADJUSTMENT posted to the ledger directly): enough that no
# call is ever refused or cut short for credit, whatever order refunds and calls land in, so
# each call's charge is its duration's price and the totals are exact.
OPENING_MICROS = 200_000_000
# Valid numbers of the sample deck's prefixes, with different increments and a connect fee.
DESTINATIONS = (
    "+14155550100",  # 1: 0.014/min, 6/6
    "+442079460018",  # 44: 0.015/min, 60/1
    "+447400123456",  # 447: 0.035/min, 60/1
    "+33142685300",  # 33: 0.018/min, 1/1
    "+4930123456",  # 49: 0.018/min, 60/1
    "+18762345678",  # 1876: 0.24/min, 60/60, 0.01 connect fee
    "+34912345678",  # 34: 0.02/min, 1/1
    "+390612345678",  # 39: 0.022/min, 1/1
)
# Host settings these tests need whatever else a deployment sets: any call-velocity limit
# (another change adds some) set far above this traffic.
HOST_SETTINGS = {
    "CREDIT_PACKS": CREDIT_PACKS,
    "CALLS_PER_HOUR": "10000",
    "DESTINATIONS_PER_DAY": "10000",
    "SPEND_PER_DAY": "100000",
}


# --- the expected figures, computed independently ----------------------------------------


@dataclass(frozen=True)
class Price:
    per_minute_micros: int
    first: int
    next: int
    connect_fee_micros: int


def deck_prices() -> dict[str, Price]:
    """The sample deck's prices by prefix, read from its CSV."""
    prices: dict[str, Price] = {}
    lines = SAMPLE_DECK_PATH.read_text().splitlines()
    rows = csv.DictReader(line for line in lines if line.strip() and not line.startswith("#"))
    for row in rows:
        first, nxt = (int(part) for part in row["increments"].split("/"))
        fee = Decimal(row.get("connect_fee") or "0")
        prices[row["prefix"]] = Price(
            int(Decimal(row["per_minute"]) * 1_000_000), first, nxt, int(fee * 1_000_000)
        )
    return prices


def price_of(number: str, prices: dict[str, Price]) -> Price:
    digits = number.removeprefix("+")
    prefix = max((p for p in prices if digits.startswith(p)), key=len)
    return prices[prefix]


def call_cost(price: Price, seconds: int) -> int:
    """First block, then every started increment; per-minute price rounded up to a micro."""
    if seconds <= 0:
        return 0
    blocks = max(0, -(-(seconds - price.first) // price.next))
    billed = price.first + blocks * price.next
    return price.connect_fee_micros + -(-(billed * price.per_minute_micros) // 60)


def share_taken(credit: int, paid: int, returned: int) -> int:
    return credit * min(returned, paid) // paid


# --- the plan ------------------------------------------------------------------------------


@dataclass
class User:
    client: Client
    user_id: str
    identity: str


@dataclass
class PlannedCall:
    to: str
    answered: bool
    duration: int  # CallDuration of the leg; 0 when unanswered
    final: str  # completed, busy or no-answer
    sid: str = ""  # the parent CallSid of the attempt that was dialled
    child: str = ""


@dataclass
class Payment:
    user: int
    pack: str
    pi: str
    charge: str
    session: str
    refunds: list[tuple[str, int]] = field(default_factory=list)  # (re_…, minor)
    dispute: str = ""  # "", "won" or "lost"
    early: bool = False  # one of its refunds is delivered before its completion

    @property
    def paid(self) -> int:
        return PACKS[self.pack][0]

    @property
    def credit(self) -> int:
        return PACKS[self.pack][1]

    def kept_micros(self) -> int:
        returned = sum(amount for _, amount in self.refunds)
        if self.dispute == "lost":
            returned += self.paid
        return self.credit - share_taken(self.credit, self.paid, returned)


@dataclass
class Plan:
    calls: list[list[PlannedCall]]  # by user, in the order they are made
    payments: list[Payment]

    def expected_balance(self, user: int, prices: dict[str, Price]) -> int:
        spent = sum(call_cost(price_of(c.to, prices), c.duration) for c in self.calls[user])
        kept = sum(p.kept_micros() for p in self.payments if p.user == user)
        return OPENING_MICROS + kept - spent


def make_plan(
    rng: random.Random,
    users: int,
    calls_per_user: int,
    payments: int,
    refunds: int,
    disputes: int,
    early: int | None = None,
) -> Plan:
    """Calls to distinct destinations per user; payments spread over the users round-robin;
    `disputes` of them disputed, `refunds` refunds over others (`early` of those payments,
    a quarter by default, have a refund delivered before their completion)."""
    calls: list[list[PlannedCall]] = []
    for _ in range(users):
        mine = []
        for to in rng.sample(DESTINATIONS, calls_per_user):
            if rng.random() < 0.2:
                mine.append(PlannedCall(to, False, 0, rng.choice(["busy", "no-answer"])))
            else:
                # Now and then an answered leg of 0 s (hung up as it connected): free.
                duration = 0 if rng.random() < 0.05 else rng.randint(1, 900)
                mine.append(PlannedCall(to, True, duration, "completed"))
        calls.append(mine)
    book = [
        Payment(
            i % users,
            rng.choice(sorted(PACKS)),
            stripe_id("pi_"),
            stripe_id("ch_"),
            stripe_id("cs_test_", 58),
        )
        for i in range(payments)
    ]
    shuffled = rng.sample(book, len(book))
    disputed, refundable = shuffled[:disputes], shuffled[disputes:]
    for n, payment in enumerate(disputed):
        payment.dispute = ("lost", "won")[n % 2]  # both ends, whatever the seed
    left = refunds
    for payment in refundable:
        if left <= 0:
            break
        # One full refund, one partial, or two partials (whatever the rest may be).
        parts = min(left, rng.choice([1, 1, 2]))
        if parts == 1 and rng.random() < 0.4:
            payment.refunds.append((stripe_id("re_"), payment.paid))
        else:
            first = rng.randint(1, payment.paid - 1)
            payment.refunds.append((stripe_id("re_"), first))
            if parts == 2:
                payment.refunds.append((stripe_id("re_"), rng.randint(1, payment.paid - first)))
        left -= parts
    with_refunds = [p for p in book if p.refunds]
    early = max(1, refunds // 4) if early is None else early
    for payment in rng.sample(with_refunds, min(len(with_refunds), early)):
        payment.early = True
    return Plan(calls, book)


# --- Stripe's side -------------------------------------------------------------------------


def metadata(user_id: str, pack: str) -> dict[str, str]:
    return {"user_id": user_id, "pack": pack, "credit_micros": str(PACKS[pack][1])}


def completion_event(payment: Payment, user_id: str) -> dict[str, Any]:
    session = {
        "id": payment.session,
        "object": "checkout.session",
        "amount_subtotal": payment.paid,
        "amount_total": payment.paid,
        "client_reference_id": user_id,
        "currency": "usd",
        "livemode": False,
        "metadata": metadata(user_id, payment.pack),
        "mode": "payment",
        "payment_intent": payment.pi,
        "payment_status": "paid",
        "status": "complete",
    }
    return build_event("checkout.session.completed", session)


def refund_object(payment: Payment, refund_id: str, amount: int) -> dict[str, Any]:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "currency": "usd",
        "status": "succeeded",
        "payment_intent": payment.pi,
        "charge": payment.charge,
    }


def refund_events(payment: Payment, rng: random.Random) -> list[dict[str, Any]]:
    """One event per refund, of a type Stripe sends for it: refund.created or .updated, or
    charge.refunded, listing the charge's refunds so far or (as API versions since 2022-11-15
    do) not listing them, so that the app asks the API."""
    events = []
    for n, (refund_id, amount) in enumerate(payment.refunds):
        kind = rng.choice(["refund.created", "refund.updated", "listed", "unlisted"])
        if kind.startswith("refund."):
            events.append(build_event(kind, refund_object(payment, refund_id, amount)))
            continue
        charge: dict[str, Any] = {
            "id": payment.charge,
            "object": "charge",
            "amount": payment.paid,
            "amount_refunded": sum(a for _, a in payment.refunds[: n + 1]),
            "currency": "usd",
            "payment_intent": payment.pi,
            "refunded": n + 1 == len(payment.refunds),
        }
        if kind == "listed":
            so_far = [refund_object(payment, r, a) for r, a in payment.refunds[: n + 1]]
            charge["refunds"] = {"object": "list", "data": so_far, "has_more": False}
        events.append(build_event("charge.refunded", charge))
    return events


def dispute_events(payment: Payment) -> list[dict[str, Any]]:
    dispute = {
        "id": "du_" + payment.pi.removeprefix("pi_"),
        "object": "dispute",
        "amount": payment.paid,
        "currency": "usd",
        "payment_intent": payment.pi,
        "charge": payment.charge,
    }
    opened = build_event("charge.dispute.created", {**dispute, "status": "needs_response"})
    closed = build_event("charge.dispute.closed", {**dispute, "status": payment.dispute})
    return [opened, closed]


class StripeApiFake:
    """The two Stripe API reads the app makes: GET /v1/payment_intents/{id} (with
    latest_charge expanded) and GET /v1/refunds?charge=…, served from the plan on loopback.

    `fail[pi] = n` makes the next n requests about that PaymentIntent (or its charge) fail,
    in turn with a 500 in Stripe's error JSON, no answer at all until the client gives up (a
    time-out), and a connection closed unanswered."""

    def __init__(self) -> None:
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, list[dict[str, Any]]] = {}  # by charge id
        self.fail: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.requests = 0
        self._charge_pi: dict[str, str] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._answer(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # quiet: failures show in the assertions

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128  # not socketserver's 5: the app connects from many threads

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._closing.set()  # what still stalls answers nothing and ends
        self._server.shutdown()
        self._server.server_close()

    def know(self, payment: Payment, user_id: str) -> None:
        charge = {
            "id": payment.charge,
            "object": "charge",
            "amount": payment.paid,
            "currency": "usd",
            "payment_intent": payment.pi,
            "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242"}},
        }
        self.intents[payment.pi] = {
            "id": payment.pi,
            "object": "payment_intent",
            "amount": payment.paid,
            "amount_received": payment.paid,
            "currency": "usd",
            "status": "succeeded",
            "metadata": metadata(user_id, payment.pack),
            "latest_charge": charge,
        }
        self.refunds[payment.charge] = [refund_object(payment, r, a) for r, a in payment.refunds]
        self._charge_pi[payment.charge] = payment.pi

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        parts = url.path.strip("/").split("/")
        with self._lock:
            self.requests += 1
            about = ""
            if parts[:2] == ["v1", "payment_intents"] and len(parts) == 3:
                about = parts[2]
            elif parts == ["v1", "refunds"]:
                about = self._charge_pi.get(parse_qs(url.query).get("charge", [""])[0], "")
            failing = self.fail.get(about, 0)
            if failing:
                self.fail[about] = failing - 1
                self.failed[about] = self.failed.get(about, 0) + 1
        if failing:
            if failing % 3 == 1:
                error = {"error": {"type": "api_error", "message": "Something went wrong."}}
                self._json(handler, 500, error)
            elif failing % 3 == 0:
                # Stalled: nothing is answered until the client's time-out closes the
                # connection (at most a minute, or until the fake is closed).
                self._closing.wait(60)
                handler.close_connection = True
            else:
                handler.close_connection = True  # the connection drops: no answer at all
            return
        if about and parts[1] == "payment_intents" and about in self.intents:
            self._json(handler, 200, self.intents[about])
        elif parts == ["v1", "refunds"]:
            charge = parse_qs(url.query).get("charge", [""])[0]
            listed = self.refunds.get(charge, [])
            self._json(handler, 200, {"object": "list", "data": listed, "has_more": False})
        else:
            missing = {"error": {"type": "invalid_request_error", "code": "resource_missing"}}
            self._json(handler, 404, missing)

    @staticmethod
    def _json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Request-Id", "req_" + uuid.uuid4().hex[:14])
        handler.end_headers()
        handler.wfile.write(data)


# --- the senders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """A webhook answer other than 2xx, or no answer, as a sender saw it."""

    url: str
    status: int | None  # None: no answer (connection refused or reset, or a time-out)
    content_type: str
    retry_after: str | None
    seconds: float
    error: str = ""  # the exception, when there was no answer


class Senders:
    """Twilio's and Stripe's delivery of webhooks to one host, and what they saw fail."""

    def __init__(self, base_url: str, stripe_patience: float = 90.0) -> None:
        self.base_url = base_url
        self.stripe_patience = stripe_patience
        self.failures: list[Failure] = []
        self.lost: list[str] = []  # Twilio deliveries given up after their retries
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def http(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "http", None)
        if session is None:
            session = self._local.http = requests.Session()
        return session

    def _post(self, url: str, **kwargs: Any) -> requests.Response | None:
        started = time.monotonic()
        try:
            response = self.http.post(url, **kwargs)
        except requests.RequestException as error:
            self._failed(Failure(url, None, "", None, time.monotonic() - started, repr(error)))
            return None
        if not 200 <= response.status_code < 300:
            self._failed(
                Failure(
                    url,
                    response.status_code,
                    response.headers.get("Content-Type", ""),
                    response.headers.get("Retry-After"),
                    time.monotonic() - started,
                )
            )
        return response

    def _failed(self, failure: Failure) -> None:
        with self._lock:
            self.failures.append(failure)

    def twilio(self, url: str, form: dict[str, str], token: str) -> requests.Response | None:
        """Delivers as Twilio does to a URL carrying connection overrides: the request goes to
        the URL without its fragment, signed for it; a failure the fragment's rp names is tried
        again, at most rc times, within tt; then the delivery is lost (None)."""
        overrides = overrides_of(url)
        target = without_fragment(url)
        headers = {
            "X-Twilio-Signature": sign(target, form, AUTH_TOKEN),
            "I-Twilio-Idempotency-Token": token,
        }
        timeout = (overrides.connect_timeout_ms / 1000, overrides.read_timeout_ms / 1000)
        budget_ends = time.monotonic() + overrides.total_time_ms / 1000
        for attempt in range(overrides.retry_count + 1):
            response = self._post(target, data=form, headers=headers, timeout=timeout)
            if response is not None and 200 <= response.status_code < 300:
                return response
            failure = "ct" if response is None else f"{response.status_code // 100}xx"
            if not overrides.retries(failure) and not (
                response is None and overrides.retries("rt")
            ):
                break
            if time.monotonic() > budget_ends:
                break
            time.sleep(0.05 * (attempt + 1))  # Twilio's short pause between tries
        with self._lock:
            self.lost.append(target)
        return None

    def stripe(self, event: dict[str, Any]) -> requests.Response:
        """Delivers as Stripe does: again after any non-2xx or no answer, backing off, until a
        2xx (Stripe keeps trying for days; the test's patience is bounded)."""
        gives_up = time.monotonic() + self.stripe_patience
        pause = 0.05
        while True:
            try:
                started = time.monotonic()
                response = deliver(self.base_url, WEBHOOK_SECRET, event, http=self.http)
            except requests.RequestException as error:
                seconds = time.monotonic() - started
                self._failed(Failure("stripe", None, "", None, seconds, repr(error)))
            else:
                if 200 <= response.status_code < 300:
                    return response
                self._failed(
                    Failure(
                        "stripe",
                        response.status_code,
                        response.headers.get("Content-Type", ""),
                        response.headers.get("Retry-After"),
                        time.monotonic() - started,
                    )
                )
            if time.monotonic() > gives_up:
                raise AssertionError(f"Stripe gave up on {event['type']} {event['id']}")
            time.sleep(pause)  # Stripe's back-off between redeliveries, much shortened
            pause = min(pause * 2, 0.5)


# --- Twilio's side of a call ---------------------------------------------------------------


def voice_form(identity: str, to: str, sid: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "ApplicationSid": APP_SID,
        "CallSid": sid,
        "CallStatus": "ringing",
        "Called": "",
        "Caller": f"client:{identity}",
        "Direction": "inbound",
        "From": f"client:{identity}",
        "To": to,
    }


def report_deliveries(
    call: PlannedCall, dial: ET.Element, rng: random.Random
) -> list[tuple[str, dict[str, str], str]]:
    """The status callbacks and the <Dial action> of one call, to the URLs the TwiML named
    (fragment and all), each 1-3 times, shuffled: (url, form, idempotency token)."""
    number = dial.find("Number")
    assert number is not None
    status_url, action_url = number.attrib["statusCallback"], dial.attrib["action"]
    now = format_datetime(datetime.now(UTC))
    legs = [("initiated", 0), ("ringing", 1)]
    legs += [("in-progress", 2), ("completed", 3)] if call.answered else [(call.final, 2)]
    reports = []
    for status, sequence in legs:
        form = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": call.child,
            "CallStatus": status,
            "Called": call.to,
            "Direction": "outbound-dial",
            "From": CALLER_ID,
            "ParentCallSid": call.sid,
            "SequenceNumber": str(sequence),
            "Timestamp": now,
            "To": call.to,
            "CallbackSource": "call-progress-events",
        }
        if status in ("completed", "busy", "no-answer"):
            form["CallDuration"] = str(call.duration)
        reports.append((status_url, form, f"{call.child}-{sequence}"))
    action = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call.sid,
        "CallStatus": "completed",
        "DialCallStatus": call.final,
        "DialCallSid": call.child,
        "DialCallDuration": str(call.duration),
        "Direction": "inbound",
        "From": "client:someone",
    }
    reports.append((action_url, action, f"{call.sid}-action"))
    copies = [r for r in reports for _ in range(rng.randint(1, 3))]
    rng.shuffle(copies)
    return copies


def call_sid() -> str:
    return "CA" + uuid.uuid4().hex


# --- running it ----------------------------------------------------------------------------


Step = Callable[[], list["Step"]]


class Workers:
    """Runs steps from a shared queue on N threads; a step returns the steps that follow it
    (queued at the back, so one user's next delivery waits its turn behind everyone else's)."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.errors: list[BaseException] = []
        self.done = 0
        self._queue: queue.Queue[Step | None] = queue.Queue()
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()

    def run(self, steps: list[Step]) -> None:
        self._pending = len(steps)
        for step in steps:
            self._queue.put(step)
        pool = [threading.Thread(target=self._work, daemon=True) for _ in range(self.threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        if self.errors:
            raise self.errors[0]

    def _work(self) -> None:
        while True:
            step = self._queue.get()
            if step is None:
                return
            try:
                following = step()
            except BaseException as error:  # noqa: BLE001 - re-raised by run()
                following = []
                with self._lock:
                    self.errors.append(error)
            with self._lock:
                self.done += 1
                self._pending += len(following) - 1
                finished = self._pending == 0
            for nxt in following:
                self._queue.put(nxt)
            if finished:
                for _ in range(self.threads):
                    self._queue.put(None)


def sequence(actions: list[Callable[[], None]], then: Callable[[], list[Step]]) -> Step:
    """One step per action, in order; `then` gives the steps after the last."""

    def step() -> list[Step]:
        actions[0]()
        if len(actions) == 1:
            return then()
        return [sequence(actions[1:], then)]

    return step


@dataclass
class Traffic:
    """The plan, played against one host by the senders, from `threads` threads."""

    plan: Plan
    users: list[User]
    senders: Senders
    rng: random.Random
    # Called when a voice webhook is lost or refused because an earlier call still holds the
    # account: Twilio's side of a lost call (None: such a refusal fails the test).
    recover: Callable[[int, PlannedCall, str], None] | None = None
    # Called when a call's last report was sent: Twilio now knows how it ended.
    ended: Callable[[int, PlannedCall], None] | None = None
    # Whether a refusal of the voice webhook other than "a call in progress" fails the test
    # (not when the store may have lost rows: then the app may refuse for what it forgot).
    strict: bool = True
    lost_attempts: dict[int, list[str]] = field(default_factory=dict)
    # Calls given up on (not strict only): refused however often the lost call was recovered.
    abandoned: list[tuple[int, PlannedCall]] = field(default_factory=list)
    placed: list[tuple[int, PlannedCall]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seed: int = 0

    def steps(self) -> list[Step]:
        self._seed = self.rng.getrandbits(64)
        steps: list[Step] = []
        for user in range(len(self.users)):
            steps.append(self._call_step(user, 0))
        for payment in self.plan.payments:
            steps += self._payment_steps(payment)
        self.rng.shuffle(steps)
        return steps

    def _copies(
        self, action: Callable[[], None], rng: random.Random | None = None
    ) -> list[Callable[[], None]]:
        return [action] * (rng or self.rng).randint(1, 3)

    def _rng(self, *about: object) -> random.Random:
        """A generator of its own for work done on worker threads, seeded from the plan's
        (the shared one would be drawn from in whatever order the threads run)."""
        return random.Random(":".join(map(str, (self._seed, *about))))

    def _payment_steps(self, payment: Payment) -> list[Step]:
        user_id = self.users[payment.user].user_id
        completion = completion_event(payment, user_id)
        refunds = refund_events(payment, self.rng)

        def send(event: dict[str, Any]) -> Callable[[], None]:
            return lambda: self._stripe(event)

        if payment.early:
            # The first refund before the completion: in order, each copy in turn.
            chain = self._copies(send(refunds[0])) + self._copies(send(completion))
            rest = [send(event) for event in refunds[1:]]
            after = [sequence([a], lambda: []) for r in rest for a in self._copies(r)]
            return [sequence(chain, lambda: after)]
        copies = [send(completion)] * self.rng.randint(1, 3)
        copies += [c for event in refunds for c in self._copies(send(event))]
        return [sequence([c], lambda: []) for c in copies]

    def _stripe(self, event: dict[str, Any]) -> None:
        response = self.senders.stripe(event)
        outcome = response.json()["outcome"]
        assert outcome in ("applied", "already_applied", "recorded"), (event["type"], outcome)

    def _disputes_of(self, user: int) -> list[Step]:
        """A user's disputes, each opened then closed, once the user's calls are over (an
        open dispute pauses calls, which would make the calls' outcome a race)."""
        steps = []
        for payment in self.plan.payments:
            if payment.user == user and payment.dispute:
                opened, closed = dispute_events(payment)
                rng = self._rng(payment.pi)
                chain = self._copies(partial(self._stripe, opened), rng)
                chain += self._copies(partial(self._stripe, closed), rng)
                steps.append(sequence(chain, lambda: []))
        return steps

    def _call_step(self, user: int, n: int) -> Step:
        calls = self.plan.calls[user]
        if n == len(calls):
            return sequence([lambda: None], lambda: self._disputes_of(user))
        call = calls[n]

        def dial() -> list[Step]:
            dialled = self._dial(user, call)
            if dialled is None:
                with self._lock:
                    self.abandoned.append((user, call))
                return [self._call_step(user, n + 1)]
            deliveries = report_deliveries(call, dialled, self._rng(user, n, "reports"))
            actions: list[Callable[[], None]] = [
                partial(self._report, url, form, token) for url, form, token in deliveries
            ]
            return [sequence(actions, lambda: self._ended(user, n, call))]

        return dial

    def _ended(self, user: int, n: int, call: PlannedCall) -> list[Step]:
        if self.ended is not None:
            self.ended(user, call)
        with self._lock:
            self.placed.append((user, call))
        return [self._call_step(user, n + 1)]

    def _report(self, url: str, form: dict[str, str], token: str) -> None:
        response = self.senders.twilio(url, form, token)
        if response is not None:
            assert response.headers["Content-Type"].startswith("text/xml"), response.text

    def _dial(self, user: int, call: PlannedCall) -> ET.Element | None:
        """The voice webhook, 1-3 times, until one is answered with a <Dial> (a call lost or
        refused for a lost one is recovered first: see `recover`)."""
        identity = self.users[user].identity
        url = voice_url(self.senders.base_url)
        rng = self._rng(user, call.to, "voice")
        for _ in range(20 if self.strict else 4):
            sid = call_sid()
            form = voice_form(identity, call.to, sid)
            dials = []
            for _copy in range(rng.randint(1, 3)):
                response = self.senders.twilio(url, form, f"{sid}-voice")
                if response is not None:
                    assert response.headers["Content-Type"].startswith("text/xml")
                    dials.append(ET.fromstring(response.content))
            dial = next((d.find("Dial") for d in dials if d.find("Dial") is not None), None)
            if dial is not None and all(d.find("Dial") is not None for d in dials):
                call.sid, call.child = sid, call_sid()
                return dial
            refused = [ET.tostring(d, encoding="unicode") for d in dials if d.find("Dial") is None]
            if self.recover is None:
                raise AssertionError(f"voice refused or lost: {refused}")
            if self.strict and any("call in progress" not in text for text in refused):
                raise AssertionError(f"voice refused: {refused}")
            with self._lock:
                self.lost_attempts.setdefault(user, []).append(sid)
            # Lost (no answer) or refused: Twilio never dialled this attempt; the user dials
            # again once the lost call is reconciled.
            self.recover(user, call, sid)
        if not self.strict:
            return None
        raise AssertionError(f"a call of user {user} could not be placed")


# --- the books afterwards ------------------------------------------------------------------

FINAL = frozenset(["completed", "busy", "no-answer", "failed", "canceled"])


@dataclass(frozen=True)
class Books:
    balance: int
    entries_sum: int
    kinds: dict[str, int]
    entry_ids: list[str]
    journal_ids: list[str]
    hold: bool
    calls_final: dict[str, bool]
    call_charges: dict[str, int]  # by parent CallSid, from the call rows
    charge_entries: dict[str, int]  # by parent CallSid, from the ledger


def read_books(store: TableStore, user_id: str, sids: list[str]) -> Books:
    accounts = store.table(ACCOUNTS_TABLE)
    entries = Ledger(accounts).all_entries(user_id)
    kinds: dict[str, int] = {}
    for entry in entries:
        kinds[entry.kind.value] = kinds.get(entry.kind.value, 0) + 1
    journal = [row.text("entry_id") for row in accounts.rows(user_id, JOURNAL_PREFIX)]
    balance = accounts.get(user_id, BALANCE_KEY)
    finals, charges = {}, {}
    for sid in sids:
        row = accounts.get(user_id, call_key(sid))
        finals[sid] = row is not None and row.text("status") in FINAL
        charges[sid] = row.integer("charge_micros") if row is not None else -1
    charge_entries = {
        str(e.details.get("call_sid")): -e.amount_micros
        for e in entries
        if e.kind is EntryKind.CALL_CHARGE
    }
    return Books(
        balance=balance.integer("micros") if balance else 0,
        entries_sum=sum(e.amount_micros for e in entries),
        kinds=kinds,
        entry_ids=[
            row.key.removeprefix(LEDGER_PREFIX) for row in accounts.rows(user_id, LEDGER_PREFIX)
        ],
        journal_ids=journal,
        hold=accounts.get(user_id, HOLD_KEY) is not None,
        calls_final=finals,
        call_charges=charges,
        charge_entries=charge_entries,
    )


def open_calls(store: TableStore, users: list[User]) -> list[str]:
    """The open-calls index rows of these users (the index is one partition for everyone)."""
    ours = tuple(f"{user.user_id}:" for user in users)
    rows = store.table(OPEN_CALLS_TABLE).rows(OPEN_CALLS_PARTITION)
    return [row.key for row in rows if row.key.startswith(ours)]


def sign_up(base_url: str, fund: Callable[[str, int], None]) -> User:
    client = Client(base_url)
    user_id = client.sign_in(f"{secrets.token_hex(6)}@example.com")["user_id"]
    fund(user_id, OPENING_MICROS)
    identity = client.post("/api/token").json()["identity"]
    return User(client, user_id, identity)


def funder(store: TableStore) -> Callable[[str, int], None]:
    ledger = Ledger(store.table(ACCOUNTS_TABLE))

    def give(user_id: str, micros: int) -> None:
        ledger.post(user_id, f"opening-{uuid.uuid4().hex}", micros, EntryKind.ADJUSTMENT)

    return give


def expected_kinds(plan: Plan, user: int) -> dict[str, int]:
    mine = [p for p in plan.payments if p.user == user]
    kinds = {
        "adjustment": 1,
        "call_charge": len(plan.calls[user]),
        "credit_purchase": len(mine),
        "refund": sum(len(p.refunds) for p in mine),
        "dispute": sum(1 for p in mine if p.dispute),
        "dispute_reversal": sum(1 for p in mine if p.dispute == "won"),
    }
    return {kind: n for kind, n in kinds.items() if n}


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Polls predicate until true (a server coming back), or fails after timeout."""
    ends = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > ends:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


def iter_chunks(items: list[Any], n: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), n):
        yield items[start : start + n]

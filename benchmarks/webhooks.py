"""Request latency through the local host against Azurite, sequential requests:
a balance read, a whole billed call (voice webhook and four status callbacks), and a Stripe
payment webhook. Latency here is mostly Azurite's and the local host's; the figures are for
comparing changes, side by side, on one machine."""

from __future__ import annotations

import json
import secrets
import statistics
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import requests

from local_host.azurite import Azurite, free_port
from local_host.sandbox.stripe_signing import build_event, deliver, stripe_id
from shared.money.ledger import EntryKind, Ledger
from shared.storage.keys import ACCOUNTS_TABLE
from shared.storage.table_store import TableStore
from shared.telephony.signature import sign
from tests.servers import SAMPLE_SETTINGS, LocalHost

SAMPLE = json.loads(SAMPLE_SETTINGS.read_text())["Values"]
AUTH_TOKEN = SAMPLE["TWILIO_AUTH_TOKEN"]
ACCOUNT_SID = SAMPLE["TWILIO_ACCOUNT_SID"]


def twilio_post(http: requests.Session, url: str, params: dict[str, str]) -> requests.Response:
    headers = {"X-Twilio-Signature": sign(url, params, AUTH_TOKEN)}
    return http.post(url, data=urlencode(params), headers={**headers, **_FORM}, timeout=30)


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def one_call(http: requests.Session, base: str, identity: str) -> None:
    """A call placed with a token of `identity` (what /api/token answers), billed 61 s."""
    parent, child = "CA" + secrets.token_hex(16), "CA" + secrets.token_hex(16)
    voice = twilio_post(
        http,
        f"{base}/api/voice",
        {
            "CallSid": parent,
            "AccountSid": ACCOUNT_SID,
            "ApplicationSid": SAMPLE["TWILIO_TWIML_APP_SID"],
            "From": f"client:{identity}",
            "To": "+442079460018",
            "Direction": "inbound",
            "CallStatus": "ringing",
        },
    )
    number = ET.fromstring(voice.text).find("./Dial/Number")
    assert number is not None, voice.text
    callback = number.attrib["statusCallback"]
    for sequence, status in enumerate(("initiated", "ringing", "in-progress", "completed")):
        params = {
            "CallSid": child,
            "ParentCallSid": parent,
            "AccountSid": ACCOUNT_SID,
            "CallStatus": status,
            "SequenceNumber": str(sequence),
        }
        if status == "completed":
            params["CallDuration"] = "61"
        assert twilio_post(http, callback, params).status_code == 200


def payment(http: requests.Session, base: str, user_id: str) -> None:
    session = {
        "id": stripe_id("cs_test_", 58),
        "object": "checkout.session",
        "amount_total": 500,
        "client_reference_id": user_id,
        "currency": "usd",
        "metadata": {"user_id": user_id, "pack": "5", "credit_micros": "5000000"},
        "mode": "payment",
        "payment_intent": stripe_id("pi_"),
        "payment_status": "paid",
        "status": "complete",
    }
    event = build_event("checkout.session.completed", session)
    response = deliver(base, SAMPLE["STRIPE_WEBHOOK_SECRET"], event, http=http)
    assert response.json()["outcome"] == "applied", response.text


def timings(action: Callable[[], Any], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def measure(row: Callable[[str, str, str], None]) -> None:
    azurite = Azurite(free_port()).start()
    host = LocalHost(azurite.connection_string).start()
    try:
        http = requests.Session()
        base = host.base_url
        signed_in = http.post(
            f"{base}/api/auth/dev-login",
            json={"email": f"{secrets.token_hex(6)}@example.com"},
            headers={"Origin": base},
        ).json()
        user_id = signed_in["user_id"]
        identity = http.post(f"{base}/api/token", headers={"Origin": base}).json()["identity"]
        Ledger(TableStore(azurite.connection_string).table(ACCOUNTS_TABLE)).post(
            user_id, "bench-credit", 1_000_000_000, EntryKind.ADJUSTMENT
        )
        cases: list[tuple[str, Callable[[], Any], int]] = [
            ("GET /api/balance", lambda: http.get(f"{base}/api/balance"), 200),
            ("a billed call: voice + 4 callbacks", lambda: one_call(http, base, identity), 50),
            ("Stripe checkout.session.completed", lambda: payment(http, base, user_id), 100),
        ]
        for label, action, runs in cases:
            median, p95 = timings(action, runs)
            row(label, f"{median:.1f} ms", f"p95 {p95:.1f} ms, n={runs}")
    finally:
        host.stop()
        azurite.stop()

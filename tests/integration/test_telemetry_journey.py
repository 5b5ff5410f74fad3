"""Telemetry seen from outside: a local host whose connection string names a loopback
ingestion endpoint, a user's journey through it, and every byte the real azure-monitor
exporter sent, searched for what must never be there.

The journey is a user's whole life here: sign-in, rate previews, a call, a purchase and a
refund, their own number as caller ID, an export, a correction and the account's deletion
(after which nothing erasable of theirs is left in any table). It is a list of steps; each
step does what a user (or Twilio, or Stripe) does and notes what it must not see again
(numbers, emails, secrets) and which requests must show up as telemetry. Add a step to
JOURNEY and the assertions cover it.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_plus

import pytest
import requests

from local_host.azurite import Azurite
from local_host.settings_file import read_values as sample_values
from shared.storage.table_store import TableStore
from shared.telephony.signature import sign
from tests.conftest import Client, StripeWebhooks
from tests.ingestion import Envelope, IngestionEndpoint, of_kind
from tests.integration.test_account_deletion import links_of, rows_of, verify_caller_id
from tests.servers import SAMPLE_SETTINGS, LocalHost

# Export within a fraction of a second instead of every 5 s (spans, logs) and 60 s (metrics):
# the test waits for what it expects, woken by each POST, never for a fixed time.
FAST_EXPORT = {
    "OTEL_BSP_SCHEDULE_DELAY": "100",
    "OTEL_BLRP_SCHEDULE_DELAY": "100",
    "OTEL_METRIC_EXPORT_INTERVAL": "1000",
    # Statsbeat reports the SDK's own health to Microsoft's endpoint, unreachable here.
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
    # Every request, not the distro's default of five traces a second: a missing one is a bug.
    "OTEL_TRACES_SAMPLER": "always_on",
}
QUICK_CALL = {"ring_delay_ms": 20, "answer_delay_ms": 20, "duration_seconds": 7}
POLL_SECONDS = 20.0


@dataclass
class Journey:
    """What the steps share, and what they note for the assertions."""

    client: Client
    stripe: StripeWebhooks
    host: LocalHost
    store: TableStore
    user_id: str = ""
    # The Checkout Session of the purchase, for the refund.
    session_id: str = ""
    # Digits of every number the journey dialled or showed, as national significant numbers
    # (so no written form of them, +44…, 0044…, 020…, can hide one).
    numbers: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)
    # Paths of the requests that must reach telemetry as Request envelopes.
    requests: set[str] = field(default_factory=set)
    # Names of the other operations (timer runs) that must, too.
    operations: set[str] = field(default_factory=set)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        self.requests.add(path.split("?")[0])
        return self.client.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        self.requests.add(path.split("?")[0])
        return self.client.post(path, **kwargs)


Step = Callable[[Journey], None]


def sign_in(journey: Journey) -> None:
    local = f"journey.{secrets.token_hex(6)}+telemetry"
    email = f"{local}@example.com"
    journey.emails |= {email, local, quote(email, safe="")}
    journey.user_id = journey.client.sign_in(email=email)["user_id"]
    journey.requests.add("/api/auth/dev-login")
    token = next(c.value for c in journey.client.http.cookies if c.name == "ownnumber_session")
    assert token
    assert token.count(".") == 2
    journey.secrets |= {token, token.split(".")[2]}
    assert journey.get("/api/me").status_code == 200


def buy_credit(journey: Journey) -> None:
    checkout = journey.post("/api/checkout", json={"pack": "5", "nonce": secrets.token_hex(8)})
    assert checkout.status_code == 200, checkout.text
    session_id = journey.session_id = checkout.json()["session_id"]
    # The Stripe sandbox takes the payment and delivers the signed events to the webhook.
    events = journey.stripe.sandbox("pay", session_id=session_id)["events"]
    journey.requests.add("/api/stripe/webhook")
    completed = next(e for e in events if e["type"] == "checkout.session.completed")
    # Stripe redelivers: the same event, signed again; its signature must not be seen either.
    again = journey.stripe.deliver(completed)
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "already_applied"
    signature = again.request.headers["Stripe-Signature"]
    journey.secrets |= {signature, *re.findall(r"v1=([0-9a-f]+)", signature)}
    assert journey.get(f"/api/checkout/{session_id}").json()["status"] == "paid"


# One number per written form: a leak of any form shows as its own digits.
RATE_PREVIEWS = (
    ("+44 20 7946 0018", "2079460018"),  # international, spaced
    ("0044-20-7946-0019", "2079460019"),  # the 00 prefix, dashes
    ("tel:+1 (415) 555-0100", "4155550100"),  # a tel: link, parentheses
    ("(020) 7946 0021", "2079460021"),  # national, with country=GB
    (
        "\uff0b\uff14\uff14\uff12\uff10\uff17\uff19\uff14\uff16\uff10\uff10\uff12\uff12",
        "2079460022",
    ),
)
# Already percent-encoded, as a page or a proxy may send it.
RAW_QUERY_PREVIEW = ("%2B442079460023", "2079460023")


def preview_rates(journey: Journey) -> None:
    for written, digits in RATE_PREVIEWS:
        journey.numbers.add(digits)
        response = journey.get("/api/rates", params={"to": written, "country": "GB"})
        assert response.status_code == 200, response.text
        assert response.json()["e164"].endswith(digits)
    raw, digits = RAW_QUERY_PREVIEW
    journey.numbers.add(digits)
    response = journey.get(f"/api/rates?to={raw}")
    assert response.status_code == 200, response.text
    assert response.json()["e164"] == "+44" + digits


def call_through_the_sandbox(journey: Journey) -> None:
    to, digits = "+44 20 7946 0777", "2079460777"
    journey.numbers.add(digits)
    # The caller ID the sandbox's Twilio shows the callee.
    journey.numbers.add(sample_values(SAMPLE_SETTINGS)["TWILIO_CALLER_ID"].removeprefix("+1"))
    identity = journey.post("/api/token").json()["identity"]
    started = journey.client.post(
        "/sandbox/telephony/calls", json={"identity": identity, "to": to, **QUICK_CALL}
    )
    assert started.status_code == 201, started.text
    journey.requests |= {"/api/voice", "/api/call-status"}
    sid = started.json()["sid"]
    deadline = time.monotonic() + POLL_SECONDS
    while not journey.client.get(f"/sandbox/telephony/calls/{sid}").json()["finished"]:
        assert time.monotonic() < deadline, "the sandbox call never finished"
        time.sleep(0.02)  # poll the sandbox again
    calls = journey.get("/api/calls").json()["calls"]
    assert any(call.get("duration_seconds") == 7 for call in calls), calls


def twilio_reports_a_call_we_never_placed(journey: Journey) -> None:
    """A status callback Twilio signs (for a call unknown here): its signature, the numbers
    in its form, must not be seen again."""
    settings = sample_values(SAMPLE_SETTINGS)
    call = "CA" + secrets.token_hex(16)
    url = f"{journey.client.base_url}/api/call-status?user={journey.user_id}&call={call}"
    digits = "2079460888"
    journey.numbers.add(digits)
    form = {
        "AccountSid": settings["TWILIO_ACCOUNT_SID"],
        "CallSid": "CA" + secrets.token_hex(16),
        "ParentCallSid": call,
        "CallStatus": "ringing",
        "SequenceNumber": "1",
        "From": settings["TWILIO_CALLER_ID"],
        "To": f"+44{digits}",
        "Called": f"+44{digits}",
        "Direction": "outbound-dial",
    }
    signature = sign(url, form, settings["TWILIO_AUTH_TOKEN"])
    journey.secrets.add(signature)
    journey.requests.add("/api/call-status")
    response = requests.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=30)
    assert response.status_code == 200, response.text


def the_reconciliation_timer_runs(journey: Journey) -> None:
    run = requests.post(f"{journey.client.base_url}/admin/functions/reconcile", timeout=30)
    assert run.status_code < 300, run.text
    journey.operations.add("timer reconcile")


def refused_request_from_elsewhere(journey: Journey) -> None:
    """The error path: a refusal whose exception message echoes what the caller sent (an
    Origin carrying a number and an email), recorded on the request's span."""
    digits, email = "7700900123", "victim.journey@example.net"
    journey.numbers.add(digits)
    journey.emails |= {email, "victim.journey"}
    origin = f"https://{email}:+44-{digits}.example"
    response = journey.post("/api/checkout", json={"pack": "5"}, headers={"Origin": origin})
    assert response.status_code == 403, response.text


def verify_my_own_number(journey: Journey) -> None:
    number = verify_caller_id(journey.host, journey.client)
    journey.numbers.add(number.removeprefix("+44"))
    journey.requests |= {"/api/me/caller-id", "/api/caller-id/status"}


def stripe_refunds_part_of_it(journey: Journey) -> None:
    refund = journey.stripe.sandbox("refund", session_id=journey.session_id, amount=100)
    assert {d["status"] for d in refund["deliveries"]} == {200}


def export_everything(journey: Journey) -> None:
    response = journey.get("/api/me/export")
    assert response.status_code == 200, response.text[:300]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        data = json.loads(archive.read("data.json"))
    sections = data["sections"]
    assert data["user_id"] == journey.user_id
    assert sections["profile"][0]["email"] in journey.emails
    assert sections["calls"]
    assert sections["payments"]
    assert sections["caller_id"][0]["state"] == "verified"
    assert {"credit_purchase", "refund", "call_charge"} <= {e["kind"] for e in sections["ledger"]}


def correct_name_and_email(journey: Journey) -> None:
    email = f"corrected.{secrets.token_hex(6)}@example.org"
    journey.emails |= {email, email.split("@")[0], quote(email, safe="")}
    correction = {"name": "J. Person", "email": email}
    response = journey.client.request("PATCH", "/api/me", json=correction)
    journey.requests.add("/api/me")
    assert response.status_code == 200, response.text
    assert response.json()["email"] == email
    assert response.json()["email_verified"] is False


def delete_the_account(journey: Journey) -> None:
    links = links_of(journey.store, journey.user_id)
    response = journey.client.delete("/api/me", json={"confirm": "DELETE"})
    journey.requests.add("/api/me")
    assert response.status_code == 200, response.text
    assert journey.client.get("/api/me").status_code == 401
    assert rows_of(journey.store, journey.user_id, links) == []


JOURNEY: list[Step] = [
    sign_in,
    buy_credit,
    preview_rates,
    call_through_the_sandbox,
    twilio_reports_a_call_we_never_placed,
    the_reconciliation_timer_runs,
    refused_request_from_elsewhere,
    verify_my_own_number,
    stripe_refunds_part_of_it,
    export_everything,
    correct_name_and_email,
    delete_the_account,
]


@pytest.fixture(scope="module")
def ingestion() -> Iterator[IngestionEndpoint]:
    endpoint = IngestionEndpoint().start()
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="module")
def telemetry_host(azurite: Azurite, ingestion: IngestionEndpoint) -> Iterator[LocalHost]:
    overrides = {"APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string}
    server = LocalHost(azurite.connection_string, {**overrides, **FAST_EXPORT}).start()
    yield server
    server.stop()


@dataclass(frozen=True)
class Travelled:
    journey: Journey
    # Out of the repr: a failing assertion prints the Travelled, and half a megabyte is noise.
    envelopes: list[Envelope] = field(repr=False)
    # Everything sent, and the host's stdout, each searchable (see searchable()).
    sent: str = field(repr=False)
    host_output: str = field(repr=False)
    # Requests to the endpoint other than /v2.1/track (Live Metrics is off: none).
    strays: list[str]

    def leaks(self, wanted: set[str]) -> list[str]:
        assert wanted
        return sorted(w for w in wanted if searchable(w) in self.sent)


def searchable(text: str) -> str:
    """Text as a leak would be found in it whatever its form: percent-decoded, NFKC (so
    fullwidth or other digits become ASCII), no separators between digits."""
    text = unicodedata.normalize("NFKC", unquote_plus(text))
    return re.sub(r"(?<=\d)[\s\-.()/]+(?=\d)", "", text)


def requests_seen(envelopes: list[Envelope]) -> set[str]:
    paths = set()
    for envelope in of_kind(envelopes, "Request"):
        url = envelope["data"]["baseData"].get("url") or ""
        paths.add(url.split("://", 1)[-1].partition("/")[2].split("?")[0])
    return {"/" + path for path in paths}


def operations_seen(envelopes: list[Envelope]) -> set[str]:
    return {str(e["data"]["baseData"].get("name")) for e in of_kind(envelopes, "Request")}


@pytest.fixture(scope="module")
def travelled(
    telemetry_host: LocalHost, ingestion: IngestionEndpoint, azurite: Azurite
) -> Travelled:
    base = telemetry_host.base_url
    store = TableStore(azurite.connection_string)
    journey = Journey(Client(base), StripeWebhooks(base), telemetry_host, store)
    for step in JOURNEY:
        step(journey)
    secrets_of_settings = sample_values(SAMPLE_SETTINGS)
    journey.secrets |= {
        secrets_of_settings[name]
        for name in (
            "TWILIO_AUTH_TOKEN",
            "TWILIO_API_KEY_SECRET",
            "STRIPE_SECRET_KEY",
            "STRIPE_WEBHOOK_SECRET",
        )
    }

    def complete(envelopes: list[Envelope]) -> bool:
        return (
            journey.requests <= requests_seen(envelopes)
            and journey.operations <= operations_seen(envelopes)
            and bool(of_kind(envelopes, "Message"))
            and bool(of_kind(envelopes, "Exception"))
        )

    try:
        envelopes = ingestion.wait_for(complete, "request, log and exception of every step")
    except AssertionError as error:
        missing = journey.requests - requests_seen(ingestion.envelopes)
        seen = [e["data"]["baseData"].get("url") for e in of_kind(ingestion.envelopes, "Request")]
        raise AssertionError(
            f"{error}; no request telemetry for {sorted(missing)}: {seen}"
        ) from None
    # The raw bytes, and the envelopes decoded (JSON's \\u escapes hide no digit then).
    raw = ingestion.captured_bytes().decode()
    sent = searchable(raw + "\n" + json.dumps(envelopes, ensure_ascii=False))
    output = searchable(telemetry_host.output())
    return Travelled(journey, envelopes, sent, output, list(ingestion.strays))


def test_every_request_of_the_journey_reached_application_insights(travelled: Travelled) -> None:
    kinds = {envelope["data"]["baseType"] for envelope in travelled.envelopes}
    assert {"RequestData", "MessageData", "ExceptionData"} <= kinds
    assert travelled.journey.requests <= requests_seen(travelled.envelopes)
    assert travelled.journey.operations <= operations_seen(travelled.envelopes)
    assert travelled.strays == []
    assert len(travelled.envelopes) >= len(travelled.journey.requests)


def test_numbers_in_urls_arrive_masked_not_dropped(travelled: Travelled) -> None:
    urls = [e["data"]["baseData"].get("url", "") for e in of_kind(travelled.envelopes, "Request")]
    rates = [url for url in urls if "/api/rates?" in url]
    assert len(rates) == len(RATE_PREVIEWS) + 1
    assert any("to=+44********18" in url for url in rates), rates


def test_the_refusal_is_an_exception_with_the_number_and_email_masked(
    travelled: Travelled,
) -> None:
    exceptions = of_kind(travelled.envelopes, "Exception")
    messages = [
        detail.get("message", "")
        for e in exceptions
        for detail in e["data"]["baseData"].get("exceptions", [])
    ]
    refusal = [m for m in messages if "Requests from" in m]
    assert refusal, messages
    assert "+44********23" in refusal[0]
    assert "***@example.net" in refusal[0]


def test_no_number_of_the_journey_reaches_telemetry(travelled: Travelled) -> None:
    assert travelled.leaks(travelled.journey.numbers) == []


def test_no_email_reaches_telemetry(travelled: Travelled) -> None:
    assert travelled.leaks(travelled.journey.emails) == []


def test_no_session_token_signature_or_secret_reaches_telemetry(travelled: Travelled) -> None:
    assert len(travelled.journey.secrets) >= 7
    assert travelled.leaks(travelled.journey.secrets) == []


def test_the_local_hosts_own_log_shows_no_number_email_or_secret(travelled: Travelled) -> None:
    journey = travelled.journey
    assert "OwnNumber is running" in travelled.host_output
    output = travelled.host_output
    wanted = journey.numbers | journey.emails | journey.secrets
    assert sorted(w for w in wanted if searchable(w) in output) == []

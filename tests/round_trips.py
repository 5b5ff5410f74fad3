"""Each operation's storage round trips, read from outside: the edge reports them in the
X-Storage-Round-Trips header of every answer (shared.storage.round_trips).

Used by tests/integration/test_round_trips.py, which holds each operation to its floor, and by
scripts/bench, which prints them beside the floors. Every operation is played as its caller
plays it: the browser with its session cookie and Origin, Twilio signing its webhooks, Stripe
signing its events.
"""

from __future__ import annotations

import secrets
import statistics
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import requests

from local_host.sandbox.stripe_signing import build_event, deliver, stripe_id
from shared.money.ledger import EntryKind, Ledger
from shared.storage.keys import ACCOUNTS_TABLE
from shared.storage.round_trips import ROUND_TRIPS_HEADER
from shared.storage.table_store import TableStore
from shared.telephony.signature import sign
from tests.traffic import ACCOUNT_SID, AUTH_TOKEN, WEBHOOK_SECRET, voice_form

LONDON = "+442079460018"


@dataclass(frozen=True)
class Floor:
    operation: str
    floor: int
    why: str


# The least each operation can do, and why (issue 14). A conflict on an ETag adds one round
# trip per retry: these are the figures of requests that meet no race.
FLOORS = (
    Floor("token mint", 1, "the session"),
    Floor("balance read", 2, "session + balance"),
    Floor("rate preview", 2, "session + balance"),
    Floor("voice webhook (place a call)", 3, "balance read, open-call index, one transaction"),
    Floor("non-final status callback", 2, "call read + conditional write"),
    Floor(
        "final status callback",
        3,
        "call, balance and hold read together, one transaction, the open-call index removal",
    ),
    Floor("Dial action after the final status", 1, "call read"),
    Floor(
        "Stripe checkout.session.completed credit",
        3,
        "account rows read together, one transaction, the PaymentIntent -> user map",
    ),
    Floor("checkout create", 3, "session, account state, checkout record"),
)


@dataclass(frozen=True)
class Cost:
    rounds: int
    requests: int


def cost_of(response: requests.Response) -> Cost:
    header = response.headers.get(ROUND_TRIPS_HEADER)
    assert header, f"{response.request.method} {response.url} reported no round trips"
    rounds, _, requests_part = header.partition("; requests=")
    return Cost(int(rounds), int(requests_part))


class Caller:
    """One signed-in user of a host, and Twilio's and Stripe's sides of their webhooks."""

    def __init__(self, base_url: str, table_store: TableStore) -> None:
        self.base = base_url
        self.http = requests.Session()
        headers = {"Origin": base_url}
        signed_in = self.http.post(
            f"{base_url}/api/auth/dev-login",
            json={"email": f"{secrets.token_hex(6)}@example.com"},
            headers=headers,
            timeout=30,
        )
        assert signed_in.status_code == 200, signed_in.text
        self.user_id: str = signed_in.json()["user_id"]
        Ledger(table_store.table(ACCOUNTS_TABLE)).post(
            self.user_id, f"credit-{secrets.token_hex(8)}", 1_000_000_000, EntryKind.ADJUSTMENT
        )
        self.identity: str = self.token().json()["identity"]

    def token(self) -> requests.Response:
        return self.http.post(f"{self.base}/api/token", headers={"Origin": self.base}, timeout=30)

    def balance(self) -> requests.Response:
        return self.http.get(f"{self.base}/api/balance", timeout=30)

    def rates(self) -> requests.Response:
        return self.http.get(f"{self.base}/api/rates", params={"to": LONDON}, timeout=30)

    def checkout(self) -> requests.Response:
        return self.http.post(
            f"{self.base}/api/checkout",
            json={"pack": "5", "nonce": secrets.token_hex(16)},
            headers={"Origin": self.base},
            timeout=30,
        )

    def twilio(self, url: str, form: dict[str, str]) -> requests.Response:
        # Twilio keeps the fragment (its connection overrides) to itself, and signs the rest.
        url = url.split("#", 1)[0]
        signature = sign(url, form, AUTH_TOKEN)
        return self.http.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=30)

    def call(self) -> Call:
        parent = "CA" + secrets.token_hex(16)
        form = voice_form(self.identity, LONDON, parent)
        voice = self.twilio(f"{self.base}/api/voice", form)
        assert voice.status_code == 200, voice.text
        dial = ET.fromstring(voice.text).find("./Dial")
        assert dial is not None, voice.text
        number = dial.find("./Number")
        assert number is not None, voice.text
        return Call(self, parent, voice, dial.attrib["action"], number.attrib["statusCallback"])

    def payment(self) -> requests.Response:
        session = {
            "id": stripe_id("cs_test_", 58),
            "object": "checkout.session",
            "amount_total": 500,
            "client_reference_id": self.user_id,
            "currency": "usd",
            "metadata": {"user_id": self.user_id, "pack": "5", "credit_micros": "5000000"},
            "mode": "payment",
            "payment_intent": stripe_id("pi_"),
            "payment_status": "paid",
            "status": "complete",
        }
        event = build_event("checkout.session.completed", session)
        response = deliver(self.base, WEBHOOK_SECRET, event, http=self.http)
        assert response.json().get("outcome") == "applied", response.text
        return response


@dataclass
class Call:
    caller: Caller
    sid: str
    voice: requests.Response
    action_url: str
    status_url: str
    child: str = ""

    def status(self, status: str, sequence: int, duration: int | None = None) -> requests.Response:
        self.child = self.child or "CA" + secrets.token_hex(16)
        form = {
            "AccountSid": ACCOUNT_SID,
            "CallSid": self.child,
            "CallStatus": status,
            "ParentCallSid": self.sid,
            "SequenceNumber": str(sequence),
        }
        if duration is not None:
            form["CallDuration"] = str(duration)
        response = self.caller.twilio(self.status_url, form)
        assert response.status_code == 200, response.text
        return response

    def dial_action(self, duration: int) -> requests.Response:
        form = {
            "AccountSid": ACCOUNT_SID,
            "CallSid": self.sid,
            "CallStatus": "completed",
            "DialCallStatus": "completed",
            "DialCallSid": self.child,
            "DialCallDuration": str(duration),
        }
        response = self.caller.twilio(self.action_url, form)
        assert response.status_code == 200, response.text
        return response


def costs_of_one_each(caller: Caller) -> dict[str, Cost]:
    """One of each operation of FLOORS, in the order a user meets them."""
    found = {
        "token mint": cost_of(caller.token()),
        "balance read": cost_of(caller.balance()),
        "rate preview": cost_of(caller.rates()),
    }
    call = caller.call()
    found["voice webhook (place a call)"] = cost_of(call.voice)
    found["non-final status callback"] = cost_of(call.status("ringing", 1))
    found["final status callback"] = cost_of(call.status("completed", 3, duration=61))
    found["Dial action after the final status"] = cost_of(call.dial_action(61))
    found["Stripe checkout.session.completed credit"] = cost_of(caller.payment())
    found["checkout create"] = cost_of(caller.checkout())
    return found


def median_costs(caller: Caller, runs: int) -> dict[str, Cost]:
    """The median round trips and requests of each operation over `runs` of them."""
    samples = [costs_of_one_each(caller) for _ in range(runs)]

    def median(values: list[int]) -> int:
        return int(statistics.median_low(values))

    return {
        name: Cost(
            median([s[name].rounds for s in samples]), median([s[name].requests for s in samples])
        )
        for name in samples[0]
    }

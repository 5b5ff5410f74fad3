"""What the dialer page asks the API, over HTTP against the local host: its settings, the
countries it offers, numbers as people paste them, and the ledger, calls and payments told in
words; and, against Azurite, how few round trips the ledger's words cost."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from local_host.azurite import Azurite
from shared.calling.lifecycle import CallRecord
from shared.calling.rating import Rate
from shared.credit.payment_records import PaymentRecord, payment_data
from shared.deadline import deadline
from shared.money.ledger import EntryKind, Ledger
from shared.statement.ledger_lines import Statement
from shared.storage.errors import StorageUnavailable
from shared.storage.keys import ACCOUNTS_TABLE, call_key, payment_key
from shared.storage.rows import Insert, Page, Remove, Row
from shared.storage.table_store import Table, TableStore
from tests.conftest import Client, StripeWebhooks
from tests.integration.test_calling import AccountFactory, Twilio, answered_call, call_sid
from tests.integration.test_credit import buy
from tests.servers import LocalHost

LONDON = "+442079460958"


def is_problem(response: requests.Response, status: int = 400) -> bool:
    return (
        response.status_code == status
        and response.headers["Content-Type"].startswith("application/problem+json")
        and bool(response.json()["detail"])
    )


@pytest.fixture(scope="module")
def dialer_host(azurite: Azurite) -> Iterator[LocalHost]:
    """A host with other dialer settings, a blocked country, and every request logged."""
    server = LocalHost(
        azurite.connection_string,
        {
            "TWILIO_VOICE_EDGES": "dublin, frankfurt,roaming",
            "LOW_BALANCE_MINUTES": "0",
            "SUPPORT_EMAIL": "",
            "BLOCKED_COUNTRIES": "JM",
        },
        args=("--no-timers", "--verbose"),
    ).start()
    yield server
    server.stop()


# --- settings -----------------------------------------------------------------------------


def test_the_config_tells_the_dialer_its_settings(client: Client) -> None:
    config = client.get("/api/config").json()
    assert config["support_email"] == "support@example.org"
    assert config["low_balance_minutes"] == 5
    assert config["voice_edges"] == ["roaming"]


def test_the_config_follows_the_settings(dialer_host: LocalHost) -> None:
    config = Client(dialer_host.base_url).get("/api/config").json()
    assert config["support_email"] is None
    assert config["low_balance_minutes"] == 0
    assert config["voice_edges"] == ["dublin", "frankfurt", "roaming"]


# --- countries ----------------------------------------------------------------------------


def test_the_countries_are_public_cacheable_and_sorted(client: Client) -> None:
    response = client.get("/api/countries")  # no session
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    countries = response.json()["countries"]
    regions = [c["region"] for c in countries]
    assert regions == sorted(regions)
    by_region = {c["region"]: c for c in countries}
    assert by_region["GB"] == {"region": "GB", "calling_code": 44, "example": "07400 123456"}
    assert by_region["JM"]["calling_code"] == 1
    assert "RU" not in by_region  # the sample deck has no price for +7


def test_the_countries_leave_out_what_the_operator_blocks(dialer_host: LocalHost) -> None:
    regions = {
        c["region"] for c in Client(dialer_host.base_url).get("/api/countries").json()["countries"]
    }
    assert {"US", "CA", "GB"} <= regions
    assert "JM" not in regions


# --- numbers as people paste them ---------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "country"),
    [
        ("+44 20 7946 0958", None),
        ("+44 20 7946 0958", "US"),  # a + number ignores the country
        ("0044 20 7946 0958", "GB"),
        ("(020) 7946-0958", "GB"),
        ("(020) 7946-0958", "gb"),
        ("tel:+442079460958", None),
        ("tel:+44-20-7946-0958", None),
        ("tel:%2B44%2020%207946%200958", None),
        ("+44 (0)20 7946 0958", None),
        ("+44\u00a020\u00a07946\u00a00958", None),
        ("\uff0b\uff14\uff14 \uff12\uff10 \uff17\uff19\uff14\uff16 \uff10\uff19\uff15\uff18", None),
    ],
)
def test_rates_understand_numbers_as_people_type_and_paste_them(
    account: AccountFactory, to: str, country: str | None
) -> None:
    alice = account(credit=1_000_000)
    params = {"to": to, **({"country": country} if country else {})}
    rate = alice.client.get("/api/rates", params=params).json()
    assert rate["allowed"] is True, rate["reason"]
    assert rate["to"] == to  # as the user typed it, shown back to them
    assert (rate["e164"], rate["formatted"], rate["national"]) == (
        LONDON,
        "+44 20 7946 0958",
        "020 7946 0958",
    )
    assert (rate["country"], rate["per_minute_micros"], rate["max_seconds"]) == ("GB", 15_000, 4000)


def test_a_national_number_needs_its_country(account: AccountFactory) -> None:
    rate = account().client.get("/api/rates", params={"to": "(020) 7946-0958"}).json()
    assert (rate["allowed"], rate["code"], rate["e164"], rate["formatted"]) == (
        False,
        "invalid_number",
        None,
        None,
    )
    assert "international format" in rate["reason"]


@pytest.mark.parametrize(
    ("to", "sentence"),
    [
        ("tel:+442079460958;ext=12", "enter the number alone"),
        ("\U0001f4de +44 20 7946 0958", "is not a phone number"),
        ("\U0001f600", "is not a phone number"),
        ("+44 20 7946 0958 \u0000", "is not a phone number"),
        ("1" * 200, "too long"),
    ],
)
def test_rates_explain_what_cannot_be_dialled(
    account: AccountFactory, to: str, sentence: str
) -> None:
    rate = account().client.get("/api/rates", params={"to": to}).json()
    assert (rate["allowed"], rate["code"], rate["formatted"]) == (False, "invalid_number", None)
    assert sentence in rate["reason"]


@pytest.mark.parametrize(
    ("params", "sentence"),
    [
        ({"to": LONDON, "country": "ZZ"}, "ZZ is not one with a telephone numbering plan"),
        ({"to": LONDON, "country": "GBR"}, "two-letter ISO 3166 code"),
        ({"to": LONDON, "country": "\U0001f1ec\U0001f1e7"}, "two-letter ISO 3166 code"),
        ({"to": LONDON, "country": "x" * 10_000}, "two-letter ISO 3166 code"),
        ({"to": "+4" * 5_000}, "longer than 256 characters"),
        ({"to": "tel:" + "%2B" * 3_000}, "longer than 256 characters"),
    ],
)
def test_absurd_rate_requests_are_a_400_with_a_sentence(
    signed_in: Client, params: dict[str, str], sentence: str
) -> None:
    response = signed_in.get("/api/rates", params=params)
    assert is_problem(response)
    assert sentence in response.json()["detail"]
    assert "x" * 20 not in response.text


# --- calls and the ledger, told in words ----------------------------------------------------


def settled_call(twilio: Twilio, identity: str, to: str, seconds: int) -> str:
    """A call answered for `seconds` and settled; returns its (parent) CallSid."""
    sid = call_sid()
    dialled = twilio.voice(identity, to, sid)
    answered_call(twilio, dialled, seconds)
    return sid


def test_calls_show_the_number_as_people_read_it(twilio: Twilio, account: AccountFactory) -> None:
    alice = account()
    settled_call(twilio, alice.identity, "+1 415 555 0100", 30)
    [call] = alice.calls()["calls"]
    assert (call["to"], call["formatted"]) == ("+14155550100", "+1 415-555-0100")


def ledger(client: Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/ledger", params=params)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def test_a_call_charge_says_which_call_until_the_call_is_erased(
    twilio: Twilio, account: AccountFactory, table_store: TableStore
) -> None:
    alice = account(credit=1_000_000)
    sid = settled_call(twilio, alice.identity, LONDON, 75)
    charge, credit = ledger(alice.client)
    assert charge["kind"] == "call_charge"
    assert charge["call"] == {
        "to": LONDON,
        "formatted": "+44 20 7946 0958",
        "duration_seconds": 75,
        "billed_seconds": 75,
        "destination": "United Kingdom landline",
        "country": "GB",
    }
    assert charge["card"] is None
    assert (credit["kind"], credit["call"], credit["card"]) == ("adjustment", None, None)
    # Erasing the call (its row and its history row) leaves the debit, without any number.
    accounts = table_store.table(ACCOUNTS_TABLE)
    row = accounts.get(alice.user_id, call_key(sid))
    assert row is not None
    accounts.commit(alice.user_id, [Remove(call_key(sid)), Remove(row.text("history_key"))])
    erased, _ = ledger(alice.client)
    assert (erased["id"], erased["call"]) == (charge["id"], None)
    assert erased["details"]["billed_seconds"] == 75
    assert LONDON not in str(erased)


def test_a_purchase_in_the_ledger_names_its_card(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    stripe_webhooks.sandbox("pay", session_id=buy(signed_in, "10")["session_id"])
    [purchase] = ledger(signed_in)
    assert purchase["kind"] == "credit_purchase"
    assert purchase["card"] == {"brand": "visa", "last4": "4242"}
    assert purchase["call"] is None
    assert purchase["details"]["payment_intent"] == purchase["id"]


# --- payments -----------------------------------------------------------------------------


def payments(client: Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/payments", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["payments"]
    return found


def test_payments_list_the_users_own_newest_first_with_the_pending_ones(
    signed_in: Client, new_client: Callable[[], Client], stripe_webhooks: StripeWebhooks
) -> None:
    stripe_webhooks.sandbox("pay", session_id=buy(signed_in, "10")["session_id"])
    stripe_webhooks.sandbox("pay_async", session_id=buy(signed_in, "5")["session_id"])
    pending, paid = payments(signed_in)
    assert pending == {
        "payment_intent": pending["payment_intent"],
        "status": "pending",
        "pack": "5",
        "amount": "5.00 USD",
        "amount_micros": 5_000_000,
        "credit": "5.00 USD",
        "credit_micros": 5_000_000,
        "card": None,
        "created_at": pending["created_at"],
    }
    assert pending["payment_intent"].startswith("pi_")
    assert (paid["status"], paid["pack"], paid["amount"], paid["card"]) == (
        "paid",
        "10",
        "10.00 USD",
        {"brand": "visa", "last4": "4242"},
    )
    assert datetime.fromisoformat(pending["created_at"]) >= datetime.fromisoformat(
        paid["created_at"]
    )
    assert [p["payment_intent"] for p in payments(signed_in, limit=1)] == [
        pending["payment_intent"]
    ]
    # Someone else's payments are never shown, nor their PaymentIntent ids.
    bob = new_client()
    bob.sign_in()
    assert payments(bob) == []
    stripe_webhooks.sandbox("pay", session_id=buy(bob, "25")["session_id"])
    [bobs] = payments(bob)
    assert bobs["payment_intent"] not in {pending["payment_intent"], paid["payment_intent"]}
    assert bobs["payment_intent"] not in signed_in.get("/api/payments").text


@pytest.mark.parametrize("limit", ["0", "51", "ten", "1e3", "-1"])
def test_payments_refuse_a_limit_out_of_range(signed_in: Client, limit: str) -> None:
    assert is_problem(signed_in.get("/api/payments", params={"limit": limit}))


@pytest.mark.parametrize("path", ["/api/payments", "/api/ledger", "/api/calls", "/api/rates?to=1"])
def test_what_is_yours_needs_a_session(client: Client, path: str) -> None:
    assert is_problem(client.get(path), 401)


# --- nothing personal in the log ------------------------------------------------------------


def test_no_dialled_number_or_email_reaches_the_request_log(
    dialer_host: LocalHost, table_store: TableStore
) -> None:
    alice = Client(dialer_host.base_url)
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    alice.sign_in(email)
    twilio = Twilio(dialer_host.base_url)
    identity = alice.post("/api/token").json()["identity"]
    Ledger(table_store.table(ACCOUNTS_TABLE)).post(
        alice.get("/api/me").json()["user_id"], f"t-{uuid.uuid4().hex}", 10**6, EntryKind.ADJUSTMENT
    )
    settled_call(twilio, identity, LONDON, 30)
    for params in ({"to": "+44 20 7946 0958"}, {"to": "(020) 7946-0958", "country": "GB"}):
        assert alice.get("/api/rates", params=params).status_code == 200
    for path in ("/api/calls", "/api/ledger", "/api/payments", "/api/countries"):
        assert alice.get(path).status_code == 200
    log = dialer_host.output()
    assert "GET /api/rates?…" in log  # the requests are logged, their queries are not
    for secret in ("2079460958", "7946%200958", "7946+0958", "%28020%29", email, "%40example"):
        assert secret not in log


# --- round trips, against Azurite -----------------------------------------------------------


@dataclass
class Counted(Table):
    """The real table, noting each round trip. With `overlap`, the first point read waits
    (up to 10 s) for a second one to start: reads made one after the other fail it."""

    trips: list[str] = field(default_factory=list)
    overlap: threading.Event | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, partition: str, key: str) -> Row | None:
        with self._lock:
            self.trips.append("get")
            first = self.trips.count("get") == 1
        if self.overlap is not None:
            if first:
                assert self.overlap.wait(10), "the point reads ran one after the other"
            else:
                self.overlap.set()
        return super().get(partition, key)

    def page(
        self, partition: str, prefix: str, limit: int, continuation: str | None = None
    ) -> Page:
        self.trips.append("query")
        return super().page(partition, prefix, limit, continuation)


NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def a_call_row(sid: str) -> Insert:
    record = CallRecord(
        call_sid=sid,
        user_id="u",
        to=LONDON,
        country="GB",
        rate=Rate("44", "GB", "United Kingdom landline", 15_000, 60, 1),
        max_seconds=60,
        started_at=NOW,
        history_key="callhistory:x",
        status="completed",
        duration_seconds=30,
        billed_seconds=60,
    )
    return Insert(call_key(sid), record.to_data())


def test_a_ledger_page_reads_its_calls_and_cards_in_parallel_point_reads(
    fresh_table: Table,
) -> None:
    user = "u" + uuid.uuid4().hex
    ledger = Ledger(fresh_table)
    sids = [call_sid() for _ in range(4)]
    fresh_table.commit(
        user,
        [
            *(a_call_row(sid) for sid in sids[:3]),  # the fourth call was erased
            Insert(
                payment_key("pi_1"),
                payment_data(PaymentRecord("pi_1", card_brand="visa", card_last4="4242"), NOW),
            ),
        ],
    )
    ledger.post(user, "pi_1", 5_000_000, EntryKind.CREDIT_PURCHASE, {"payment_intent": "pi_1"})
    for sid in sids:
        ledger.post(user, "CH" + sid[2:], -1_000, EntryKind.CALL_CHARGE, {"call_sid": sid})
    ledger.post(user, "re_1", -1_000_000, EntryKind.REFUND, {"payment_intent": "pi_1"})
    counted = Counted(fresh_table.client, fresh_table.name, overlap=threading.Event())
    page = Statement(Ledger(counted), counted).page(user, 50)
    # One query of the journal, then one point read per row named (pi_1 once for two entries).
    assert counted.trips == ["query"] + ["get"] * 5
    kinds = [(line.entry.kind, line.call is not None, line.card is not None) for line in page.lines]
    assert kinds == [
        (EntryKind.REFUND, False, True),
        *[(EntryKind.CALL_CHARGE, False, False)],
        *[(EntryKind.CALL_CHARGE, True, False)] * 3,
        (EntryKind.CREDIT_PURCHASE, False, True),
    ]


def test_a_ledger_page_of_no_calls_or_payments_costs_one_query(fresh_table: Table) -> None:
    user = "u" + uuid.uuid4().hex
    Ledger(fresh_table).post(user, "gift", 1_000, EntryKind.ADJUSTMENT)
    counted = Counted(fresh_table.client, fresh_table.name)
    [line] = Statement(Ledger(counted), counted).page(user, 50).lines
    assert (line.call, line.card, counted.trips) == (None, None, ["query"])


def test_parallel_reads_keep_only_the_rows_there_and_read_each_key_once(fresh_table: Table) -> None:
    user = "u" + uuid.uuid4().hex
    fresh_table.commit(user, [Insert("a", {"n": 1}), Insert("b", {"n": 2})])
    counted = Counted(fresh_table.client, fresh_table.name)
    rows = counted.get_many(user, ["a", "missing", "b", "a"])
    assert {key: row.integer("n") for key, row in rows.items()} == {"a": 1, "b": 2}
    assert counted.trips == ["get"] * 3
    assert counted.get_many(user, []) == {}


def test_parallel_reads_keep_to_the_requests_deadline(fresh_table: Table) -> None:
    user = "u" + uuid.uuid4().hex
    fresh_table.commit(user, [Insert("a", {"n": 1}), Insert("b", {"n": 2})])
    with deadline(0.0), pytest.raises(StorageUnavailable):
        fresh_table.get_many(user, ["a", "b"])

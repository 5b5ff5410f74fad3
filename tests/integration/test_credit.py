"""Buying credit through the local host over HTTP: Checkout through the Stripe fake, and
signed webhook events delivered by a client that holds nothing but the webhook secret."""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local_host.azurite import connection_string, free_port
from local_host.sandbox.stripe_signing import build_event, stripe_id
from tests.conftest import Client, StripeWebhooks
from tests.servers import LocalHost

PACK_5 = {"pack": "5", "amount": 500, "credit": 5_000_000}


def checkout_session(
    user_id: str,
    *,
    payment_status: str = "paid",
    pack: str = "5",
    amount: int = 500,
    credit: int = 5_000_000,
) -> dict[str, Any]:
    """A completed Checkout Session as Stripe sends it, for a session made up by the test."""
    metadata = {"user_id": user_id, "pack": pack, "credit_micros": str(credit)}
    return {
        "id": stripe_id("cs_test_", 58),
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "client_reference_id": user_id,
        "currency": "usd",
        "livemode": False,
        "metadata": metadata,
        "mode": "payment",
        "payment_intent": stripe_id("pi_"),
        "payment_status": payment_status,
        "status": "complete",
    }


def completed(user_id: str, **kwargs: Any) -> dict[str, Any]:
    return build_event("checkout.session.completed", checkout_session(user_id, **kwargs))


def user_id(client: Client) -> str:
    return client.get("/api/me").json()["user_id"]


def balance(client: Client) -> dict[str, Any]:
    response = client.get("/api/balance")
    assert response.status_code == 200, response.text
    return response.json()


def entries(client: Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    continuation = ""
    while True:
        page = client.get(f"/api/ledger?limit=200&continuation={continuation}").json()
        found += page["entries"]
        continuation = page["continuation"]
        if not continuation:
            return found


def assert_balance_is_the_sum_of_entries(client: Client) -> int:
    rows = entries(client)
    ids = [entry["id"] for entry in rows]
    assert len(ids) == len(set(ids)), "an event was applied twice"
    micros = balance(client)["balance_micros"]
    assert micros == sum(entry["amount_micros"] for entry in rows)
    return micros


def outcome(response: Any) -> str:
    assert response.status_code == 200, response.text
    return response.json()["outcome"]


def buy(client: Client, pack: str = "5", nonce: str | None = None) -> dict[str, Any]:
    response = client.post("/api/checkout", json={"pack": pack, "nonce": nonce or nonce_()})
    assert response.status_code == 200, response.text
    return response.json()


def nonce_() -> str:
    return secrets.token_hex(8)


def paid(client: Client, hooks: StripeWebhooks, pack: str = "5") -> str:
    """A checkout paid on the fake Stripe, its events delivered; returns the session id."""
    session_id = buy(client, pack)["session_id"]
    hooks.sandbox("pay", session_id=session_id)
    return session_id


def status_of(client: Client, session_id: str) -> str:
    return client.get(f"/api/checkout/{session_id}").json()["status"]


def money_and_flags(client: Client) -> tuple[int, list[str]]:
    found = balance(client)
    return found["balance_micros"], found["flags"]


def of_type(events: list[dict[str, Any]], event_type: str) -> dict[str, Any]:
    return next(event for event in events if event["type"] == event_type)


# --- signatures -----------------------------------------------------------------------------


def test_a_paid_checkout_credits_the_pack_once(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    event = completed(user_id(signed_in))
    assert outcome(stripe_webhooks.deliver(event)) == "applied"
    assert outcome(stripe_webhooks.deliver(event)) == "already_applied"
    [entry] = entries(signed_in)
    pi = event["data"]["object"]["payment_intent"]
    assert (entry["id"], entry["kind"], entry["amount_micros"]) == (
        pi,
        "credit_purchase",
        5_000_000,
    )
    assert assert_balance_is_the_sum_of_entries(signed_in) == 5_000_000


def _forge_wrong_secret(hooks: StripeWebhooks, event: dict[str, Any]) -> Any:
    return hooks.deliver(event, secret="whsec_notthesecret")


def _forge_tampered_body(hooks: StripeWebhooks, event: dict[str, Any]) -> Any:
    from local_host.sandbox.stripe_signing import encode_event, stripe_signature

    signature = stripe_signature(encode_event(event), hooks.SECRET)
    event["data"]["object"]["metadata"]["credit_micros"] = "500000000"
    return hooks.http.post(
        hooks.base_url + "/api/stripe/webhook",
        data=encode_event(event),
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


def _forge_without_signature(hooks: StripeWebhooks, event: dict[str, Any]) -> Any:
    from local_host.sandbox.stripe_signing import encode_event

    return hooks.http.post(hooks.base_url + "/api/stripe/webhook", data=encode_event(event))


def _forge_other_scheme(hooks: StripeWebhooks, event: dict[str, Any]) -> Any:
    from local_host.sandbox.stripe_signing import encode_event, stripe_signature

    body = encode_event(event)
    header = stripe_signature(body, hooks.SECRET).replace("v1=", "v0=")
    return hooks.http.post(
        hooks.base_url + "/api/stripe/webhook", data=body, headers={"Stripe-Signature": header}
    )


def _forge_stale(hooks: StripeWebhooks, event: dict[str, Any]) -> Any:
    return hooks.deliver(event, timestamp=int(time.time()) - 301)


@pytest.mark.parametrize(
    "forge",
    [
        _forge_wrong_secret,
        _forge_tampered_body,
        _forge_without_signature,
        _forge_other_scheme,
        _forge_stale,
    ],
    ids=["wrong secret", "tampered body", "no signature", "v0 scheme", "older than 300 s"],
)
def test_forged_or_stale_signatures_are_refused_and_change_nothing(
    signed_in: Client,
    stripe_webhooks: StripeWebhooks,
    forge: Callable[[StripeWebhooks, dict[str, Any]], Any],
) -> None:
    response = forge(stripe_webhooks, completed(user_id(signed_in)))
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert entries(signed_in) == []
    assert balance(signed_in)["balance_micros"] == 0


def test_a_signature_within_the_tolerance_is_accepted(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    event = completed(user_id(signed_in))
    assert outcome(stripe_webhooks.deliver(event, timestamp=int(time.time()) - 240)) == "applied"


# --- delivery -------------------------------------------------------------------------------


def test_the_same_event_delivered_three_times_at_once_credits_once(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    event = completed(user_id(signed_in))
    start = threading.Barrier(3)

    def send(_: int) -> str:
        start.wait()
        return outcome(stripe_webhooks.deliver(event))

    with ThreadPoolExecutor(3) as pool:
        outcomes = sorted(pool.map(send, range(3)))
    assert outcomes == ["already_applied", "already_applied", "applied"]
    assert len(entries(signed_in)) == 1
    assert assert_balance_is_the_sum_of_entries(signed_in) == 5_000_000


@pytest.mark.parametrize(
    "event_type",
    ["customer.created", "payment_intent.succeeded", "charge.dispute.funds_withdrawn"],
)
def test_events_the_app_does_not_act_on_are_acknowledged_and_ignored(
    signed_in: Client, stripe_webhooks: StripeWebhooks, event_type: str
) -> None:
    event = build_event(event_type, {"id": stripe_id("obj_"), "object": "thing"})
    assert outcome(stripe_webhooks.deliver(event)) == "ignored"
    assert entries(signed_in) == []


def test_an_event_for_an_unknown_account_is_acknowledged_and_changes_nothing(
    stripe_webhooks: StripeWebhooks,
) -> None:
    stranger = "u" + secrets.token_hex(16)
    assert outcome(stripe_webhooks.deliver(completed(stranger))) == "ignored"


def test_a_completion_for_someone_elses_checkout_is_not_ours_to_apply(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    event = completed(user_id(signed_in))
    event["data"]["object"]["client_reference_id"] = "u" + secrets.token_hex(16)
    assert outcome(stripe_webhooks.deliver(event)) == "ignored"
    assert entries(signed_in) == []


@pytest.fixture(scope="module")
def storage_down() -> Iterator[StripeWebhooks]:
    host = LocalHost(connection_string(free_port())).start()
    yield StripeWebhooks(host.base_url)
    host.stop()


def test_storage_down_is_a_503_so_that_stripe_redelivers(storage_down: StripeWebhooks) -> None:
    response = storage_down.deliver(completed("u" + secrets.token_hex(16)))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0


# --- checkout -------------------------------------------------------------------------------


def sent_to_stripe(client: Client, session_id: str) -> dict[str, Any]:
    """The request the fake Stripe recorded when it created this Checkout Session."""
    recorded = client.get("/sandbox/stripe/_requests").json()["data"]
    [request] = [r for r in recorded if r["object_id"] == session_id and r["method"] == "POST"]
    return request


def test_checkout_asks_stripe_for_the_pack_with_metadata_and_an_idempotency_key(
    signed_in: Client,
) -> None:
    checkout = buy(signed_in, "10")
    assert checkout["session_id"].startswith("cs_test_")
    assert checkout["url"] == f"{signed_in.base_url}/sandbox/stripe/pay/{checkout['session_id']}"
    request = sent_to_stripe(signed_in, checkout["session_id"])
    params, me = request["params"], user_id(signed_in)
    assert request["authorized"]
    assert request["idempotency_key"].startswith("checkout-")
    assert params["mode"] == "payment"
    [item] = params["line_items"]
    assert item == {
        "price_data": {
            "currency": "usd",
            "unit_amount": "1000",
            "product_data": {"name": "OwnNumber credit: 10.00 USD"},
        },
        "quantity": "1",
    }
    expected = {"user_id": me, "pack": "10", "credit_micros": "10000000"}
    assert params["metadata"] == expected
    assert params["payment_intent_data"] == {"metadata": expected}
    assert params["client_reference_id"] == me
    assert params["success_url"] == f"{signed_in.base_url}/?checkout={{CHECKOUT_SESSION_ID}}"
    assert params["cancel_url"] == f"{signed_in.base_url}/?checkout=cancelled"


def test_a_double_click_gets_one_session_and_a_new_purchase_another(signed_in: Client) -> None:
    nonce = nonce_()
    first, again = buy(signed_in, nonce=nonce), buy(signed_in, nonce=nonce)
    assert again["session_id"] == first["session_id"]
    assert buy(signed_in, nonce=nonce_())["session_id"] != first["session_id"]
    assert buy(signed_in, "25", nonce=nonce)["session_id"] != first["session_id"]


@pytest.mark.parametrize(
    ("body", "headers", "signed", "status"),
    [
        ({"pack": "7"}, {}, True, 400),
        ({}, {}, True, 400),
        ({"pack": "5", "nonce": "no spaces allowed"}, {}, True, 400),
        ({"pack": "5"}, {"Origin": "https://evil.example"}, True, 403),
        ({"pack": "5"}, {}, False, 401),
    ],
    ids=["unknown pack", "no pack", "bad nonce", "other origin", "signed out"],
)
def test_checkout_refuses_what_it_cannot_sell(
    client: Client, body: dict[str, Any], headers: dict[str, str], signed: bool, status: int
) -> None:
    if signed:
        client.sign_in()
    response = client.post("/api/checkout", json=body, headers=headers)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/problem+json")


def test_checkout_status_comes_from_our_records_and_only_for_its_owner(
    signed_in: Client, new_client: Callable[[], Client], stripe_webhooks: StripeWebhooks
) -> None:
    session_id = buy(signed_in)["session_id"]
    before = signed_in.get(f"/api/checkout/{session_id}").json()
    assert (before["status"], before["credit"], before["balance_micros"]) == ("open", "5.00 USD", 0)

    stripe_webhooks.sandbox("pay", session_id=session_id)
    after = signed_in.get(f"/api/checkout/{session_id}").json()
    assert after["status"] == "paid"
    assert after["card"] == {"brand": "visa", "last4": "4242"}
    assert after["balance_micros"] == 5_000_000

    stranger = new_client()
    stranger.sign_in()
    assert stranger.get(f"/api/checkout/{session_id}").status_code == 404
    assert signed_in.get("/api/checkout/cs_test_nosuchsession").status_code == 404
    assert new_client().get(f"/api/checkout/{session_id}").status_code == 401


def test_paying_on_the_sandbox_page_credits_the_account(signed_in: Client) -> None:
    checkout = buy(signed_in)
    page = signed_in.http.get(checkout["url"])
    assert page.status_code == 200
    assert "5.00 USD" in page.text
    assert 'value="pay"' in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]

    paid = signed_in.http.post(checkout["url"], data={"action": "pay"}, allow_redirects=False)
    assert paid.status_code == 303
    assert paid.headers["Location"] == f"{signed_in.base_url}/?checkout={checkout['session_id']}"
    assert balance(signed_in)["balance"] == "5.00 USD"
    assert "Refund" in signed_in.http.get(checkout["url"]).text


def test_an_unpaid_completion_credits_only_when_the_payment_succeeds(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    session_id = buy(signed_in)["session_id"]
    stripe_webhooks.sandbox("pay_async", session_id=session_id)
    assert status_of(signed_in, session_id) == "pending"
    assert balance(signed_in)["balance_micros"] == 0

    events = stripe_webhooks.sandbox("async_succeeded", session_id=session_id)["events"]
    assert status_of(signed_in, session_id) == "paid"
    succeeded = of_type(events, "checkout.session.async_payment_succeeded")
    assert outcome(stripe_webhooks.deliver(succeeded)) == "already_applied"
    assert assert_balance_is_the_sum_of_entries(signed_in) == 5_000_000


def test_a_failed_async_payment_is_recorded_without_credit(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    session_id = buy(signed_in)["session_id"]
    stripe_webhooks.sandbox("pay_async", session_id=session_id)
    events = stripe_webhooks.sandbox("async_failed", session_id=session_id)["events"]
    assert status_of(signed_in, session_id) == "failed"
    failed = of_type(events, "checkout.session.async_payment_failed")
    assert outcome(stripe_webhooks.deliver(failed)) == "already_applied"
    assert entries(signed_in) == []
    assert balance(signed_in)["balance_micros"] == 0


# --- refunds and disputes -------------------------------------------------------------------


def paid_silently(client: Client, hooks: StripeWebhooks, pack: str = "5") -> tuple[str, dict]:
    """A payment the fake Stripe knows of, whose completion event was not yet delivered."""
    session_id = buy(client, pack)["session_id"]
    events = hooks.sandbox("pay", session_id=session_id, deliver=False)["events"]
    return session_id, of_type(events, "checkout.session.completed")


def test_a_refund_before_its_completion_still_ends_right(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    session_id, completion = paid_silently(signed_in, stripe_webhooks)
    refund_events = stripe_webhooks.sandbox(
        "refund", session_id=session_id, amount=125, deliver=False
    )["events"]
    assert [outcome(stripe_webhooks.deliver(e)) for e in refund_events] == [
        "applied",
        "already_applied",
    ]
    assert balance(signed_in)["balance_micros"] == -1_250_000

    assert outcome(stripe_webhooks.deliver(completion)) == "applied"
    assert assert_balance_is_the_sum_of_entries(signed_in) == 3_750_000
    status = status_of(signed_in, session_id)
    assert status == "partially_refunded"


def test_refunding_everything_in_parts_debits_the_whole_credit(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    session_id = paid(signed_in, stripe_webhooks, "10")
    stripe_webhooks.sandbox("refund", session_id=session_id, amount=400)
    stripe_webhooks.sandbox("refund", session_id=session_id)
    refunds = [e["amount_micros"] for e in entries(signed_in) if e["kind"] == "refund"]
    assert sorted(refunds) == [-6_000_000, -4_000_000]
    assert assert_balance_is_the_sum_of_entries(signed_in) == 0
    assert status_of(signed_in, session_id) == "refunded"


def test_a_dispute_holds_the_account_until_it_is_won(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    session_id = paid(signed_in, stripe_webhooks)
    stripe_webhooks.sandbox("dispute", session_id=session_id)
    assert money_and_flags(signed_in) == (0, ["payment_disputed"])
    assert status_of(signed_in, session_id) == "disputed"
    paused = signed_in.post("/api/checkout", json={"pack": "5"})
    assert paused.status_code == 403

    stripe_webhooks.sandbox("dispute_won", session_id=session_id)
    assert money_and_flags(signed_in) == (5_000_000, [])
    assert status_of(signed_in, session_id) == "paid"
    assert assert_balance_is_the_sum_of_entries(signed_in) == 5_000_000


def test_a_lost_dispute_releases_the_account_and_keeps_the_debit(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    session_id = paid(signed_in, stripe_webhooks)
    stripe_webhooks.sandbox("dispute", session_id=session_id)
    closed = stripe_webhooks.sandbox("dispute_lost", session_id=session_id)["events"]
    assert closed[0]["data"]["object"]["status"] == "lost"
    assert outcome(stripe_webhooks.deliver(closed[0])) == "already_applied"
    assert money_and_flags(signed_in) == (0, [])
    assert status_of(signed_in, session_id) == "dispute_lost"
    assert assert_balance_is_the_sum_of_entries(signed_in) == 0


def test_a_dispute_closed_before_it_was_opened_ends_right(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    session_id = paid(signed_in, stripe_webhooks)
    opened = stripe_webhooks.sandbox("dispute", session_id=session_id, deliver=False)["events"]
    closed = stripe_webhooks.sandbox("dispute_lost", session_id=session_id, deliver=False)
    for event in [*closed["events"], *opened]:
        stripe_webhooks.deliver(event)
    assert money_and_flags(signed_in) == (0, [])


def test_shuffled_duplicated_concurrent_events_apply_each_payment_and_refund_once(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    """Three purchases (5, 10, 25), a partial refund, a full refund and a dispute that is won:
    every event three times, shuffled, from eight threads at once."""
    events: list[dict[str, Any]] = []
    sessions = []
    for pack in ("5", "10", "25"):
        session_id, completion = paid_silently(signed_in, stripe_webhooks, pack)
        sessions.append(session_id)
        events.append(completion)
    for kind, session_id, amount in [
        ("refund", sessions[0], 100),
        ("refund", sessions[1], None),
        ("dispute", sessions[2], None),
        ("dispute_won", sessions[2], None),
    ]:
        body: dict[str, Any] = {"session_id": session_id, "deliver": False}
        if amount is not None:
            body["amount"] = amount
        events += stripe_webhooks.sandbox(kind, **body)["events"]
    deliveries = events * 3
    random.Random(20261122).shuffle(deliveries)

    with ThreadPoolExecutor(8) as pool:
        outcomes = Counter(pool.map(lambda e: outcome(stripe_webhooks.deliver(e)), deliveries))

    assert set(outcomes) <= {"applied", "recorded", "already_applied", "ignored"}
    kinds = Counter(entry["kind"] for entry in entries(signed_in))
    assert kinds == {"credit_purchase": 3, "refund": 2, "dispute": 1, "dispute_reversal": 1}
    expected = 5_000_000 - 1_000_000 + 0 + 25_000_000
    assert assert_balance_is_the_sum_of_entries(signed_in) == expected
    assert balance(signed_in)["flags"] == []


def dispute_events(hooks: StripeWebhooks, session_id: str, status: str) -> list[dict[str, Any]]:
    """A dispute opened and closed on the fake Stripe, the close carrying `status`."""
    opened = hooks.sandbox("dispute", session_id=session_id, deliver=False)["events"]
    closed = hooks.sandbox("dispute_won", session_id=session_id, deliver=False)["events"]
    closing = of_type(closed, "charge.dispute.closed")
    closing["data"]["object"]["status"] = status
    return [of_type(opened, "charge.dispute.created"), closing]


@pytest.mark.parametrize("status", ["won", "warning_closed", "prevented"])
def test_a_dispute_the_merchant_keeps_gives_the_credit_back_and_releases_the_account(
    signed_in: Client, stripe_webhooks: StripeWebhooks, status: str
) -> None:
    session_id = paid(signed_in, stripe_webhooks)
    opened, closed = dispute_events(stripe_webhooks, session_id, status)
    stripe_webhooks.deliver(opened)
    assert money_and_flags(signed_in) == (0, ["payment_disputed"])
    assert outcome(stripe_webhooks.deliver(closed)) == "applied"
    assert outcome(stripe_webhooks.deliver(closed)) == "already_applied"
    assert money_and_flags(signed_in) == (5_000_000, [])
    assert status_of(signed_in, session_id) == "paid"


@pytest.mark.parametrize("status", ["charge_refunded", "some_future_status"])
def test_a_dispute_closed_with_a_status_we_do_not_know_keeps_the_debit_and_releases_the_account(
    signed_in: Client, stripe_webhooks: StripeWebhooks, status: str
) -> None:
    session_id = paid(signed_in, stripe_webhooks)
    opened, closed = dispute_events(stripe_webhooks, session_id, status)
    stripe_webhooks.deliver(opened)
    assert outcome(stripe_webhooks.deliver(closed)) == "recorded"
    assert money_and_flags(signed_in) == (0, [])
    assert status_of(signed_in, session_id) == "dispute_closed"
    # A late "created" never holds the account again.
    assert outcome(stripe_webhooks.deliver(opened)) == "already_applied"
    assert money_and_flags(signed_in) == (0, [])
    assert assert_balance_is_the_sum_of_entries(signed_in) == 0


def test_an_inquiry_moves_no_money_and_holds_nothing(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    session_id = paid(signed_in, stripe_webhooks)
    opened, closed = dispute_events(stripe_webhooks, session_id, "warning_closed")
    opened["data"]["object"]["status"] = "warning_needs_response"
    assert outcome(stripe_webhooks.deliver(opened)) == "recorded"
    assert outcome(stripe_webhooks.deliver(opened)) == "already_applied"
    assert money_and_flags(signed_in) == (5_000_000, [])
    assert [e["kind"] for e in entries(signed_in)] == ["credit_purchase"]

    assert outcome(stripe_webhooks.deliver(closed)) == "recorded"
    assert money_and_flags(signed_in) == (5_000_000, [])
    # Closed, it neither took nor gave anything: no entries for it at all.
    assert [e["kind"] for e in entries(signed_in)] == ["credit_purchase"]
    assert assert_balance_is_the_sum_of_entries(signed_in) == 5_000_000


def refund_event(pi: str, amount: int, currency: str = "usd") -> dict[str, Any]:
    refund = {
        "id": stripe_id("re_"),
        "object": "refund",
        "amount": amount,
        "charge": stripe_id("ch_"),
        "currency": currency,
        "payment_intent": pi,
        "status": "succeeded",
    }
    return build_event("refund.created", refund)


def test_a_refund_in_another_currency_than_its_payment_is_a_5xx_and_changes_nothing(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    event = completed(user_id(signed_in))
    stripe_webhooks.deliver(event)
    pi = event["data"]["object"]["payment_intent"]
    response = stripe_webhooks.deliver(refund_event(pi, 100, currency="eur"))
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert [e["kind"] for e in entries(signed_in)] == ["credit_purchase"]
    assert balance(signed_in)["balance_micros"] == 5_000_000


def test_refunding_everything_in_three_parts_takes_back_exactly_the_credit(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    """3.00 bought 1.00 of credit (a pack no longer offered): each refund takes its third
    rounded down of what is left, the last exactly what is left."""
    event = completed(user_id(signed_in), pack="3", amount=300, credit=1_000_000)
    stripe_webhooks.deliver(event)
    pi = event["data"]["object"]["payment_intent"]
    refunds = [refund_event(pi, 100) for _ in range(3)]
    for refund in refunds * 2:
        stripe_webhooks.deliver(refund)
    assert assert_balance_is_the_sum_of_entries(signed_in) == 0
    debits = sorted(e["amount_micros"] for e in entries(signed_in) if e["kind"] == "refund")
    assert debits == [-333_334, -333_333, -333_333]
    assert status_of(signed_in, event["data"]["object"]["id"]) == "refunded"


def assert_refunded_and_reversed_once(client: Client, session_id: str) -> None:
    kinds = Counter(e["kind"] for e in entries(client))
    assert kinds == {"credit_purchase": 1, "refund": 1, "refund_reversal": 1}
    assert assert_balance_is_the_sum_of_entries(client) == 5_000_000
    assert status_of(client, session_id) == "paid"


def test_a_refund_that_fails_after_it_was_applied_gives_the_credit_back_once(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    session_id = paid(signed_in, stripe_webhooks)
    refunded = stripe_webhooks.sandbox("refund", session_id=session_id, amount=200)["events"]
    assert balance(signed_in)["balance_micros"] == 3_000_000
    failed = stripe_webhooks.sandbox("refund_failed", session_id=session_id)["events"]
    assert [e["data"]["object"]["status"] for e in failed] == ["failed", "failed"]
    assert balance(signed_in)["balance_micros"] == 5_000_000

    for event in [*failed, *refunded, *failed]:
        assert outcome(stripe_webhooks.deliver(event)) == "already_applied"
    assert_refunded_and_reversed_once(signed_in, session_id)


def test_a_refund_whose_failure_arrives_first_ends_right(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    session_id = paid(signed_in, stripe_webhooks)
    refunded = stripe_webhooks.sandbox("refund", session_id=session_id, deliver=False)["events"]
    failed = stripe_webhooks.sandbox("refund_failed", session_id=session_id, deliver=False)
    for event in [*failed["events"], *refunded]:
        stripe_webhooks.deliver(event)
    assert_refunded_and_reversed_once(signed_in, session_id)


def test_a_refund_before_its_completion_asks_stripe_about_the_payment_once(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    session_id, completion = paid_silently(signed_in, stripe_webhooks)
    pi = completion["data"]["object"]["payment_intent"]
    events = stripe_webhooks.sandbox("refund", session_id=session_id, amount=100, deliver=False)
    refund = of_type(events["events"], "refund.created")
    for _ in range(3):
        stripe_webhooks.deliver(refund)
    recorded = signed_in.get("/sandbox/stripe/_requests").json()["data"]
    lookups = [r for r in recorded if r["path"] == f"/v1/payment_intents/{pi}"]
    assert len(lookups) == 1
    assert balance(signed_in)["balance_micros"] == -1_000_000


# --- refunds and disputes together: the credit goes back in proportion ---------------------

# A pack whose credit is not a whole number of micros per cent: 12.00 buys 13.00 of credit.
PACKS_WITH_12_13 = "5,10,25,12:13"


@pytest.fixture(scope="module")
def host_12_13(azurite_connection: str) -> Iterator[LocalHost]:
    host = LocalHost(azurite_connection, {"CREDIT_PACKS": PACKS_WITH_12_13}).start()
    yield host
    host.stop()


def whole_payment_returned_12_13(host: LocalHost) -> tuple[Client, StripeWebhooks, dict]:
    """A 12.00 purchase of 13.00 of credit, refunded 4.00 and then charged back the 8.00 left
    (the dispute lost): Stripe's events made, none delivered yet, by kind."""
    client, hooks = Client(host.base_url), StripeWebhooks(host.base_url)
    client.sign_in()
    session_id, completion = paid_silently(client, hooks, "12")
    refund = hooks.sandbox("refund", session_id=session_id, amount=400, deliver=False)
    dispute = hooks.sandbox("dispute", session_id=session_id, deliver=False)
    lost = hooks.sandbox("dispute_lost", session_id=session_id, deliver=False)
    assert of_type(dispute["events"], "charge.dispute.created")["data"]["object"]["amount"] == 800
    return (
        client,
        hooks,
        {
            "credit": [completion],
            "refund": refund["events"],
            "dispute": dispute["events"],
            "lost": lost["events"],
        },
    )


@pytest.mark.parametrize(
    "order",
    [
        ("credit", "refund", "dispute", "lost"),
        ("credit", "dispute", "lost", "refund"),
        ("refund", "dispute", "lost", "credit"),
        ("lost", "refund", "credit", "dispute"),
        ("dispute", "credit", "lost", "refund"),
    ],
    ids=lambda order: "-".join(order),
)
def test_a_refund_and_a_lost_dispute_of_the_whole_payment_take_back_exactly_its_credit(
    host_12_13: LocalHost, order: tuple[str, ...]
) -> None:
    client, hooks, events = whole_payment_returned_12_13(host_12_13)
    deliveries = [event for kind in order for event in events[kind]]
    for event in [*deliveries, *reversed(deliveries)]:  # every event twice
        assert hooks.deliver(event).status_code == 200

    by_kind = {entry["kind"]: entry["amount_micros"] for entry in entries(client)}
    assert by_kind["credit_purchase"] == 13_000_000
    # Whichever came first takes its share rounded down; the last takes exactly what is left.
    if order.index("refund") < min(order.index("dispute"), order.index("lost")):
        assert (by_kind["refund"], by_kind["dispute"]) == (-4_333_333, -8_666_667)
    else:
        assert (by_kind["refund"], by_kind["dispute"]) == (-4_333_334, -8_666_666)
    assert len(entries(client)) == 3
    assert assert_balance_is_the_sum_of_entries(client) == 0
    assert balance(client)["flags"] == []


def test_a_failed_refund_after_a_lost_dispute_gives_back_exactly_the_refunds_share(
    host_12_13: LocalHost,
) -> None:
    client, hooks, events = whole_payment_returned_12_13(host_12_13)
    for kind in ("credit", "refund", "dispute", "lost"):
        for event in events[kind]:
            hooks.deliver(event)
    failed = hooks.sandbox("refund_failed", session_id=events["credit"][0]["data"]["object"]["id"])
    assert [e["data"]["object"]["status"] for e in failed["events"]] == ["failed", "failed"]
    # 8.00 of 12.00 went back: 13.00 x 8/12 = 8.666666 (rounded down) of the credit.
    assert assert_balance_is_the_sum_of_entries(client) == 13_000_000 - 8_666_666


# --- what was paid must be what was sold ---------------------------------------------------


def completion_paying(
    client: Client, hooks: StripeWebhooks, amount: int, currency: str, pack: str = "5"
) -> tuple[str, dict[str, Any]]:
    """A checkout of `pack` paid on the fake Stripe (its charge the pack's price), and its
    completion, not yet delivered, saying it paid `amount` minor units of `currency`."""
    session_id, completion = paid_silently(client, hooks, pack)
    completion["data"]["object"].update(amount_total=amount, currency=currency)
    return session_id, completion


def checkout_view(client: Client, session_id: str) -> tuple[str, str, str]:
    view = client.get(f"/api/checkout/{session_id}").json()
    return view["status"], view["amount"], view["credit"]


def test_the_audits_probe_a_pack_12_completion_paid_in_eur_is_refused_and_its_refund_ends_quietly(
    host_12_13: LocalHost,
) -> None:
    """Pack 12 (13.00 of credit) sold at 12.00 USD, its completion saying 1200.00 EUR: no
    credit, the checkout still shows what was sold, and the genuine refund of the 12.00 USD
    afterwards is acknowledged (no 503 that Stripe would retry for days) and takes nothing."""
    client, hooks = Client(host_12_13.base_url), StripeWebhooks(host_12_13.base_url)
    client.sign_in()
    session_id, completion = completion_paying(client, hooks, 120000, "eur", pack="12")
    assert outcome(hooks.deliver(completion)) == "refused"
    assert outcome(hooks.deliver(completion)) == "refused"  # redelivered: refused again
    assert entries(client) == []
    assert balance(client)["balance_micros"] == 0
    assert checkout_view(client, session_id) == ("refused", "12.00 USD", "13.00 USD")

    refunded = hooks.sandbox("refund", session_id=session_id)  # all 12.00, in USD
    assert [d["status"] for d in refunded["deliveries"]] == [200] * len(refunded["events"])
    assert of_type(refunded["events"], "refund.created")["data"]["object"]["currency"] == "usd"
    for event in refunded["events"]:
        assert outcome(hooks.deliver(event)) == "ignored"
    assert entries(client) == []
    assert balance(client)["balance_micros"] == 0


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(500, "eur"), (50000, "eur"), (400, "usd"), (499, "usd"), (501, "usd"), (600, "usd")],
    ids=[
        "the price in eur",
        "the price in eur cents as if dollars",
        "lower: a promotion code",
        "one cent lower",
        "one cent higher",
        "higher: tax",
    ],
)
def test_a_completion_that_did_not_pay_the_packs_price_in_usd_is_refused_and_recorded(
    signed_in: Client, stripe_webhooks: StripeWebhooks, amount: int, currency: str
) -> None:
    session_id, completion = completion_paying(signed_in, stripe_webhooks, amount, currency)
    response = stripe_webhooks.deliver(completion)
    assert response.status_code == 200  # not redelivered for days: it would be refused again
    assert response.json() == {"received": True, "outcome": "refused"}
    assert entries(signed_in) == []
    assert money_and_flags(signed_in) == (0, [])
    # What was sold, as /api/checkout recorded it, not what the event says was paid.
    assert checkout_view(signed_in, session_id) == ("refused", "5.00 USD", "5.00 USD")


def test_a_completion_that_paid_the_packs_price_in_usd_still_credits(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    session_id, completion = completion_paying(signed_in, stripe_webhooks, 500, "usd")
    assert outcome(stripe_webhooks.deliver(completion)) == "applied"
    assert assert_balance_is_the_sum_of_entries(signed_in) == 5_000_000
    assert checkout_view(signed_in, session_id) == ("paid", "5.00 USD", "5.00 USD")


def test_a_pack_no_longer_offered_credits_only_at_the_price_its_id_names(
    signed_in: Client, stripe_webhooks: StripeWebhooks
) -> None:
    """No checkout record and no such pack configured: pack "3" was sold at 3.00."""
    cheap = completed(user_id(signed_in), pack="3", amount=299, credit=3_000_000)
    assert outcome(stripe_webhooks.deliver(cheap)) == "refused"
    right = completed(user_id(signed_in), pack="3", amount=300, credit=3_000_000)
    assert outcome(stripe_webhooks.deliver(right)) == "applied"
    assert assert_balance_is_the_sum_of_entries(signed_in) == 3_000_000


def test_a_refund_of_a_refused_payment_takes_no_credit_and_shows_it_refunded(
    signed_in: Client, stripe_webhooks: StripeWebhooks, fund: Callable[[str, int], None]
) -> None:
    """Refused at 4.00 of a 5.00 pack: the operator's refund of the whole charge takes back
    nothing of the credit the account has from elsewhere, once, however often delivered."""
    fund(user_id(signed_in), 2_000_000)
    session_id, completion = completion_paying(signed_in, stripe_webhooks, 400, "usd")
    assert outcome(stripe_webhooks.deliver(completion)) == "refused"
    refunded = stripe_webhooks.sandbox("refund", session_id=session_id)["events"]
    for event in refunded:
        assert outcome(stripe_webhooks.deliver(event)) == "already_applied"
    refunds = [e["amount_micros"] for e in entries(signed_in) if e["kind"] == "refund"]
    assert refunds == [0]
    assert assert_balance_is_the_sum_of_entries(signed_in) == 2_000_000
    assert checkout_view(signed_in, session_id)[0] == "refunded"


# --- amounts no Stripe event carries --------------------------------------------------------


def _session_with(**changes: Any) -> Callable[[str], dict[str, Any]]:
    def make(user: str) -> dict[str, Any]:
        session = checkout_session(user)
        metadata = {**session["metadata"], **changes.get("metadata", {})}
        session.update(changes, metadata=metadata)
        return build_event("checkout.session.completed", session)

    return make


@pytest.mark.parametrize(
    "make",
    [
        _session_with(amount_total=10**30),
        _session_with(amount_total=2**63),
        _session_with(amount_total=-500),
        _session_with(amount_total=1e30),
        _session_with(amount_total="500"),
        _session_with(metadata={"credit_micros": str(2**63)}),
        _session_with(metadata={"credit_micros": "1" + "0" * 30}),
        _session_with(metadata={"credit_micros": "9" * 5000}),
        _session_with(metadata={"credit_micros": "-5000000"}),
        _session_with(metadata={"credit_micros": "5e6"}),
        _session_with(metadata={"credit_micros": "0"}),
        _session_with(metadata={"credit_micros": "500000000"}),  # not what pack 5 grants
        _session_with(metadata={"pack": "5" * 300}),
    ],
    ids=[
        "amount 10^30",
        "amount 2^63",
        "negative amount",
        "float amount",
        "amount as text",
        "credit 2^63",
        "credit 10^30",
        "credit of 5000 digits",
        "negative credit",
        "credit in exponent notation",
        "no credit",
        "credit not the pack's",
        "pack id of 300 characters",
    ],
)
def test_a_signed_completion_with_an_impossible_amount_is_refused_and_changes_nothing(
    signed_in: Client, stripe_webhooks: StripeWebhooks, make: Callable[[str], dict[str, Any]]
) -> None:
    response = stripe_webhooks.deliver(make(user_id(signed_in)))
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["detail"].endswith(".")
    assert entries(signed_in) == []
    assert balance(signed_in)["balance_micros"] == 0


def _dispute_of(pi: str, amount: Any) -> dict[str, Any]:
    dispute = {
        "id": stripe_id("du_"),
        "object": "dispute",
        "amount": amount,
        "charge": stripe_id("ch_"),
        "currency": "usd",
        "payment_intent": pi,
        "status": "needs_response",
    }
    return build_event("charge.dispute.created", dispute)


@pytest.mark.parametrize(
    "make",
    [
        lambda pi: refund_event(pi, 10**30),
        lambda pi: refund_event(pi, 2**63),
        lambda pi: refund_event(pi, -100),
        lambda pi: refund_event(pi, 12.5),
        lambda pi: _dispute_of(pi, 10**30),
        lambda pi: _dispute_of(pi, -1),
        lambda pi: _dispute_of(pi, True),
    ],
    ids=[
        "refund 10^30",
        "refund 2^63",
        "negative refund",
        "fractional refund",
        "dispute 10^30",
        "negative dispute",
        "dispute of true",
    ],
)
def test_a_signed_refund_or_dispute_with_an_impossible_amount_is_refused_and_changes_nothing(
    signed_in: Client, stripe_webhooks: StripeWebhooks, make: Callable[[str], dict[str, Any]]
) -> None:
    purchase = completed(user_id(signed_in))
    assert outcome(stripe_webhooks.deliver(purchase)) == "applied"
    before = entries(signed_in)
    response = stripe_webhooks.deliver(make(purchase["data"]["object"]["payment_intent"]))
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert entries(signed_in) == before
    assert money_and_flags(signed_in) == (5_000_000, [])

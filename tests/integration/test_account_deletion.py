"""Deleting an account, DELETE /api/me, through the local host over HTTP against Azurite.

A user with calls, purchases, a refund and a verified caller ID deletes: afterwards no row of
any table the registry names is theirs, except the pseudonymised books, which balance and
name no one; a late refund lands on those books. A deletion cut short at any write and run
again ends in the same state. Refusals: a call in progress (409), a wrong confirmation (400),
a stale sign-in (401), storage down (503).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from local_host.azurite import Azurite, connection_string, free_port
from shared.bootstrap import Services
from shared.money.ledger import FLAG_ACCOUNT_CLOSING
from shared.privacy.erasure import Erasure
from shared.privacy.guard import check_write
from shared.privacy.pseudonyms import is_pseudonym, pseudonymised
from shared.privacy.registry import KINDS, OnDeletion, kind_named, kind_of
from shared.storage.keys import (
    ACCOUNTS_TABLE,
    ARCHIVE_KEY,
    ARCHIVES_PARTITION,
    ARCHIVES_TABLE,
    BALANCE_KEY,
    ERASURE_KEY,
    ERASURES_TABLE,
    JOURNAL_PREFIX,
    LEDGER_PREFIX,
    PAYMENT_OWNER_KEY,
    PAYMENT_PREFIX,
    PAYMENTS_TABLE,
    PROFILE_KEY,
    checkout_key,
    session_key,
)
from shared.storage.rows import Op, Row, Touch
from shared.storage.table_store import TableStore
from shared.telephony.calls_api import TwilioCallsApi
from tests.conftest import Client, StripeWebhooks
from tests.integration.test_caller_id_sandbox import answer, pending
from tests.integration.test_calling import AccountFactory, Twilio, call_sid
from tests.integration.test_telephony_sandbox import (
    LANDLINE,
    finished,
    place_call,
    services_like_the_hosts,
)
from tests.servers import LocalHost

Fund = Callable[[str, int], None]
CONFIRM = {"confirm": "DELETE"}
TABLES = sorted({kind.table for kind in KINDS})


# --- a user with everything --------------------------------------------------------------


def sign_in(client: Client) -> tuple[str, str]:
    email = f"deleting-{uuid.uuid4().hex[:10]}@example.com"
    return str(client.sign_in(email)["user_id"]), email


def buy(client: Client, hooks: StripeWebhooks, pack: str = "10") -> str:
    response = client.post("/api/checkout", json={"pack": pack, "nonce": secrets.token_hex(8)})
    assert response.status_code == 200, response.text
    session_id = str(response.json()["session_id"])
    hooks.sandbox("pay", session_id=session_id)
    return session_id


def a_mobile() -> str:
    """A UK mobile no other test uses (+44 7912 …, which the number policy accepts)."""
    return f"+447912{secrets.randbelow(10**6):06d}"


def verify_caller_id(host: LocalHost, client: Client) -> str:
    number = a_mobile()
    started = client.post("/api/me/caller-id", json={"number": number})
    assert started.status_code == 202, started.text
    [ringing] = [c for c in pending(host) if c["phone_number"] == number]
    answered = answer(host, ringing["call_sid"], code=started.json()["code"])
    assert answered.status_code == 200, answered.text
    assert client.get("/api/me/caller-id").json()["state"] == "verified"
    return number


def a_full_account(
    host: LocalHost, client: Client, hooks: StripeWebhooks
) -> tuple[str, str, str, str]:
    """Signed in, bought twice, one refunded in part, called twice, a verified caller ID.
    Returns the user id, email, the purchase with a refund still to come, and the number."""
    user_id, email = sign_in(client)
    first = buy(client, hooks)
    second = buy(client, hooks, "5")
    hooks.sandbox("refund", session_id=first, amount=300)
    number = verify_caller_id(host, client)
    for seconds in (4, 7):
        finished(client, place_call(client, user_id, LANDLINE, duration_seconds=seconds)["sid"])
    assert client.get("/api/me").status_code == 200
    return user_id, email, second, number


# --- what is left ---------------------------------------------------------------------------


def every_row(store: TableStore) -> Iterator[tuple[str, str, Row]]:
    for name in TABLES:
        for entity in store.table(name).client.list_entities():
            data = {k: v for k, v in entity.items() if k not in ("PartitionKey", "RowKey")}
            yield name, str(entity["PartitionKey"]), Row(str(entity["RowKey"]), data)


def rows_of(store: TableStore, user_id: str, links: set[str]) -> list[tuple[str, str, str]]:
    """Every row of every registry table that is the user's: in their partition, naming them
    in user_id, or in a partition that was theirs (identity hash, caller ID, PaymentIntent) and
    not repointed to their pseudonymised books."""
    found = []
    for table, partition, row in every_row(store):
        named = row.data.get("user_id")
        if partition == user_id or named == user_id or (partition in links and named is None):
            found.append((table, partition, row.key))
    return found


def the_books(store: TableStore, pseudonym: str) -> list[Row]:
    return list(store.table(ACCOUNTS_TABLE).rows(pseudonym))


def assert_books_balance_and_name_no_one(rows: list[Row], *secrets_: str) -> int:
    ledger = [r for r in rows if r.key.startswith(LEDGER_PREFIX)]
    journal = [r for r in rows if r.key.startswith(JOURNAL_PREFIX)]
    [balance] = [r for r in rows if r.key == BALANCE_KEY]
    assert balance.integer("micros") == sum(r.integer("amount_micros") for r in ledger)
    assert balance.integer("seq") == len(ledger) == len(journal)
    text = json.dumps([r.data for r in rows], default=str)
    for secret in secrets_:
        assert secret not in text
        assert secret.lstrip("+") not in text
    return balance.integer("micros")


def pseudonym_of(store: TableStore, pi: str) -> str:
    owner = store.table(PAYMENTS_TABLE).get(pi, PAYMENT_OWNER_KEY)
    assert owner is not None
    pseudonym = owner.text("user_id")
    assert is_pseudonym(pseudonym)
    return pseudonym


def payment_intent(store: TableStore, user_id: str, session_id: str) -> str:
    checkout = store.table(ACCOUNTS_TABLE).get(user_id, checkout_key(session_id))
    assert checkout is not None
    return checkout.text("payment_intent_id")


def links_of(store: TableStore, user_id: str) -> set[str]:
    """The partitions outside the user's own that hold their rows: identity, number, PIs."""
    accounts = store.table(ACCOUNTS_TABLE)
    profile = accounts.get(user_id, PROFILE_KEY)
    caller_id = accounts.get(user_id, "callerid")
    pis = [r.key.removeprefix(PAYMENT_PREFIX) for r in accounts.rows(user_id, PAYMENT_PREFIX)]
    links = {*pis}
    if profile and profile.text("identity_key"):
        links.add(profile.text("identity_key"))
    if caller_id:
        links.add(caller_id.text("number"))
    return links


# --- the whole journey --------------------------------------------------------------------


def test_deleting_leaves_nothing_erasable_and_books_that_balance_and_take_a_late_refund(
    host: LocalHost, client: Client, stripe_webhooks: StripeWebhooks, table_store: TableStore
) -> None:
    user_id, email, purchase, number = a_full_account(host, client, stripe_webhooks)
    links = links_of(table_store, user_id)
    assert len(links) == 4  # the identity hash, the caller ID, two PaymentIntents
    assert rows_of(table_store, user_id, links)
    pi = payment_intent(table_store, user_id, purchase)
    calls = [r.key for r in table_store.table(ACCOUNTS_TABLE).rows(user_id, "call:")]
    before = client.get("/api/balance").json()["balance_micros"]

    response = client.delete("/api/me", json={"confirm": "  delete "})

    assert response.status_code == 200, response.text
    assert "Max-Age=0" in response.headers["Set-Cookie"]
    summary = response.json()
    erased = {item["kind"]: item["count"] for item in summary["erased"]}
    assert erased["profile"] == erased["identity"] == erased["caller_id"] == 1
    assert erased["caller_id_owner"] == 1
    assert erased["call"] == erased["call_history"] == 2
    assert erased["session"] >= 1
    assert erased["checkout"] == 2
    kept = {item["kind"]: item for item in summary["kept"]}
    assert kept["payment"]["count"] == kept["payment_owner"]["count"] == 2
    assert kept["balance"]["count"] == 1
    assert kept["ledger_entry"]["count"] == kept["journal_row"]["count"] == 5  # 2+1 refund+2
    assert kept["ledger_entry"]["why"] == kind_named("ledger_entry").deletion_note
    until = datetime.now(UTC).replace(year=datetime.now(UTC).year + 10).date().isoformat()
    assert {item["kept_until"] for item in summary["kept"]} == {until}
    assert summary["twilio_call_logs"] == {"deleted": False, "count": 0}

    assert rows_of(table_store, user_id, links) == []
    assert table_store.table(ERASURES_TABLE).get(user_id, ERASURE_KEY) is None
    pseudonym = pseudonym_of(table_store, pi)
    books = the_books(table_store, pseudonym)
    assert assert_books_balance_and_name_no_one(books, user_id, email, number, LANDLINE) == before
    archive = table_store.table(ACCOUNTS_TABLE).get(pseudonym, ARCHIVE_KEY)
    assert archive is not None
    index = table_store.table(ARCHIVES_TABLE).get(ARCHIVES_PARTITION, pseudonym)
    assert index is not None
    assert index.get("kept_until") == archive.get("kept_until")
    # A call charge keeps its sid, country and prefix: never the number, nor the user.
    ledger = [r for r in books if r.key.startswith(LEDGER_PREFIX)]
    charges = [r for r in ledger if r.text("kind") == "call_charge"]
    assert {json.loads(r.text("details"))["call_sid"] for r in charges} == {
        key.removeprefix("call:") for key in calls
    }
    assert {tuple(sorted(json.loads(r.text("details")))) for r in charges} == {
        ("call_sid", "country", "rate_prefix")
    }
    assert not any("card_last4" in r.data for r in books)

    # Signed out everywhere: the cookie, and the session behind it, are gone.
    assert client.get("/api/me").status_code == 401
    again = client.delete("/api/me", json=CONFIRM)
    assert again.status_code == 401

    # A refund Stripe sends afterwards lands exactly on the pseudonymised books.
    late = stripe_webhooks.sandbox("refund", session_id=purchase, amount=200)
    assert late["deliveries"]
    assert {d["status"] for d in late["deliveries"]} == {200}
    books = the_books(table_store, pseudonym)
    refunds = [r for r in books if r.key.startswith(LEDGER_PREFIX) and r.text("kind") == "refund"]
    assert len(refunds) == 2
    after = assert_books_balance_and_name_no_one(books, user_id, email, number, LANDLINE)
    assert after < before
    assert rows_of(table_store, user_id, links) == []  # nothing recreated a profile


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"confirm": "yes"}, {"confirm": "DELETE ME"}, {"confirm": 1}, {"confirm": None}],
)
def test_a_wrong_confirmation_is_a_400_that_says_what_to_type(
    signed_in: Client, body: dict[str, Any]
) -> None:
    response = signed_in.delete("/api/me", json=body)
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert '"confirm": "DELETE"' in response.json()["detail"]
    assert signed_in.get("/api/me").status_code == 200


def test_a_body_that_is_not_json_is_a_400(signed_in: Client) -> None:
    response = signed_in.delete("/api/me", data=b"delete", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400
    assert signed_in.get("/api/me").status_code == 200


def test_a_stale_sign_in_must_sign_in_again(signed_in: Client, table_store: TableStore) -> None:
    token = signed_in.http.cookies["ownnumber_session"]
    user_id, session_id, _ = token.split(".")
    table_store.table(ACCOUNTS_TABLE).commit(
        user_id,
        [Touch(session_key(session_id), {"signed_in_at": datetime.now(UTC) - timedelta(days=1)})],
    )
    response = signed_in.delete("/api/me", json=CONFIRM)
    assert response.status_code == 401
    assert response.json()["code"] == "reauth_required"
    assert signed_in.get("/api/me").status_code == 200


def test_another_origin_cannot_delete(signed_in: Client) -> None:
    response = signed_in.delete("/api/me", json=CONFIRM, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert signed_in.get("/api/me").status_code == 200


def test_deleting_is_refused_while_a_call_is_up_and_works_once_it_ended(
    account: AccountFactory, twilio: Twilio, table_store: TableStore
) -> None:
    user = account()
    dialled = twilio.voice(user.identity, "+442079460018")
    assert not dialled.refused
    assert user.has_hold()

    refused = user.client.delete("/api/me", json=CONFIRM)

    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"].startswith("Hang up first")
    assert refused.json()["code"] == "call_in_progress"
    assert table_store.table(ERASURES_TABLE).get(user.user_id, ERASURE_KEY) is None
    assert FLAG_ACCOUNT_CLOSING not in user.ledger.balance(user.user_id).flags
    child = call_sid()
    for status, sequence in (("initiated", 0), ("ringing", 1), ("in-progress", 2)):
        assert twilio.status(dialled, child, status, sequence).status_code == 200
    assert twilio.status(dialled, child, "completed", 3, 30).status_code == 200
    assert not user.has_hold()
    assert user.client.delete("/api/me", json=CONFIRM).status_code == 200


def test_unreachable_storage_is_a_503_with_retry_after() -> None:
    host = LocalHost(connection_string(free_port())).start()
    try:
        response = requests.delete(
            f"{host.base_url}/api/me",
            json=CONFIRM,
            headers={"Origin": host.base_url, "Cookie": "ownnumber_session=u1.s1.secret"},
            timeout=30,
        )
    finally:
        host.stop()
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0


# --- cut short, then run again ---------------------------------------------------------------


class Crash(Exception):
    """The process died here."""


def crashing_store(azurite: Azurite, after_writes: int) -> TableStore:
    """The app's table store (with its registry guard) that dies at its Nth written row."""
    written = 0

    def check(table: str, op: Op) -> None:
        nonlocal written
        check_write(table, op)
        written += 1
        if written > after_writes:
            raise Crash(f"crashed before write {written}")

    return TableStore(azurite.connection_string, write_check=check)


def erasure_over(services: Services, store: TableStore) -> Erasure:
    services.store = store  # type: ignore[misc]  # the cached property, given
    return services.erasure


def snapshot_books(store: TableStore, user_id: str) -> dict[str, dict[str, Any]]:
    """What the books should become: each PSEUDONYMISE row, cut as the registry says."""
    accounts = store.table(ACCOUNTS_TABLE)
    rows = list(accounts.rows(user_id))
    calls = {r.key.removeprefix("call:"): r for r in rows if r.key.startswith("call:")}
    expected = {}
    for row in rows:
        kind = kind_of(ACCOUNTS_TABLE, row.key)
        assert kind is not None
        if kind.deletion is OnDeletion.PSEUDONYMISE:
            data = pseudonymised(kind, row, calls.get)
            if row.key == BALANCE_KEY:
                data["flags"] = FLAG_ACCOUNT_CLOSING
            expected[row.key] = data
    return expected


# Such an account's deletion writes 52 rows: the erasure row (1), the block (2-3), the caller ID
# (4-6), the owners (7-9), the books moved (10-38), no Twilio logs (39), the erase (40-48), the
# sessions (49-50), the sweep (51: it finds nothing) and the erasure row's removal (52). The
# crash comes at the write after `after_writes`: one or more in every step.
@pytest.mark.parametrize("after_writes", [0, 1, 2, 3, 6, 12, 30, 38, 40, 45, 49, 50, 51])
def test_a_deletion_cut_short_at_any_write_and_resumed_ends_as_one_that_ran_through(
    host: LocalHost,
    azurite: Azurite,
    client: Client,
    stripe_webhooks: StripeWebhooks,
    table_store: TableStore,
    after_writes: int,
) -> None:
    user_id, email, purchase, number = a_full_account(host, client, stripe_webhooks)
    links = links_of(table_store, user_id)
    pi = payment_intent(table_store, user_id, purchase)
    expected = snapshot_books(table_store, user_id)
    services = services_like_the_hosts(host, azurite)

    with pytest.raises(Crash):
        erasure_over(services, crashing_store(azurite, after_writes)).erase(user_id)

    erasure = erasure_over(services_like_the_hosts(host, azurite), table_store)
    if after_writes == 0:
        # Nothing was written: no deletion began, and the account is as it was.
        assert user_id not in erasure.unfinished(datetime.now(UTC))
        assert client.get("/api/me").status_code == 200
        summary = erasure.erase(user_id)
    else:
        assert user_id in erasure.unfinished(datetime.now(UTC))
        assert user_id not in erasure.unfinished(datetime.now(UTC) - timedelta(minutes=10))
        resumed = erasure.resume(user_id)
        assert resumed is not None
        summary = resumed
    assert erasure.resume(user_id) is None
    assert erasure.erase(user_id).to_json()["already_deleted"] is True  # asked again in-process

    assert rows_of(table_store, user_id, links) == []
    erased = {kind.name: count for kind, count in summary.erased}
    assert (erased["call"], erased["checkout"], erased["caller_id"]) == (2, 2, 1)
    pseudonym = pseudonym_of(table_store, pi)
    books = the_books(table_store, pseudonym)
    assert_books_balance_and_name_no_one(books, user_id, email, number, LANDLINE)
    got = {r.key: dict(r.data) for r in books if r.key != ARCHIVE_KEY}
    assert got == expected
    assert client.get("/api/me").status_code == 401


def test_a_call_placed_once_the_deletion_began_is_refused(
    host: LocalHost,
    azurite: Azurite,
    account: AccountFactory,
    twilio: Twilio,
    table_store: TableStore,
) -> None:
    user = account()
    services = services_like_the_hosts(host, azurite)
    with pytest.raises(Crash):
        # The erasure row, then the balance's closing flag: the first step, then a crash.
        erasure_over(services, crashing_store(azurite, 2)).erase(user.user_id)
    assert FLAG_ACCOUNT_CLOSING in user.ledger.balance(user.user_id).flags

    dialled = twilio.voice(user.identity, "+442079460018")

    assert dialled.refused
    assert "being deleted" in dialled.said
    assert not user.has_hold()
    assert user.client.delete("/api/me", json=CONFIRM).status_code == 200


def test_a_refund_while_the_books_move_is_redelivered_onto_the_moved_books(
    host: LocalHost,
    azurite: Azurite,
    client: Client,
    stripe_webhooks: StripeWebhooks,
    table_store: TableStore,
) -> None:
    user_id, email, purchase, number = a_full_account(host, client, stripe_webhooks)
    pi = payment_intent(table_store, user_id, purchase)
    services = services_like_the_hosts(host, azurite)
    with pytest.raises(Crash):
        erasure_over(services, crashing_store(azurite, 2)).erase(user_id)
    events = stripe_webhooks.sandbox("refund", session_id=purchase, amount=100, deliver=False)

    busy = [stripe_webhooks.deliver(event).status_code for event in events["events"]]

    assert 503 in busy  # Stripe redelivers it, for days if need be
    resumed = erasure_over(services_like_the_hosts(host, azurite), table_store).resume(user_id)
    assert resumed is not None
    for _ in range(2):  # and it applies once only
        for event in events["events"]:
            assert stripe_webhooks.deliver(event).status_code == 200
    books = the_books(table_store, pseudonym_of(table_store, pi))
    refunds = [r for r in books if r.key.startswith(LEDGER_PREFIX) and r.text("kind") == "refund"]
    assert len(refunds) == 2
    assert_books_balance_and_name_no_one(books, user_id, email, number, LANDLINE)


def test_a_call_and_a_deletion_racing_never_leave_a_call_on_deleted_books(
    account: AccountFactory, twilio: Twilio, table_store: TableStore
) -> None:
    for _ in range(6):
        user = account()
        with ThreadPoolExecutor(2) as pool:
            deleting = pool.submit(user.client.delete, "/api/me", json=CONFIRM)
            calling = pool.submit(twilio.voice, user.identity, "+442079460018")
            deleted, dialled = deleting.result(), calling.result()
        if dialled.refused:
            assert deleted.status_code == 200, deleted.text
            assert not user.has_hold()
        else:
            # The call won: the deletion saw its hold and changed nothing.
            assert deleted.status_code == 409, deleted.text
            assert user.has_hold()
            assert FLAG_ACCOUNT_CLOSING not in user.ledger.balance(user.user_id).flags
        assert table_store.table(ERASURES_TABLE).get(user.user_id, ERASURE_KEY) is None


# --- Twilio's call logs ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def logs_host(azurite: Azurite) -> Iterator[LocalHost]:
    server = LocalHost(azurite.connection_string, {"DELETE_TWILIO_CALL_LOGS": "true"}).start()
    yield server
    server.stop()


def test_with_delete_twilio_call_logs_the_calls_are_deleted_at_twilio_too(
    logs_host: LocalHost, azurite: Azurite, fund: Fund
) -> None:
    client = Client(logs_host.base_url)
    user_id, _ = sign_in(client)
    fund(user_id, 1_000_000)
    states = [
        finished(client, place_call(client, user_id, LANDLINE, duration_seconds=s)["sid"])
        for s in (3, 5)
    ]
    sids = [state["sid"] for state in states] + [state["dial"]["sid"] for state in states]
    api = TwilioCallsApi(services_like_the_hosts(logs_host, azurite).settings.twilio)
    assert all(api.fetch(sid) is not None for sid in sids)

    response = client.delete("/api/me", json=CONFIRM)

    assert response.status_code == 200, response.text
    assert response.json()["twilio_call_logs"] == {"deleted": True, "count": 2}
    assert [api.fetch(sid) for sid in sids] == [None] * 4
    # Deleting again is Twilio's 404, which the adapter reads as "gone already".
    assert api.delete(sids[0]) is False


def test_the_sandboxs_calls_api_deletes_a_call_once_and_then_answers_404(
    host: LocalHost, azurite: Azurite, signed_in: Client, fund: Fund
) -> None:
    user_id = signed_in.get("/api/me").json()["user_id"]
    fund(user_id, 1_000_000)
    placed = place_call(signed_in, user_id, LANDLINE, duration_seconds=2)
    sid = finished(signed_in, placed["sid"])["sid"]
    settings = services_like_the_hosts(host, azurite).settings.twilio
    calls = f"{host.base_url}/sandbox/twilio/2010-04-01/Accounts/{settings.account_sid}/Calls"
    url = f"{calls}/{sid}.json"
    auth = (settings.api_key_sid, settings.api_key_secret)

    assert requests.delete(url, timeout=10).status_code == 401
    gone = requests.delete(url, auth=auth, timeout=10)
    assert (gone.status_code, gone.content) == (204, b"")
    again = requests.delete(url, auth=auth, timeout=10)
    assert again.status_code == 404
    assert again.json()["code"] == 20404
    assert requests.get(url, auth=auth, timeout=10).status_code == 404


def test_the_retention_run_finishes_a_deletion_cut_short_once_it_is_an_hour_old(
    host: LocalHost,
    azurite: Azurite,
    client: Client,
    stripe_webhooks: StripeWebhooks,
    table_store: TableStore,
) -> None:
    from shared.privacy.retention import Retention

    user_id, email, purchase, number = a_full_account(host, client, stripe_webhooks)
    links = links_of(table_store, user_id)
    pi = payment_intent(table_store, user_id, purchase)
    with pytest.raises(Crash):
        erasure_over(services_like_the_hosts(host, azurite), crashing_store(azurite, 20)).erase(
            user_id
        )
    services = services_like_the_hosts(host, azurite)
    services.store = table_store  # type: ignore[misc]  # the cached property, given

    # Every table of the run's own steps empty and its own: only its seam reaches this user.
    suffix = uuid.uuid4().hex[:8]

    def run_at(moment: datetime) -> int:
        retention = Retention(
            table=lambda name: table_store.table(name + suffix),
            privacy=services.settings.privacy,
            sessions=services.settings.sessions,
            clock=lambda: moment,
            erasures=services.unfinished_erasures,
        )
        return retention.run().erasures_resumed

    assert run_at(datetime.now(UTC)) == 0  # too young: the request may still be running it
    assert rows_of(table_store, user_id, links)
    assert run_at(datetime.now(UTC) + timedelta(hours=2)) >= 1

    assert rows_of(table_store, user_id, links) == []
    books = the_books(table_store, pseudonym_of(table_store, pi))
    assert_books_balance_and_name_no_one(books, user_id, email, number, LANDLINE)

"""Who may do what, operation by operation: one row for every operation of the OpenAPI
document the app serves (the test fails for an operation without a row, and for a row of no
operation), saying how to call it and what is expected

- without a session cookie: 401 problem+json, or why it is public (webhooks: refused unless
  signed);
- from user A, naming user B's things (ids, continuation tokens, Twilio's connect parameters
  and callback URLs): refused, and B's data unchanged; or why there is nothing of B's to name;
- with a session that has ended (signed out, or ended from another session): 401 on every
  authenticated operation; and a Twilio token minted before places no call.

One host for the module (the session's), its accounts made once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests

from shared.money.ledger import EntryKind, Ledger
from shared.storage.keys import ACCOUNTS_TABLE
from shared.storage.table_store import TableStore
from tests.conftest import Client, StripeWebhooks
from tests.integration.test_calling import (
    LONDON,
    Account,
    Dialled,
    Twilio,
    answered_call,
    call_sid,
    make_accounts,
)
from tests.servers import LocalHost

PROBLEM = "application/problem+json"
# A UK mobile B verifies: fresh per run, so that no other test holds it.
VERIFIABLE_NUMBER = f"+447912{uuid.uuid4().int % 10**6:06d}"


@dataclass
class World:
    """Users A and B, B with something of every kind for A to reach for."""

    base_url: str
    twilio: Twilio
    a: Account
    b: Account
    b_other_session: str  # the id of a second session of B's
    b_checkout: str
    b_payment_intent: str
    b_ledger_continuation: str
    b_calls_continuation: str
    a_dialled: Dialled  # a call A placed, with the callback URLs Twilio was given for it


Call = Callable[[Client, World], requests.Response]


def call(method: str, path: str, **kwargs: Any) -> Call:
    return lambda client, _: client.request(method, path, **kwargs)


def twilio_unsigned(path: str, form: dict[str, str]) -> Call:
    """Twilio's webhook with the form, sent by anyone: no X-Twilio-Signature."""
    return lambda client, _: client.request("POST", path, data=form)


@dataclass(frozen=True)
class Public:
    why: str
    status: int = 200


@dataclass(frozen=True)
class Row:
    call: Call
    # Without a cookie: the status refused with, or why anyone may.
    anonymous: int | Public
    # A against B: a check that fails when A reaches B's data, or why nothing of B's is named.
    cross_user: Callable[[World], None] | str
    # With an ended session: 401, or why a session is not what decides.
    revoked: int | str = 401


OWN_DATA = "names nothing of anyone's: the session says whose data it is"
NOT_SESSION_BOUND = "not a session's request: its signature says who sent it"
SESSION_MOOT = "public: a session, live or ended, changes nothing here"


# --- A against B: each check does what A might, then asserts B's data is as it was ------


def b_snapshot(world: World) -> dict[str, Any]:
    b = world.b.client
    return {
        "sessions": sorted(s["id"] for s in b.get("/api/me/sessions").json()["sessions"]),
        "ledger": b.get("/api/ledger", params={"limit": 200}).json()["entries"],
        "calls": b.get("/api/calls", params={"limit": 100}).json()["calls"],
        "payments": b.get("/api/payments", params={"limit": 50}).json()["payments"],
        "caller_id": b.get("/api/me/caller-id").json(),
        "balance": world.b.balance(),
    }


def unchanged_for_b(check: Callable[[World], None]) -> Callable[[World], None]:
    def run(world: World) -> None:
        before = b_snapshot(world)
        check(world)
        assert b_snapshot(world) == before

    return run


@unchanged_for_b
def a_ends_bs_session(world: World) -> None:
    response = world.a.client.delete(f"/api/me/sessions/{world.b_other_session}")
    assert response.status_code == 404, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM)


@unchanged_for_b
def a_reads_bs_checkout(world: World) -> None:
    response = world.a.client.get(f"/api/checkout/{world.b_checkout}")
    assert response.status_code == 404, response.text
    assert world.b.client.get(f"/api/checkout/{world.b_checkout}").status_code == 200


def continuation_of_b_is_refused(path: str, attribute: str) -> Callable[[World], None]:
    @unchanged_for_b
    def check(world: World) -> None:
        token = getattr(world, attribute)
        response = world.a.client.get(path, params={"limit": 1, "continuation": token})
        # Bound to the list it was given for: another user's is not one this API gave A.
        assert response.status_code == 400, response.text
        assert "continuation" in response.json()["detail"]
        # While for B it continues B's list: refusing every token would pass the above too.
        own = world.b.client.get(path, params={"limit": 1, "continuation": token})
        assert own.status_code == 200, own.text
        first = world.b.client.get(path, params={"limit": 1}).json()
        assert own.json() != first

    return check


@unchanged_for_b
def a_lists_no_payment_of_b(world: World) -> None:
    # No continuation here (one page of at most 50): A's list holds A's payments only.
    listed = world.a.client.get("/api/payments", params={"limit": 50}).json()["payments"]
    assert world.b_payment_intent not in {p["payment_intent"] for p in listed}


def a_sees_only_a(path: str, key: str, b_value: Callable[[World], str]) -> Callable[[World], None]:
    """For A's own listings: nothing of B's is in them."""

    @unchanged_for_b
    def check(world: World) -> None:
        response = world.a.client.get(path)
        assert response.status_code == 200, response.text
        assert b_value(world) not in str(response.json()[key])

    return check


@unchanged_for_b
def a_cannot_call_as_b(world: World) -> None:
    # A's token's identity names A and A's session; B's user id with A's session is a
    # session B does not have, and a phone's From (no client:) is nobody's.
    a_user, a_session = world.a.identity.split("_", 1)
    for identity in (
        f"{world.b.user_id}_{a_session}",
        world.b.identity.replace(world.b.user_id, a_user),
    ):
        assert world.twilio.voice(identity, LONDON).refused


@unchanged_for_b
def forged_status_callback_for_b(world: World) -> None:
    url = world.a_dialled.number.attrib["statusCallback"]
    form = {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": call_sid(),
        "CallStatus": "completed",
        "CallDuration": "600",
        "SequenceNumber": "3",
    }
    # Signed (correctly) for A's URL, then sent with B named in it: Twilio never signed that.
    response = world.twilio.post(with_query(url, user=world.b.user_id), form, signed_url=url)
    assert response.status_code == 403, response.text


@unchanged_for_b
def forged_dial_action_for_b(world: World) -> None:
    dial = world.a_dialled.dial
    assert dial is not None
    url = dial.attrib["action"]
    form = {"AccountSid": "AC" + "0" * 32, "CallSid": call_sid(), "DialCallStatus": "completed"}
    response = world.twilio.post(with_query(url, user=world.b.user_id), form, signed_url=url)
    assert response.status_code == 403, response.text


@unchanged_for_b
def forged_caller_id_report_for_b(world: World) -> None:
    path = "/api/caller-id/status"
    genuine = f"{world.base_url}{path}?" + urlencode({"u": world.a.user_id, "a": "0" * 32})
    forged = with_query(genuine, u=world.b.user_id)
    form = {
        "AccountSid": "AC" + "0" * 32,
        "VerificationStatus": "success",
        "PhoneNumber": VERIFIABLE_NUMBER,
        "OutgoingCallerIdSid": "PN" + "0" * 32,
    }
    response = world.twilio.post(forged, form, signed_url=genuine)
    assert response.status_code == 403, response.text


@unchanged_for_b
def a_cannot_take_bs_number(world: World) -> None:
    response = world.a.client.post("/api/me/caller-id", json={"number": VERIFIABLE_NUMBER})
    assert response.status_code == 400, response.text
    assert "can't be verified for your account" in response.json()["detail"]


@unchanged_for_b
def a_removes_only_as_caller_id(world: World) -> None:
    assert world.a.client.delete("/api/me/caller-id").json()["state"] == "none"


@unchanged_for_b
def a_reads_only_as_caller_id(world: World) -> None:
    assert world.a.client.get("/api/me/caller-id").json()["number"] != VERIFIABLE_NUMBER


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- the matrix: one row per operation of the document -------------------------------------

TWILIO_FORM = {"AccountSid": "AC" + "0" * 32, "CallSid": "CA" + "0" * 32, "From": "client:x"}
ROWS: dict[tuple[str, str], Row] = {
    ("get", "/api/health"): Row(
        call("GET", "/api/health"), Public("a probe's"), OWN_DATA, SESSION_MOOT
    ),
    ("get", "/api/openapi.json"): Row(
        call("GET", "/api/openapi.json"),
        Public("the contract, the same for all"),
        OWN_DATA,
        SESSION_MOOT,
    ),
    ("get", "/api/config"): Row(
        call("GET", "/api/config"),
        Public("what a page needs before sign-in"),
        OWN_DATA,
        SESSION_MOOT,
    ),
    ("get", "/api/countries"): Row(
        call("GET", "/api/countries"), Public("the same for everyone"), OWN_DATA, SESSION_MOOT
    ),
    ("get", "/api/privacy/records"): Row(
        call("GET", "/api/privacy/records"),
        Public("the record of processing is public"),
        OWN_DATA,
        SESSION_MOOT,
    ),
    ("get", "/api/privacy/cookies"): Row(
        call("GET", "/api/privacy/cookies"),
        Public("the cookie list comes before consent"),
        OWN_DATA,
        SESSION_MOOT,
    ),
    ("get", "/api/auth/login"): Row(
        call("GET", "/api/auth/login"),
        Public("signing in starts without a session (404: Entra is not set up here)", 404),
        OWN_DATA,
        SESSION_MOOT,
    ),
    ("get", "/api/auth/callback"): Row(
        call("GET", "/api/auth/callback"),
        Public("the provider's way back; the state cookie decides (404 here, as above)", 404),
        OWN_DATA,
        SESSION_MOOT,
    ),
    ("post", "/api/auth/dev-login"): Row(
        call("POST", "/api/auth/dev-login", json={"email": "x"}),
        Public("the sandbox's sign-in (a bad email: 400)", 400),
        "signs in as whoever it names, by design, in the loopback sandbox only",
        SESSION_MOOT,
    ),
    ("post", "/api/auth/logout"): Row(
        call("POST", "/api/auth/logout"),
        Public("signing out with no session clears the cookie, nothing else"),
        "ends only the session its cookie names",
        SESSION_MOOT,
    ),
    ("post", "/api/auth/logout-all"): Row(
        call("POST", "/api/auth/logout-all"), 401, "ends the asking user's sessions only"
    ),
    ("get", "/api/me"): Row(
        call("GET", "/api/me"), 401, a_sees_only_a("/api/me", "user_id", lambda w: w.b.user_id)
    ),
    ("patch", "/api/me"): Row(call("PATCH", "/api/me", json={"name": "A"}), 401, OWN_DATA),
    ("delete", "/api/me"): Row(call("DELETE", "/api/me", json={"confirm": "no"}), 401, OWN_DATA),
    ("get", "/api/me/export"): Row(call("GET", "/api/me/export"), 401, OWN_DATA),
    ("get", "/api/me/sessions"): Row(
        call("GET", "/api/me/sessions"),
        401,
        a_sees_only_a("/api/me/sessions", "sessions", lambda w: w.b_other_session),
    ),
    ("delete", "/api/me/sessions/{id}"): Row(
        lambda client, world: client.delete(f"/api/me/sessions/{world.b_other_session}"),
        401,
        a_ends_bs_session,
    ),
    ("get", "/api/me/consent"): Row(call("GET", "/api/me/consent"), 401, OWN_DATA),
    ("put", "/api/me/consent"): Row(
        call("PUT", "/api/me/consent", json={"analytics": False, "source": "banner"}),
        401,
        OWN_DATA,
    ),
    ("get", "/api/balance"): Row(call("GET", "/api/balance"), 401, OWN_DATA),
    ("get", "/api/ledger"): Row(
        call("GET", "/api/ledger"),
        401,
        continuation_of_b_is_refused("/api/ledger", "b_ledger_continuation"),
    ),
    ("get", "/api/calls"): Row(
        call("GET", "/api/calls"),
        401,
        continuation_of_b_is_refused("/api/calls", "b_calls_continuation"),
    ),
    ("get", "/api/payments"): Row(call("GET", "/api/payments"), 401, a_lists_no_payment_of_b),
    ("post", "/api/token"): Row(
        call("POST", "/api/token"),
        401,
        "mints for the asking session only; what a token can do is /api/voice's row",
    ),
    ("get", "/api/rates"): Row(
        call("GET", "/api/rates", params={"to": LONDON}),
        401,
        "prices for the asking user's balance; names nothing of anyone's",
    ),
    ("post", "/api/checkout"): Row(
        call("POST", "/api/checkout", json={"pack": "5"}), 401, OWN_DATA
    ),
    ("get", "/api/checkout/{session_id}"): Row(
        lambda client, world: client.get(f"/api/checkout/{world.b_checkout}"),
        401,
        a_reads_bs_checkout,
    ),
    ("get", "/api/me/caller-id"): Row(
        call("GET", "/api/me/caller-id"), 401, a_reads_only_as_caller_id
    ),
    ("post", "/api/me/caller-id"): Row(
        call("POST", "/api/me/caller-id", json={"number": VERIFIABLE_NUMBER}),
        401,
        a_cannot_take_bs_number,
    ),
    ("delete", "/api/me/caller-id"): Row(
        call("DELETE", "/api/me/caller-id"), 401, a_removes_only_as_caller_id
    ),
    ("post", "/api/voice"): Row(
        twilio_unsigned("/api/voice", TWILIO_FORM), 403, a_cannot_call_as_b, NOT_SESSION_BOUND
    ),
    ("post", "/api/call-status"): Row(
        twilio_unsigned("/api/call-status?user=u&call=c", TWILIO_FORM),
        403,
        forged_status_callback_for_b,
        NOT_SESSION_BOUND,
    ),
    ("post", "/api/call-status/dial-action"): Row(
        twilio_unsigned("/api/call-status/dial-action?user=u&call=c", TWILIO_FORM),
        403,
        forged_dial_action_for_b,
        NOT_SESSION_BOUND,
    ),
    ("post", "/api/caller-id/status"): Row(
        twilio_unsigned("/api/caller-id/status?u=u&a=a", TWILIO_FORM),
        403,
        forged_caller_id_report_for_b,
        NOT_SESSION_BOUND,
    ),
    ("post", "/api/stripe/webhook"): Row(
        lambda client, _: client.request("POST", "/api/stripe/webhook", json={"id": "evt_1"}),
        400,
        "an event names its account only inside what Stripe signed",
        NOT_SESSION_BOUND,
    ),
}


# --- the accounts, made once ---------------------------------------------------------------


@pytest.fixture(scope="module")
def world(host: LocalHost, table_store: TableStore) -> World:
    ledger = Ledger(table_store.table(ACCOUNTS_TABLE))

    def fund(user_id: str, micros: int) -> None:
        # As the fund fixture does, once for the module.
        ledger.post(user_id, f"test-credit-{uuid.uuid4().hex}", micros, EntryKind.ADJUSTMENT)

    new_account = make_accounts(host.base_url, table_store, fund)
    twilio = Twilio(host.base_url)
    a, b = new_account(), new_account()
    # A second ledger entry and two calls, so that B's first pages have continuations.
    fund(b.user_id, 1_000_000)
    for _ in range(2):
        answered_call(twilio, twilio.voice(b.identity, LONDON), 30)
    b_checkout = b.client.post("/api/checkout", json={"pack": "5"}).json()["session_id"]
    StripeWebhooks(host.base_url).sandbox("pay", session_id=b_checkout)
    payments = b.client.get("/api/payments").json()["payments"]
    started = b.client.post("/api/me/caller-id", json={"number": VERIFIABLE_NUMBER})
    assert started.status_code == 202, started.text
    # B on a second device: its session is the id A reaches for.
    Client(host.base_url).sign_in(b.client.get("/api/me").json()["email"])
    listed = b.client.get("/api/me/sessions").json()["sessions"]
    b_other = next(s["id"] for s in listed if not s["current"])
    # A call of A's, over (so A may call again), whose callback URLs A's forgeries start from.
    a_dialled = twilio.voice(a.identity, LONDON)
    answered_call(twilio, a_dialled, 10)
    return World(
        base_url=host.base_url,
        twilio=twilio,
        a=a,
        b=b,
        b_other_session=b_other,
        b_checkout=b_checkout,
        b_payment_intent=payments[0]["payment_intent"],
        b_ledger_continuation=page_token(b.client, "/api/ledger"),
        b_calls_continuation=page_token(b.client, "/api/calls"),
        a_dialled=a_dialled,
    )


def page_token(client: Client, path: str) -> str:
    token = client.get(path, params={"limit": 1}).json()["continuation"]
    assert token, path
    return str(token)


@pytest.fixture(scope="module")
def spec_operations(host: LocalHost) -> set[tuple[str, str]]:
    document = requests.get(f"{host.base_url}/api/openapi.json", timeout=30).json()
    return {(method, path) for path, item in document["paths"].items() for method in item}


@pytest.fixture(scope="module")
def revoked(host: LocalHost, world: World) -> dict[str, Client]:
    """A's sessions that have ended: one signed out, one ended from another of A's sessions."""
    email = world.a.client.get("/api/me").json()["email"]
    signed_out, ended = Client(host.base_url), Client(host.base_url)
    for client in (signed_out, ended):
        client.sign_in(email)
    kept = {c.value for c in signed_out.http.cookies}
    assert signed_out.post("/api/auth/logout").status_code == 200
    # The browser would drop the cleared cookie; a thief keeps the old value.
    signed_out.http.cookies.clear()
    signed_out.http.cookies.set("ownnumber_session", kept.pop())
    mine = ended.get("/api/me/sessions").json()["sessions"]
    ended_id = next(s["id"] for s in mine if s["current"])
    assert world.a.client.delete(f"/api/me/sessions/{ended_id}").status_code == 200
    return {"signed out": signed_out, "ended elsewhere": ended}


# --- the tests -----------------------------------------------------------------------------


def test_every_operation_of_the_spec_has_a_row(spec_operations: set[tuple[str, str]]) -> None:
    assert len(spec_operations) > 30
    assert spec_operations - set(ROWS) == set(), "operations without a row"


def test_every_row_names_an_operation_of_the_spec(spec_operations: set[tuple[str, str]]) -> None:
    assert set(ROWS) - spec_operations == set(), "rows of no operation"


@pytest.mark.parametrize("operation", sorted(ROWS), ids=" ".join)
def test_without_a_session(operation: tuple[str, str], host: LocalHost, world: World) -> None:
    row = ROWS[operation]
    response = row.call(Client(host.base_url), world)
    if isinstance(row.anonymous, Public):
        assert row.anonymous.why
        assert response.status_code == row.anonymous.status, response.text
        return
    assert response.status_code == row.anonymous, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM)


CROSS_USER = sorted(op for op, row in ROWS.items() if callable(row.cross_user))


@pytest.mark.parametrize("operation", CROSS_USER, ids=" ".join)
def test_user_a_cannot_reach_user_bs_data(operation: tuple[str, str], world: World) -> None:
    check = ROWS[operation].cross_user
    assert callable(check)
    check(world)


def test_the_rows_that_name_nothing_of_bs_say_why() -> None:
    reasons = [row.cross_user for row in ROWS.values() if not callable(row.cross_user)]
    assert reasons
    assert all(isinstance(r, str) and len(r) > 10 for r in reasons)
    assert len(CROSS_USER) >= 12


REVOKED = sorted(op for op, row in ROWS.items() if row.revoked == 401)


@pytest.mark.parametrize("how", ["signed out", "ended elsewhere"])
@pytest.mark.parametrize("operation", REVOKED, ids=" ".join)
def test_an_ended_session_is_refused_everywhere(
    operation: tuple[str, str], how: str, revoked: dict[str, Client], world: World
) -> None:
    response = ROWS[operation].call(revoked[how], world)
    assert response.status_code == 401, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM)


def test_every_authenticated_operation_is_tried_with_an_ended_session() -> None:
    # Whatever needs a session refuses an ended one; the others say why a session is moot.
    for operation, row in ROWS.items():
        if row.anonymous == 401:
            assert row.revoked == 401, operation
        else:
            assert isinstance(row.revoked, str), operation
            assert len(row.revoked) > 10, operation
    assert len(REVOKED) >= 20


@pytest.mark.parametrize("how", ["signed out", "ended elsewhere"])
def test_a_token_minted_before_the_session_ended_places_no_call(
    how: str, host: LocalHost, world: World
) -> None:
    device = Client(host.base_url)
    device.sign_in(world.a.client.get("/api/me").json()["email"])
    identity = device.post("/api/token").json()["identity"]
    balance = world.a.balance()
    if how == "signed out":
        assert device.post("/api/auth/logout").status_code == 200
    else:
        mine = device.get("/api/me/sessions").json()["sessions"]
        ended = next(s["id"] for s in mine if s["current"])
        assert world.a.client.delete(f"/api/me/sessions/{ended}").status_code == 200
    dialled = world.twilio.voice(identity, LONDON, sid="CA" + uuid.uuid4().hex)
    assert dialled.refused
    assert "signed out" in dialled.said
    assert world.a.balance() == balance

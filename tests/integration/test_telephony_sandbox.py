"""End-to-end sandbox calls through the local host: the sandbox plays Twilio over signed HTTP,
our /api/voice and /api/call-status answer it, and the ledger shows what the call cost."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from local_host.azurite import Azurite
from shared.bootstrap import Services
from shared.calling.rating import SAMPLE_DECK_PATH, Rate, load_rate_deck
from shared.calling.reconciliation import reconcile
from shared.config import load_settings
from shared.money.ledger import EntryKind
from shared.telephony.webhook_overrides import OVERRIDES
from tests.conftest import Client
from tests.servers import SAMPLE_SETTINGS, LocalHost

LANDLINE = "+442079460018"  # a UK landline in Ofcom's drama range: answers in the sandbox
BUSY, NO_ANSWER, FAILED = "+442079460001", "+442079460002", "+442079460003"
PREMIUM = "+449090901234"
US_NUMBER = "+14155550100"
ONE_DOLLAR = 1_000_000
# Short rings keep the suite fast; the sandbox's defaults are a human 1 s and 2 s.
QUICK = {"ring_delay_ms": 20, "answer_delay_ms": 20}
DEADLINE_SECONDS = 20.0


def landline_rate() -> Rate:
    rate = load_rate_deck(SAMPLE_DECK_PATH).lookup(LANDLINE)
    assert rate is not None
    return rate


Fund = Callable[[str, int], None]


def user_of(client: Client) -> str:
    return str(client.get("/api/me").json()["user_id"])


def identity_of(client: Client) -> str:
    """The Twilio identity of the client's tokens: its user and its session."""
    return str(client.post("/api/token").json()["identity"])


def place_call(
    client: Client, user_id: str, to: str, identity: str | None = None, **options: Any
) -> dict[str, Any]:
    """Starts a sandbox call from the client's session (a token identity minted now, unless
    given: a test whose storage is down cannot mint one)."""
    identity = identity or identity_of(client)
    assert identity.startswith(f"{user_id}_")
    response = client.post(
        "/sandbox/telephony/calls", json={"identity": identity, "to": to, **QUICK, **options}
    )
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/sandbox/telephony/calls/{response.json()['sid']}"
    return response.json()


def call_state(client: Client, sid: str) -> dict[str, Any]:
    response = client.get(f"/sandbox/telephony/calls/{sid}")
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(
    client: Client, sid: str, done: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        state = call_state(client, sid)
        if done(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"the call never {what}: {state}")
        time.sleep(0.02)  # poll the sandbox again


def finished(client: Client, sid: str) -> dict[str, Any]:
    """The call once it has ended and every webhook of it has been answered."""
    return wait_for(client, sid, lambda state: state["finished"], "finished")


def balance(client: Client) -> int:
    return int(client.get("/api/balance").json()["balance_micros"])


def call_charges(client: Client) -> list[int]:
    entries = client.get("/api/ledger", params={"limit": 200}).json()["entries"]
    return [e["amount_micros"] for e in entries if e["kind"] == EntryKind.CALL_CHARGE.value]


def callbacks(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for w in state["webhooks"] if w["kind"] == "status"]


def assert_every_webhook_accepted(state: dict[str, Any]) -> None:
    assert state["error"] is None, state["error"]
    answers = [(w["kind"], w["status_code"]) for w in state["webhooks"]]
    assert all(status == 200 for _, status in answers), answers


def test_an_answered_call_is_billed_once_at_the_decks_price(signed_in: Client, fund: Fund) -> None:
    user_id = user_of(signed_in)
    fund(user_id, ONE_DOLLAR)
    started = place_call(signed_in, user_id, LANDLINE, duration_seconds=61)
    assert started["sid"].startswith("CA")
    assert len(started["sid"]) == 34
    state = finished(signed_in, started["sid"])

    assert_every_webhook_accepted(state)
    assert state["status"] == "completed"
    assert state["dial"]["status"] == "completed"
    assert state["dial"]["duration_seconds"] == 61
    assert [w["params"]["CallStatus"] for w in callbacks(state)] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert next(w["kind"] for w in state["webhooks"]) == "voice"
    price = landline_rate().charge(61)
    assert price == 15_250  # 60/1 increments at 0.015 a minute: 61 seconds, rounded up
    assert call_charges(signed_in) == [-price]
    assert balance(signed_in) == ONE_DOLLAR - price


@pytest.mark.parametrize("number", [BUSY, NO_ANSWER, FAILED])
def test_a_call_nobody_answers_costs_nothing(signed_in: Client, fund: Fund, number: str) -> None:
    outcome = {BUSY: "busy", NO_ANSWER: "no-answer", FAILED: "failed"}[number]
    user_id = user_of(signed_in)
    fund(user_id, ONE_DOLLAR)
    state = finished(signed_in, place_call(signed_in, user_id, number)["sid"])

    assert_every_webhook_accepted(state)
    assert state["dial"]["status"] == outcome
    assert callbacks(state)[-1]["params"]["CallStatus"] == outcome
    assert callbacks(state)[-1]["params"]["CallDuration"] == "0"
    assert not any(call_charges(signed_in))
    assert balance(signed_in) == ONE_DOLLAR


def test_duplicated_shuffled_concurrent_callbacks_debit_exactly_once(
    signed_in: Client, fund: Fund
) -> None:
    user_id = user_of(signed_in)
    fund(user_id, ONE_DOLLAR)
    state = finished(
        signed_in,
        place_call(
            signed_in,
            user_id,
            LANDLINE,
            duration_seconds=125,
            duplicate_callbacks=True,
            shuffle_callbacks=True,
            concurrent_callbacks=True,
            seed=7,
        )["sid"],
    )

    delivered = callbacks(state)
    assert len(delivered) == 8
    sequence = [int(w["params"]["SequenceNumber"]) for w in delivered]
    assert sorted(sequence) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert all(w["status_code"] == 200 for w in delivered)
    assert state["dial"]["duration_seconds"] == 125
    price = landline_rate().charge(125)
    assert call_charges(signed_in) == [-price]
    assert balance(signed_in) == ONE_DOLLAR - price


def test_a_call_whose_status_callbacks_were_lost_is_settled_once_by_its_dial_action(
    signed_in: Client, fund: Fund
) -> None:
    user_id = user_of(signed_in)
    fund(user_id, ONE_DOLLAR)
    state = finished(
        signed_in,
        place_call(signed_in, user_id, LANDLINE, duration_seconds=61, drop_status_callbacks=True)[
            "sid"
        ],
    )

    assert state["error"] is None
    assert all(w["dropped"] for w in callbacks(state))
    [action] = [w for w in state["webhooks"] if w["kind"] == "action"]
    assert (action["status_code"], action["params"]["DialCallDuration"]) == (200, "61")
    price = landline_rate().charge(61)
    assert call_charges(signed_in) == [-price]
    assert balance(signed_in) == ONE_DOLLAR - price
    # Settled, the line is free again.
    again = finished(signed_in, place_call(signed_in, user_id, BUSY)["sid"])
    assert again["dial"]["status"] == "busy"


def test_the_dial_action_first_then_shuffled_duplicated_callbacks_debit_exactly_once(
    signed_in: Client, fund: Fund
) -> None:
    user_id = user_of(signed_in)
    fund(user_id, ONE_DOLLAR)
    state = finished(
        signed_in,
        place_call(
            signed_in,
            user_id,
            LANDLINE,
            duration_seconds=125,
            action_first=True,
            duplicate_callbacks=True,
            shuffle_callbacks=True,
            seed=11,
        )["sid"],
    )

    assert_every_webhook_accepted(state)
    kinds = [w["kind"] for w in state["webhooks"]]
    assert kinds == ["voice", "action"] + ["status"] * 8
    price = landline_rate().charge(125)
    assert call_charges(signed_in) == [-price]
    assert balance(signed_in) == ONE_DOLLAR - price


def test_a_premium_rate_number_is_refused_aloud_and_costs_nothing(
    signed_in: Client, fund: Fund
) -> None:
    user_id = user_of(signed_in)
    fund(user_id, ONE_DOLLAR)
    started = place_call(signed_in, user_id, PREMIUM)

    # A refusal is decided by the voice webhook itself: the answer to the POST already has it.
    assert started["finished"] is True
    assert started["status"] == "completed"
    assert started["dial"] is None
    assert any("premium-rate" in sentence for sentence in started["spoken"])
    assert [w["kind"] for w in started["webhooks"]] == ["voice"]
    assert not call_charges(signed_in)
    assert balance(signed_in) == ONE_DOLLAR


def test_the_call_is_cut_at_the_time_limit_the_balance_pays_for(
    signed_in: Client, fund: Fund
) -> None:
    two_cents = 20_000
    user_id = user_of(signed_in)
    fund(user_id, two_cents)
    state = finished(
        signed_in, place_call(signed_in, user_id, LANDLINE, duration_seconds=3600)["sid"]
    )

    time_limit = state["time_limit"]
    assert time_limit == landline_rate().max_seconds(two_cents) == 80
    assert state["dial"]["duration_seconds"] == time_limit
    assert state["dial"]["hangup_reason"] == "time_limit"
    assert callbacks(state)[-1]["params"]["CallDuration"] == str(time_limit)
    assert call_charges(signed_in) == [-landline_rate().charge(time_limit)]
    assert balance(signed_in) >= 0


def test_the_caller_hangs_up_and_pays_for_the_seconds_talked(signed_in: Client, fund: Fund) -> None:
    user_id = user_of(signed_in)
    fund(user_id, ONE_DOLLAR)
    sid = place_call(signed_in, user_id, LANDLINE)["sid"]
    wait_for(
        signed_in,
        sid,
        lambda state: state["dial"] is not None and state["dial"]["status"] == "in-progress",
        "was answered",
    )
    hung_up = signed_in.post(f"/sandbox/telephony/calls/{sid}/hangup")
    assert hung_up.status_code == 202, hung_up.text
    state = finished(signed_in, sid)

    assert_every_webhook_accepted(state)
    assert state["dial"]["hangup_reason"] == "caller"
    seconds = state["dial"]["duration_seconds"]
    assert seconds >= 1
    assert call_charges(signed_in) == [-landline_rate().charge(seconds)]
    again = signed_in.post(f"/sandbox/telephony/calls/{sid}/hangup")
    assert again.status_code == 409


def test_a_second_call_while_one_is_up_is_refused_aloud(signed_in: Client, fund: Fund) -> None:
    user_id = user_of(signed_in)
    fund(user_id, ONE_DOLLAR)
    first = place_call(signed_in, user_id, LANDLINE)["sid"]
    wait_for(signed_in, first, lambda state: state["dial"] is not None, "dialled")
    second = place_call(signed_in, user_id, US_NUMBER)

    assert second["dial"] is None
    assert second["spoken"]
    signed_in.post(f"/sandbox/telephony/calls/{first}/hangup")
    finished(signed_in, first)
    assert len(call_charges(signed_in)) == 1


def test_a_call_can_start_with_the_access_token_the_browser_holds(
    signed_in: Client, fund: Fund
) -> None:
    user_id = user_of(signed_in)
    fund(user_id, ONE_DOLLAR)
    token = signed_in.post("/api/token", json={})
    assert token.status_code == 200, token.text
    response = signed_in.post(
        "/sandbox/telephony/calls",
        json={"token": token.json()["token"], "to": PREMIUM, **QUICK},
    )
    assert response.status_code == 201, response.text
    voice = response.json()["webhooks"][0]["params"]
    assert voice["From"] == voice["Caller"] == f"client:{token.json()['identity']}"
    assert voice["From"].startswith(f"client:{user_id}_")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"to": LANDLINE}, 400),
        ({"identity": "u1", "token": "x", "to": LANDLINE}, 400),
        ({"identity": "u1"}, 400),
        ({"identity": "u 1", "to": LANDLINE}, 400),
        ({"identity": "u1", "to": LANDLINE, "ring_delay_ms": -1}, 400),
        ({"identity": "u1", "to": LANDLINE, "talk_seconds": "long"}, 400),
        ({"identity": "u1", "to": LANDLINE, "shuffle_callbacks": "yes"}, 400),
        ({"identity": "u1", "to": LANDLINE, "ring_delay": 5}, 400),
        ({"identity": "u1", "to": LANDLINE, "voice_fragment": "rc=9"}, 400),
        ({"identity": "u1", "to": LANDLINE, "voice_fragment": 2}, 400),
        ({"token": "not-a-jwt", "to": LANDLINE}, 401),
    ],
)
def test_the_sandbox_refuses_a_malformed_call_request(
    client: Client, body: dict[str, Any], status: int
) -> None:
    response = client.post("/sandbox/telephony/calls", json=body)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["detail"].endswith(".")


def test_an_unknown_call_is_not_found(client: Client) -> None:
    assert client.get("/sandbox/telephony/calls/CA" + "0" * 32).status_code == 404
    assert client.post("/sandbox/telephony/calls/CA" + "0" * 32 + "/hangup").status_code == 404


def test_the_sandbox_lists_its_magic_numbers(client: Client) -> None:
    described = client.get("/sandbox/telephony").json()
    assert described["magic_numbers"] == {BUSY: "busy", NO_ANSWER: "no-answer", FAILED: "failed"}
    # The Voice URL the README tells operators to give the TwiML App, overrides and all.
    assert described["voice_url"] == f"{client.base_url}/api/voice#{OVERRIDES.fragment()}"


def services_like_the_hosts(host: LocalHost, azurite: Azurite, **overrides: str) -> Services:
    """The app's own services, in this process, configured as the host's are (plus overrides)."""
    return Services(
        load_settings(
            {
                **json.loads(SAMPLE_SETTINGS.read_text())["Values"],
                "AzureWebJobsStorage": azurite.connection_string,
                "PUBLIC_BASE_URL": host.base_url,
                **overrides,
            }
        )
    )


def test_twilios_calls_api_knows_every_call_the_sandbox_placed(
    host: LocalHost, azurite: Azurite, signed_in: Client, fund: Fund
) -> None:
    user_id = user_of(signed_in)
    fund(user_id, ONE_DOLLAR)
    state = finished(
        signed_in, place_call(signed_in, user_id, LANDLINE, duration_seconds=61)["sid"]
    )
    api = services_like_the_hosts(host, azurite).twilio_calls_api

    parent = api.fetch(state["sid"])
    [child] = api.children(state["sid"])
    assert parent is not None
    assert parent.status == "completed"
    assert (child.sid, child.status, child.duration_seconds) == (
        state["dial"]["sid"],
        "completed",
        61,
    )
    assert child.parent_call_sid == state["sid"]


def test_a_call_whose_webhooks_were_all_lost_is_settled_by_reconciliation(
    host: LocalHost, azurite: Azurite, signed_in: Client, fund: Fund
) -> None:
    us_rate = load_rate_deck(SAMPLE_DECK_PATH).lookup(US_NUMBER)
    assert us_rate is not None
    six_seconds_worth = us_rate.charge(6)  # 6/6 increments: the shortest call there is
    user_id = user_of(signed_in)
    fund(user_id, six_seconds_worth)
    state = finished(
        signed_in,
        place_call(signed_in, user_id, US_NUMBER, duration_seconds=6, drop_callbacks=True)["sid"],
    )
    assert state["time_limit"] == 6
    assert all(w["dropped"] for w in state["webhooks"] if w["kind"] != "voice")
    assert not call_charges(signed_in)

    # What the reconcile timer runs, with no margin past the call's time limit.
    app = services_like_the_hosts(host, azurite, RECONCILE_MARGIN_SECONDS="0")
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not call_charges(signed_in):
        assert time.monotonic() < deadline, "reconciliation never settled the call"
        reconcile(app.calls, app.twilio_calls_api, timedelta(hours=1))
        time.sleep(0.5)  # the hold is overdue once its 6-second time limit has passed
    assert call_charges(signed_in) == [-six_seconds_worth]
    assert balance(signed_in) == 0

"""The caller's side of a sandbox call, over the local host's HTTP: the digits the Voice SDK's
Call.sendDigits sends, the network's turns that raise the SDK's warnings and reconnects, and
the sandbox device module that turns them into the SDK's events in the browser."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import requests

from local_host.sandbox.call_simulation import WARNING_NAMES
from tests.conftest import Client
from tests.integration.test_telephony_sandbox import (
    LANDLINE,
    ONE_DOLLAR,
    call_state,
    finished,
    place_call,
    user_of,
    wait_for,
)

Fund = Callable[[str, int], None]


def answered_call(client: Client, fund: Fund, **options: Any) -> str:
    """A call placed from the client's session, once its dialled leg has answered."""
    user_id = user_of(client)
    fund(user_id, ONE_DOLLAR)
    sid = str(place_call(client, user_id, LANDLINE, **options)["sid"])
    wait_for(client, sid, is_answered, "was answered")
    return sid


def is_answered(state: dict[str, Any]) -> bool:
    return state["dial"] is not None and state["dial"]["status"] == "in-progress"


def send_digits(client: Client, sid: str, body: Any) -> requests.Response:
    return client.post(f"/sandbox/telephony/calls/{sid}/digits", json=body)


def network(client: Client, sid: str, event: str, name: str | None = None) -> requests.Response:
    body = {"event": event} | ({"name": name} if name is not None else {})
    return client.post(f"/sandbox/telephony/calls/{sid}/quality", json=body)


def hang_up(client: Client, sid: str) -> dict[str, Any]:
    assert client.post(f"/sandbox/telephony/calls/{sid}/hangup").status_code == 202
    return finished(client, sid)


def is_problem(response: requests.Response, status: int) -> bool:
    return (
        response.status_code == status
        and response.headers["Content-Type"] == "application/problem+json"
        and response.json()["detail"].endswith(".")
    )


def test_digits_sent_on_an_answered_call_are_recorded_in_order(
    signed_in: Client, fund: Fund
) -> None:
    sid = answered_call(signed_in, fund)

    first = send_digits(signed_in, sid, {"digits": "1"})
    assert first.status_code == 200, first.text
    assert first.json()["digits"] == "1"
    assert send_digits(signed_in, sid, {"digits": "23#w*W0"}).status_code == 200
    state = call_state(signed_in, sid)

    assert state["digits"] == "123#w*W0"
    sent = state["digits_sent"]
    assert [s["digits"] for s in sent] == ["1", "23#w*W0"]
    assert datetime.fromisoformat(sent[0]["at"]) <= datetime.fromisoformat(sent[1]["at"])
    ended = hang_up(signed_in, sid)
    assert ended["digits"] == "123#w*W0"
    late = send_digits(signed_in, sid, {"digits": "9"})
    assert is_problem(late, 409)
    assert "has ended" in late.json()["detail"]


def test_digits_reach_only_an_answered_call(signed_in: Client, fund: Fund) -> None:
    user_id = user_of(signed_in)
    fund(user_id, ONE_DOLLAR)
    sid = place_call(signed_in, user_id, LANDLINE, answer_delay_ms=30_000)["sid"]
    wait_for(
        signed_in,
        sid,
        lambda state: state["dial"] is not None and state["dial"]["status"] == "ringing",
        "rang",
    )

    early = send_digits(signed_in, sid, {"digits": "1"})
    assert is_problem(early, 409)
    assert "has not been answered" in early.json()["detail"]
    assert is_problem(network(signed_in, sid, "warning", "high-rtt"), 409)
    assert hang_up(signed_in, sid)["digits"] == ""


@pytest.mark.parametrize(
    "body",
    [
        {"digits": ""},
        {"digits": "12a"},
        {"digits": "1" * 33},
        {"digits": "\uff11"},  # a full-width digit one is not a DTMF tone
        {"digits": 1},
        {},
        {"digits": "1", "tone": "long"},
        ["1"],
    ],
    ids=["empty", "letter", "too-long", "full-width", "number", "missing", "unknown", "array"],
)
def test_digits_twilio_would_refuse_are_a_400(signed_in: Client, fund: Fund, body: Any) -> None:
    sid = answered_call(signed_in, fund)
    response = send_digits(signed_in, sid, body)
    assert is_problem(response, 400), response.text
    assert hang_up(signed_in, sid)["digits"] == ""


def test_network_turns_are_numbered_events_and_the_call_stays_up(
    signed_in: Client, fund: Fund
) -> None:
    sid = answered_call(signed_in, fund)

    for event, name in [
        ("warning", "high-rtt"),
        ("warning", "low-mos"),
        ("warning-cleared", "high-rtt"),
        ("reconnecting", None),
    ]:
        response = network(signed_in, sid, event, name)
        assert response.status_code == 200, response.text
    reconnecting = call_state(signed_in, sid)
    assert reconnecting["quality"] == {"warnings": ["low-mos"], "reconnecting": True}
    assert is_problem(send_digits(signed_in, sid, {"digits": "1"}), 409)
    assert network(signed_in, sid, "reconnected").status_code == 200
    state = call_state(signed_in, sid)

    assert [(e["seq"], e["event"], e["name"]) for e in state["events"]] == [
        (1, "warning", "high-rtt"),
        (2, "warning", "low-mos"),
        (3, "warning-cleared", "high-rtt"),
        (4, "reconnecting", None),
        (5, "reconnected", None),
    ]
    assert all(datetime.fromisoformat(e["at"]) for e in state["events"])
    assert state["quality"] == {"warnings": ["low-mos"], "reconnecting": False}
    assert not state["finished"]
    assert is_answered(state)
    assert send_digits(signed_in, sid, {"digits": "5"}).status_code == 200
    ended = hang_up(signed_in, sid)
    assert ended["status"] == "completed"
    assert ended["dial"]["hangup_reason"] == "caller"
    assert is_problem(network(signed_in, sid, "warning", "high-jitter"), 409)
    assert len(ended["events"]) == 5


def test_every_warning_name_of_the_voice_sdk_is_taken(signed_in: Client, fund: Fund) -> None:
    sid = answered_call(signed_in, fund)
    for name in WARNING_NAMES:
        assert network(signed_in, sid, "warning", name).status_code == 200, name
        assert network(signed_in, sid, "warning-cleared", name).status_code == 200, name
    state = hang_up(signed_in, sid)
    assert len(state["events"]) == 2 * 10
    assert {e["name"] for e in state["events"]} == {
        "high-rtt",
        "low-mos",
        "high-jitter",
        "high-packet-loss",
        "high-packets-lost-fraction",
        "low-bytes-received",
        "low-bytes-sent",
        "ice-connectivity-lost",
        "constant-audio-input-level",
        "constant-audio-output-level",
    }


@pytest.mark.parametrize(
    ("turns", "refused"),
    [
        ([("warning", "high-rtt")], ("warning", "high-rtt")),
        ([], ("warning-cleared", "high-rtt")),
        ([], ("reconnected", None)),
        ([("reconnecting", None)], ("reconnecting", None)),
    ],
    ids=["raised-twice", "cleared-unraised", "reconnected-unlost", "lost-twice"],
)
def test_network_turns_the_sdk_could_not_report_are_a_409(
    signed_in: Client,
    fund: Fund,
    turns: list[tuple[str, str | None]],
    refused: tuple[str, str | None],
) -> None:
    sid = answered_call(signed_in, fund)
    for event, name in turns:
        assert network(signed_in, sid, event, name).status_code == 200
    response = network(signed_in, sid, *refused)
    assert is_problem(response, 409)
    assert sid in response.json()["detail"]
    assert len(hang_up(signed_in, sid)["events"]) == len(turns)


@pytest.mark.parametrize(
    "body",
    [
        {"event": "jitter"},
        {"event": "warning"},
        {"event": "warning", "name": "high-latency"},
        {"event": "warning-cleared", "name": 7},
        {"event": "reconnecting", "name": "high-rtt"},
        {"event": "warning", "name": "high-rtt", "value": 900},
        {"name": "high-rtt"},
        "warning",
    ],
    ids=[
        "unknown-event",
        "nameless-warning",
        "unknown-name",
        "number-name",
        "named-reconnect",
        "unknown-field",
        "no-event",
        "not-an-object",
    ],
)
def test_network_turns_that_are_not_the_sdks_are_a_400(
    signed_in: Client, fund: Fund, body: Any
) -> None:
    sid = answered_call(signed_in, fund)
    response = signed_in.post(f"/sandbox/telephony/calls/{sid}/quality", json=body)
    assert is_problem(response, 400), response.text
    assert hang_up(signed_in, sid)["events"] == []


def test_an_unknown_call_takes_no_digits_and_no_network_turns(client: Client) -> None:
    sid = "CA" + "0" * 32
    assert is_problem(send_digits(client, sid, {"digits": "1"}), 404)
    assert is_problem(network(client, sid, "reconnecting"), 404)


def test_the_sandbox_serves_its_device_module_to_this_machines_pages(client: Client) -> None:
    response = client.get("/sandbox/telephony/device.js")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    source = response.text
    for export in ("export class Device ", "export class Call ", "export class TwilioError "):
        assert export in source
    # The site's CSP is script-src 'self': nothing that evaluates strings, and no imports.
    assert not re.search(r"\beval\(|new Function|^\s*import\b|\bimport\(", source, re.M)
    # Like the rest of /sandbox, only for this machine's own pages (DNS rebinding).
    rebound = requests.get(
        client.base_url + "/sandbox/telephony/device.js",
        headers={"Host": "evil.example"},
        timeout=10,
    )
    assert is_problem(rebound, 421)

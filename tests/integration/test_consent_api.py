"""GET and PUT /api/me/consent and GET /api/privacy/cookies through the local host: choices
stored with their time and policy version, Global Privacy Control as a refusal, the edge's
checks (session, origin, body), and the cookie list from the registry."""

from __future__ import annotations

from datetime import datetime

import pytest

from shared.privacy.policy import POLICY_VERSION
from shared.privacy.registry import COOKIES
from shared.storage.keys import ACCOUNTS_TABLE, CONSENT_PREFIX
from shared.storage.table_store import TableStore
from tests.conftest import Client

GPC = {"Sec-GPC": "1"}


def put(client: Client, body: object, headers: dict[str, str] | None = None) -> dict[str, object]:
    response = client.request("PUT", "/api/me/consent", json=body, headers=headers or {})
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


def test_before_a_choice_analytics_is_off_and_nothing_was_chosen(signed_in: Client) -> None:
    response = signed_in.get("/api/me/consent")
    assert response.status_code == 200
    assert response.json() == {
        "analytics": False,
        "gpc": False,
        "policy_version": POLICY_VERSION,
        "changed_at": None,
        "source": None,
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_a_choice_is_stored_as_its_own_row_with_time_and_policy_version(
    client: Client, table_store: TableStore
) -> None:
    user = str(client.sign_in()["user_id"])
    first = put(client, {"analytics": True, "source": "banner"})
    assert (first["analytics"], first["gpc"], first["source"]) == (True, False, "banner")
    assert first["policy_version"] == POLICY_VERSION
    datetime.fromisoformat(str(first["changed_at"]))
    put(client, {"analytics": False, "source": "account"})

    assert client.get("/api/me/consent").json()["analytics"] is False
    rows = list(table_store.table(ACCOUNTS_TABLE).rows(user, CONSENT_PREFIX))
    assert [(r.get("analytics"), r.get("source")) for r in rows] == [
        (False, "account"),
        (True, "banner"),
    ]


def test_under_gpc_an_allow_is_stored_as_a_refusal_and_the_answer_says_so(
    signed_in: Client,
) -> None:
    answer = put(signed_in, {"analytics": True, "source": "banner"}, GPC)
    assert (answer["analytics"], answer["gpc"]) == (False, True)
    assert signed_in.get("/api/me/consent").json()["gpc"] is True


def test_gpc_turned_on_later_reads_as_a_refusal_of_an_earlier_consent(signed_in: Client) -> None:
    put(signed_in, {"analytics": True, "source": "banner"})
    read = signed_in.get("/api/me/consent", headers=GPC).json()
    assert (read["analytics"], read["gpc"]) == (False, True)
    assert signed_in.get("/api/me/consent").json()["analytics"] is True


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json", "JSON"),
        (b"[]", "JSON object"),
        (b'{"analytics": "yes", "source": "banner"}', "true or false"),
        (b'{"analytics": true, "source": "popup"}', "'banner' or 'account'"),
    ],
)
def test_a_bad_body_is_a_400_sentence(signed_in: Client, body: bytes, words: str) -> None:
    response = signed_in.request(
        "PUT", "/api/me/consent", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert words in response.json()["detail"]


def test_without_a_session_there_is_no_consent_to_read_or_change(client: Client) -> None:
    assert client.get("/api/me/consent").status_code == 401
    body = {"analytics": True, "source": "banner"}
    assert client.request("PUT", "/api/me/consent", json=body).status_code == 401


def test_another_site_cannot_change_it(signed_in: Client) -> None:
    response = signed_in.request(
        "PUT",
        "/api/me/consent",
        json={"analytics": True, "source": "banner"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert signed_in.get("/api/me/consent").json()["changed_at"] is None


def test_the_cookie_list_is_public_and_the_registrys(client: Client) -> None:
    response = client.get("/api/privacy/cookies")
    assert response.status_code == 200
    listed = response.json()["cookies"]
    assert [c["name"] for c in listed] == [c.name for c in COOKIES]
    assert {c["name"] for c in listed if not c["necessary"]} == {"ai_user", "ai_session"}

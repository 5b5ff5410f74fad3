"""Your own number as caller ID, through the local host over HTTP against Azurite, with a
fake of Twilio's caller-ID REST endpoints (tests/twilio_caller_ids_fake.py) that the real
twilio.rest.Client talks to, and a Twilio that signs the callbacks."""

from __future__ import annotations

import random
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from local_host.azurite import Azurite
from shared.storage.keys import (
    ACCOUNTS_TABLE,
    CALLER_ID_KEY,
    CALLER_ID_OWNER_KEY,
    CALLER_ID_OWNERS_TABLE,
)
from shared.storage.table_store import TableStore
from tests.integration.test_calling import (
    AUTH_TOKEN,
    CALLER_ID,
    LONDON,
    Account,
    Twilio,
    call_sid,
    make_accounts,
)
from tests.servers import LocalHost
from tests.twilio_caller_ids_fake import FakeCallerIds

PATH = "/api/me/caller-id"
PREMIUM = "+44 909 879 0000"
NOT_YOURS = "This number can't be verified for your account."


def a_mobile() -> str:
    """A fresh UK mobile (+44 7912 …), so that tests never share a number."""
    return f"+447912{random.randrange(10**6):06d}"


@pytest.fixture(scope="module")
def fake_twilio() -> Iterator[FakeCallerIds]:
    fake = FakeCallerIds(AUTH_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def callerid_host(azurite: Azurite, fake_twilio: FakeCallerIds) -> Iterator[LocalHost]:
    server = LocalHost(
        azurite.connection_string, {"TWILIO_API_BASE_URL": fake_twilio.base_url}
    ).start()
    yield server
    server.stop()


@pytest.fixture
def user(
    callerid_host: LocalHost, table_store: TableStore, fund: Callable[[str, int], None]
) -> Callable[[], Account]:
    return make_accounts(callerid_host.base_url, table_store, fund)


@pytest.fixture
def twilio(callerid_host: LocalHost) -> Twilio:
    return Twilio(callerid_host.base_url)


def start(account: Account, number: str) -> requests.Response:
    return account.client.post(PATH, json={"number": number})


def state(account: Account) -> dict[str, Any]:
    response = account.client.get(PATH)
    assert response.status_code == 200, response.text
    return response.json()


def owner_of(table_store: TableStore, e164: str) -> str | None:
    row = table_store.table(CALLER_ID_OWNERS_TABLE).get(e164, CALLER_ID_OWNER_KEY)
    return row.text("user_id") if row else None


def verify(account: Account, fake: FakeCallerIds, number: str) -> str:
    response = start(account, number)
    assert response.status_code == 202, response.text
    answered, form = fake.answer(number)
    assert answered.status_code == 200, answered.text
    assert state(account)["state"] == "verified"
    return form["OutgoingCallerIdSid"]


def shown_caller_id(twilio: Twilio, account: Account, choice: str | None) -> str:
    """Places a call with the connect parameter CallerId=choice; returns the <Dial callerId>
    and frees the line again."""
    form = twilio.voice_form(account.identity, LONDON, call_sid())
    if choice is not None:
        form["CallerId"] = choice
    response = twilio.post(f"{twilio.base_url}/api/voice", form)
    assert response.status_code == 200, response.text
    dial = ET.fromstring(response.content).find("Dial")
    assert dial is not None, response.text
    action = dial.attrib["action"]
    ended = twilio.post(
        action,
        {
            "AccountSid": form["AccountSid"],
            "CallSid": form["CallSid"],
            "CallStatus": "completed",
            "DialCallStatus": "no-answer",
            "DialCallDuration": "0",
        },
    )
    assert ended.status_code == 200, ended.text
    return dial.attrib["callerId"]


def test_starting_answers_pending_with_the_code_to_type(
    user: Callable[[], Account], fake_twilio: FakeCallerIds
) -> None:
    alice = user()
    number = a_mobile()
    spaced = f"{number[:3]} {number[3:7]} {number[7:]}"
    response = start(alice, spaced)
    assert response.status_code == 202, response.text
    body = response.json()
    validation = fake_twilio.validation_for(number)
    assert body == {
        "state": "pending",
        "number": number,
        "formatted": spaced,
        "code": validation.code,
        "reason": None,
    }
    assert state(alice) == body
    # Twilio was given our signed callback URL, with its connection overrides, and a name
    # that says nothing about the user.
    assert validation.status_callback.startswith(alice.client.base_url + "/api/caller-id/status?")
    assert "#" in validation.status_callback
    assert validation.status_callback_method == "POST"
    assert validation.friendly_name.startswith("OwnNumber user ")
    assert alice.user_id not in validation.friendly_name


def test_no_caller_id_is_state_none(user: Callable[[], Account]) -> None:
    assert state(user()) == {
        "state": "none",
        "number": None,
        "formatted": None,
        "code": None,
        "reason": None,
    }


def test_a_success_callback_verifies_and_a_redelivery_changes_nothing(
    user: Callable[[], Account], fake_twilio: FakeCallerIds, table_store: TableStore
) -> None:
    alice = user()
    number = a_mobile()
    assert start(alice, number).status_code == 202
    answered, form = fake_twilio.answer(number)
    assert answered.status_code == 200
    verified = state(alice)
    assert verified["state"] == "verified"
    assert verified["number"] == number
    assert verified["code"] is None
    record = table_store.table(ACCOUNTS_TABLE).get(alice.user_id, CALLER_ID_KEY)
    assert record is not None
    assert record.text("outgoing_sid") == form["OutgoingCallerIdSid"]
    assert owner_of(table_store, number) == alice.user_id

    validation = fake_twilio.validation_for(number)
    again = fake_twilio.deliver(validation.status_callback, form)
    assert again.status_code == 200
    late_failure = fake_twilio.deliver(
        validation.status_callback, {**form, "VerificationStatus": "failed"}
    )
    assert late_failure.status_code == 200
    assert state(alice) == verified
    assert table_store.table(ACCOUNTS_TABLE).get(alice.user_id, CALLER_ID_KEY) == record


def test_a_wrong_code_fails_with_words_and_frees_the_number(
    user: Callable[[], Account], fake_twilio: FakeCallerIds, table_store: TableStore
) -> None:
    alice = user()
    number = a_mobile()
    assert start(alice, number).status_code == 202
    answered, _ = fake_twilio.answer(number, typed="000000x")
    assert answered.status_code == 200
    failed = state(alice)
    assert failed["state"] == "failed"
    assert failed["number"] == number
    assert "code" in failed["reason"]
    assert failed["code"] is None
    assert owner_of(table_store, number) is None
    # And the user may try again.
    assert start(alice, number).status_code == 202


def test_a_forged_callback_is_refused_and_changes_nothing(
    user: Callable[[], Account], fake_twilio: FakeCallerIds, table_store: TableStore
) -> None:
    alice = user()
    number = a_mobile()
    assert start(alice, number).status_code == 202
    before = state(alice)
    validation = fake_twilio.validation_for(number)
    form = {
        "AccountSid": validation.account_sid,
        "CallSid": validation.call_sid,
        "PhoneNumber": number,
        "VerificationStatus": "success",
        "OutgoingCallerIdSid": "PN" + "0" * 32,
    }
    for signature in (None, "forged"):
        response = fake_twilio.deliver(validation.status_callback, form, signature=signature)
        assert response.status_code == 403, response.text
    # Signed for another attempt's URL: not valid for this one.
    other = validation.status_callback.replace("&a=", "&a=0")
    assert fake_twilio.deliver(other, form, signature=None).status_code == 403
    signed_elsewhere = requests.post(
        validation.status_callback.partition("#")[0].replace("a=", "a=1"),
        data=form,
        headers={"X-Twilio-Signature": "x"},
        timeout=30,
    )
    assert signed_elsewhere.status_code == 403
    assert state(alice) == before
    assert owner_of(table_store, number) == alice.user_id


def test_a_second_user_is_refused_without_naming_the_holder(
    user: Callable[[], Account], fake_twilio: FakeCallerIds, table_store: TableStore
) -> None:
    alice, bob = user(), user()
    number = a_mobile()
    # While Alice is verifying it...
    assert start(alice, number).status_code == 202
    refused = start(bob, number)
    assert refused.status_code == 400
    assert refused.json()["detail"] == NOT_YOURS
    # ...and once she holds it.
    fake_twilio.answer(number)
    refused = start(bob, number)
    assert refused.status_code == 400
    assert refused.json()["detail"] == NOT_YOURS
    assert alice.user_id not in refused.text
    assert state(bob)["state"] == "none"
    assert owner_of(table_store, number) == alice.user_id


def test_two_users_racing_for_one_number_exactly_one_wins(
    user: Callable[[], Account], table_store: TableStore
) -> None:
    # Three: the per-number limit (3 an hour) would refuse a fourth with 429.
    racers = [user() for _ in range(3)]
    number = a_mobile()
    barrier = threading.Barrier(len(racers))
    results: dict[str, int] = {}

    def race(account: Account) -> None:
        barrier.wait()
        results[account.user_id] = start(account, number).status_code

    threads = [threading.Thread(target=race, args=(a,)) for a in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [uid for uid, status in results.items() if status == 202]
    assert len(winners) == 1, results
    assert sorted(results.values()) == [202, 400, 400]
    assert owner_of(table_store, number) == winners[0]


def test_a_second_verification_while_one_is_pending_is_a_conflict(
    user: Callable[[], Account],
) -> None:
    alice = user()
    assert start(alice, a_mobile()).status_code == 202
    again = start(alice, a_mobile())
    assert again.status_code == 409, again.text
    assert again.headers["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (PREMIUM, "premium-rate"),
        ("+44 800 123 4567", "not a mobile or landline"),
        ("+44 7911", "not a valid phone number"),
        ("07911 123456", "international format"),
        (CALLER_ID, "OwnNumber's own numbers"),
    ],
)
def test_numbers_that_cannot_be_verified_are_refused_with_a_sentence(
    user: Callable[[], Account], fake_twilio: FakeCallerIds, number: str, words: str
) -> None:
    alice = user()
    asked = len(fake_twilio.validations)
    response = start(alice, number)
    assert response.status_code == 400, response.text
    assert words in response.json()["detail"]
    assert len(fake_twilio.validations) == asked
    assert state(alice)["state"] == "none"


@pytest.mark.parametrize("body", [{}, {"number": 44}, {"number": " "}, {"number": "1" * 65}])
def test_bad_bodies_are_400(user: Callable[[], Account], body: dict[str, Any]) -> None:
    response = user().client.post(PATH, json=body)
    assert response.status_code == 400, response.text


def test_starting_needs_our_origin_and_a_session(
    user: Callable[[], Account], callerid_host: LocalHost
) -> None:
    alice = user()
    foreign = alice.client.post(
        PATH, json={"number": a_mobile()}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    anonymous = requests.post(
        callerid_host.base_url + PATH,
        json={"number": a_mobile()},
        headers={"Origin": callerid_host.base_url},
        timeout=30,
    )
    assert anonymous.status_code == 401
    assert requests.get(callerid_host.base_url + PATH, timeout=30).status_code == 401


def test_attempts_per_user_are_limited_with_retry_after(
    user: Callable[[], Account], fake_twilio: FakeCallerIds
) -> None:
    alice = user()
    for _ in range(3):
        number = a_mobile()
        assert start(alice, number).status_code == 202
        fake_twilio.answer(number, typed="999999x")
    limited = start(alice, a_mobile())
    assert limited.status_code == 429, limited.text
    assert 1 <= int(limited.headers["Retry-After"]) <= 3601
    assert "Too many verification attempts" in limited.json()["detail"]


def test_attempts_per_number_are_limited_across_users(
    user: Callable[[], Account], fake_twilio: FakeCallerIds
) -> None:
    number = a_mobile()
    for _ in range(3):
        someone = user()
        assert start(someone, number).status_code == 202
        fake_twilio.answer(number, typed="999999x")
    limited = start(user(), number)
    assert limited.status_code == 429, limited.text
    assert int(limited.headers["Retry-After"]) >= 1


def test_a_provider_refusal_is_a_sentence_and_frees_the_number(
    user: Callable[[], Account], fake_twilio: FakeCallerIds, table_store: TableStore
) -> None:
    alice = user()
    number = a_mobile()
    fake_twilio.fail_next = 400
    refused = start(alice, number)
    assert refused.status_code == 400, refused.text
    assert owner_of(table_store, number) is None
    fake_twilio.fail_next = 500
    unavailable = start(alice, number)
    assert unavailable.status_code == 503
    assert unavailable.headers["Retry-After"]
    assert owner_of(table_store, number) is None
    assert state(alice)["state"] == "none"


def test_delete_removes_the_index_and_twilios_caller_id(
    user: Callable[[], Account], fake_twilio: FakeCallerIds, table_store: TableStore
) -> None:
    alice, bob = user(), user()
    number = a_mobile()
    sid = verify(alice, fake_twilio, number)
    assert alice.client.delete(PATH, headers={"Origin": "https://evil.example"}).status_code == 403
    removed = alice.client.delete(PATH)
    assert removed.status_code == 200, removed.text
    assert removed.json()["state"] == "none"
    assert sid in fake_twilio.deleted
    assert sid not in fake_twilio.caller_ids
    assert owner_of(table_store, number) is None
    assert table_store.table(ACCOUNTS_TABLE).get(alice.user_id, CALLER_ID_KEY) is None
    # Deleting again is fine, and the number is free for someone else now.
    assert alice.client.delete(PATH).status_code == 200
    assert start(bob, number).status_code == 202


def test_delete_succeeds_when_twilio_has_forgotten_the_caller_id_already(
    user: Callable[[], Account], fake_twilio: FakeCallerIds
) -> None:
    alice = user()
    sid = verify(alice, fake_twilio, a_mobile())
    fake_twilio.caller_ids.pop(sid)
    assert alice.client.delete(PATH).status_code == 200
    assert state(alice)["state"] == "none"


def test_calls_show_the_verified_number_only_when_asked_and_only_while_it_is_theirs(
    user: Callable[[], Account], fake_twilio: FakeCallerIds, twilio: Twilio
) -> None:
    alice = user()
    number = a_mobile()
    assert shown_caller_id(twilio, alice, "own") == CALLER_ID
    assert start(alice, number).status_code == 202
    # Pending is not verified.
    assert shown_caller_id(twilio, alice, "own") == CALLER_ID
    fake_twilio.answer(number)
    assert shown_caller_id(twilio, alice, "own") == number
    assert shown_caller_id(twilio, alice, "service") == CALLER_ID
    assert shown_caller_id(twilio, alice, None) == CALLER_ID
    assert shown_caller_id(twilio, alice, number) == CALLER_ID
    assert alice.client.delete(PATH).status_code == 200
    assert shown_caller_id(twilio, alice, "own") == CALLER_ID


def test_another_user_cannot_show_someone_elses_number(
    user: Callable[[], Account], fake_twilio: FakeCallerIds, twilio: Twilio, table_store: TableStore
) -> None:
    alice, bob = user(), user()
    number = a_mobile()
    verify(alice, fake_twilio, number)
    # Bob forges a record of his own naming Alice's number: the index still says it is hers.
    from shared.storage.rows import Replace

    forged = table_store.table(ACCOUNTS_TABLE).get(alice.user_id, CALLER_ID_KEY)
    assert forged is not None
    table_store.table(ACCOUNTS_TABLE).commit(
        bob.user_id, [Replace(CALLER_ID_KEY, dict(forged.data))]
    )
    assert shown_caller_id(twilio, bob, "own") == CALLER_ID
    assert shown_caller_id(twilio, alice, "own") == number


def test_a_lapsed_verification_frees_the_number_and_its_late_success_changes_nothing(
    user: Callable[[], Account],
    fake_twilio: FakeCallerIds,
    table_store: TableStore,
    twilio: Twilio,
) -> None:
    from datetime import UTC, datetime, timedelta

    from shared.storage.rows import Replace

    alice, bob = user(), user()
    number = a_mobile()
    assert start(alice, number).status_code == 202
    alices_validation = fake_twilio.validation_for(number)
    # Eleven minutes pass (the rows are aged: a pending verification holds a number ten).
    long_ago = datetime.now(UTC) - timedelta(minutes=11)
    accounts, owners = table_store.table(ACCOUNTS_TABLE), table_store.table(CALLER_ID_OWNERS_TABLE)
    for table, partition, key in (
        (accounts, alice.user_id, CALLER_ID_KEY),
        (owners, number, CALLER_ID_OWNER_KEY),
    ):
        row = table.get(partition, key)
        assert row is not None
        table.commit(partition, [Replace(key, {**row.data, "started_at": long_ago})])
    lapsed = state(alice)
    assert lapsed["state"] == "failed"
    assert "ended" in lapsed["reason"]

    assert start(bob, number).status_code == 202
    assert owner_of(table_store, number) == bob.user_id
    # Alice's call is answered after all, too late: it verifies nothing.
    late = {
        "AccountSid": alices_validation.account_sid,
        "CallSid": alices_validation.call_sid,
        "PhoneNumber": number,
        "VerificationStatus": "success",
        "OutgoingCallerIdSid": "PN" + "1" * 32,
    }
    assert fake_twilio.deliver(alices_validation.status_callback, late).status_code == 200
    assert state(alice)["state"] == "failed"
    assert owner_of(table_store, number) == bob.user_id
    # Twilio's caller ID from that late success is nobody's: it is deleted.
    assert late["OutgoingCallerIdSid"] in fake_twilio.deleted
    assert shown_caller_id(twilio, alice, "own") == CALLER_ID
    # Alice may try another number now.
    assert start(alice, a_mobile()).status_code == 202


def test_removing_a_pending_verification_deletes_the_caller_id_its_late_success_made(
    user: Callable[[], Account], fake_twilio: FakeCallerIds, table_store: TableStore
) -> None:
    alice = user()
    number = a_mobile()
    assert start(alice, number).status_code == 202
    assert alice.client.delete(PATH).status_code == 200
    assert owner_of(table_store, number) is None
    answered, form = fake_twilio.answer(number)
    assert answered.status_code == 200
    assert state(alice)["state"] == "none"
    assert form["OutgoingCallerIdSid"] in fake_twilio.deleted
    assert form["OutgoingCallerIdSid"] not in fake_twilio.caller_ids

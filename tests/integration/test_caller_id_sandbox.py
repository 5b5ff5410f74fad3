"""Twilio's caller-ID validation as the sandbox plays it, over real HTTP: the validation
request and OutgoingCallerIds through the real `twilio` library, the phone pane where the
code is typed, and the signed status callback it sends (here to a receiver of the test's own,
since the app's /api/caller-id/status is built elsewhere)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from shared.telephony.errors import SignatureInvalid
from shared.telephony.signature import SIGNATURE_HEADER, verify
from tests.conftest import Client
from tests.integration.test_telephony_sandbox import (
    LANDLINE,
    ONE_DOLLAR,
    Fund,
    finished,
    place_call,
    user_of,
)
from tests.servers import LocalHost

ACCOUNT_SID = "AC00000000000000000000000000000000"  # the sample settings'
API_KEY = ("SK00000000000000000000000000000000", "sandbox-twilio-api-key-secret-not-for-production")
AUTH_TOKEN = "sandbox-twilio-auth-token"
SERVICE_CALLER_ID = "+15005550006"
CALLER_IDS = f"/sandbox/twilio/2010-04-01/Accounts/{ACCOUNT_SID}/OutgoingCallerIds.json"
PANE = "/sandbox/telephony/phone"


def a_mobile() -> str:
    """A UK mobile number no other test uses (the host and its fake account are shared)."""
    return f"+447700{secrets.randbelow(10**6):06d}"


@dataclass
class Received:
    method: str
    path: str  # with its query
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class CallbackReceiver:
    """Our app's part, played by the test: records each request, answers from `answers`
    (then 200)."""

    base_url: str = ""
    requests: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/api/caller-id/status") -> str:
        return self.base_url + path


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    state = CallbackReceiver()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            query = urlsplit(self.path).query
            form = dict(parse_qsl(body if self.command == "POST" else query))
            with state.lock:
                state.requests.append(
                    Received(self.command, self.path, {k: v for k, v in self.headers.items()}, form)
                )
                status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = _handle

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def twilio_rest(host: LocalHost) -> TwilioClient:
    """twilio-python as our server side uses it, its requests sent to the sandbox's fake."""
    base = host.base_url + "/sandbox/twilio"

    class Rebased(TwilioHttpClient):  # type: ignore[misc]
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            url = url.replace("https://api.twilio.com", base, 1)
            return super().request(method, url, *args, **kwargs)

    return TwilioClient(*API_KEY, ACCOUNT_SID, http_client=Rebased(timeout=10))


def answer(host: LocalHost, call_sid: str, **body: Any) -> requests.Response:
    return requests.post(
        f"{host.base_url}{PANE}/{call_sid}",
        json=body,
        headers={"Origin": host.base_url},
        timeout=30,
    )


def pending(host: LocalHost) -> list[dict[str, Any]]:
    response = requests.get(f"{host.base_url}{PANE}.json", timeout=10)
    assert response.status_code == 200
    calls: list[dict[str, Any]] = response.json()["calls"]
    return calls


def assert_signed_by_twilio(receiver: CallbackReceiver, given_url: str, got: Received) -> None:
    """What our webhook does: the signature over the URL we gave Twilio and the form."""
    url = receiver.base_url + got.path
    params = got.form if got.method == "POST" else {}
    if "#" in given_url and got.method == "POST":
        url += "#" + given_url.split("#", 1)[1]
    verify(url, params, got.headers.get(SIGNATURE_HEADER), AUTH_TOKEN)


# --- the validation request and OutgoingCallerIds through twilio-python ------------------------


def test_a_validation_request_through_twilio_python_answers_a_code_and_rings_the_phone(
    host: LocalHost, twilio_rest: TwilioClient, receiver: CallbackReceiver
) -> None:
    number = a_mobile()
    validation = twilio_rest.validation_requests.create(
        phone_number=number, friendly_name="ownnumber user 42", status_callback=receiver.url()
    )
    assert validation.account_sid == ACCOUNT_SID
    assert validation.phone_number == number
    assert validation.friendly_name == "ownnumber user 42"
    assert validation.validation_code.isdecimal()
    assert len(validation.validation_code) == 6
    assert validation.call_sid.startswith("CA")
    assert len(validation.call_sid) == 34
    [ringing] = [c for c in pending(host) if c["call_sid"] == validation.call_sid]
    assert (ringing["phone_number"], ringing["friendly_name"]) == (number, "ownnumber user 42")
    assert ringing["started_at"]


def test_the_right_code_verifies_the_number_and_sends_a_signed_success_callback(
    host: LocalHost, twilio_rest: TwilioClient, receiver: CallbackReceiver
) -> None:
    number = a_mobile()
    callback = receiver.url() + "#rc=2&rp=ct,rt,5xx&ct=3000&rt=10000&tt=15000"
    validation = twilio_rest.validation_requests.create(
        phone_number=number, status_callback=callback
    )
    assert validation.friendly_name.startswith("+44 7700 ")  # Twilio's default: formatted

    outcome = answer(host, validation.call_sid, code=validation.validation_code)

    assert outcome.status_code == 200, outcome.text
    result = outcome.json()
    assert result["verification_status"] == "success"
    assert result["callback_status"] == 200
    sid = result["outgoing_caller_id_sid"]
    assert sid.startswith("PN")
    assert len(sid) == 34
    [got] = receiver.requests
    assert (got.method, got.path) == ("POST", "/api/caller-id/status")
    assert got.form == {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": validation.call_sid,
        "CallStatus": "completed",
        "Called": number,
        "Direction": "outbound-api",
        "OutgoingCallerIdSid": sid,
        "PhoneNumber": number,
        "To": number,
        "VerificationStatus": "success",
    }
    assert_signed_by_twilio(receiver, callback, got)
    with pytest.raises(SignatureInvalid):
        verify(receiver.url(), {**got.form, "PhoneNumber": "+447700900000"},
               got.headers[SIGNATURE_HEADER], AUTH_TOKEN)  # fmt: skip
    assert got.headers["I-Twilio-Idempotency-Token"]
    assert validation.call_sid not in [c["call_sid"] for c in pending(host)]

    [listed] = twilio_rest.outgoing_caller_ids.list(phone_number=number)
    assert (listed.sid, listed.phone_number, listed.account_sid) == (sid, number, ACCOUNT_SID)
    assert listed.uri == f"/2010-04-01/Accounts/{ACCOUNT_SID}/OutgoingCallerIds/{sid}.json"
    assert listed.date_created is not None  # the SDK parsed Twilio's RFC 2822 time
    fetched = twilio_rest.outgoing_caller_ids(sid).fetch()
    assert (fetched.sid, fetched.phone_number) == (sid, number)
    renamed = twilio_rest.outgoing_caller_ids(sid).update(friendly_name="renamed")
    assert (renamed.sid, renamed.friendly_name) == (sid, "renamed")
    assert twilio_rest.outgoing_caller_ids(sid).fetch().friendly_name == "renamed"

    assert twilio_rest.outgoing_caller_ids(sid).delete() is True
    assert twilio_rest.outgoing_caller_ids.list(phone_number=number) == []
    with pytest.raises(TwilioRestException) as gone:
        twilio_rest.outgoing_caller_ids(sid).fetch()
    assert (gone.value.status, gone.value.code) == (404, 20404)
    with pytest.raises(TwilioRestException) as gone_again:
        twilio_rest.outgoing_caller_ids(sid).delete()
    assert (gone_again.value.status, gone_again.value.code) == (404, 20404)


def test_a_number_already_verified_is_refused_as_twilio_refuses_it(
    host: LocalHost, twilio_rest: TwilioClient
) -> None:
    number = a_mobile()
    first = twilio_rest.validation_requests.create(phone_number=number)
    assert (
        answer(host, first.call_sid, code=first.validation_code).json()["callback_status"] is None
    )

    with pytest.raises(TwilioRestException) as refused:
        twilio_rest.validation_requests.create(phone_number=number)

    assert (refused.value.status, refused.value.code) == (400, 21450)
    assert refused.value.msg.endswith("Phone number already verified for your account")


def test_the_caller_ids_list_pages_and_filters_as_twilios(
    host: LocalHost, twilio_rest: TwilioClient
) -> None:
    numbers = [a_mobile() for _ in range(3)]
    for number in numbers:
        validation = twilio_rest.validation_requests.create(
            phone_number=number, friendly_name="paging test"
        )
        answer(host, validation.call_sid, code=validation.validation_code)

    named = twilio_rest.outgoing_caller_ids.list(friendly_name="paging test", page_size=2)
    assert {c.phone_number for c in named} >= set(numbers)  # followed next_page_uri
    page = requests.get(
        f"{host.base_url}{CALLER_IDS}",
        params={"PhoneNumber": numbers[0], "PageSize": "1"},
        auth=API_KEY,
        timeout=10,
    ).json()
    assert set(page) == {
        "outgoing_caller_ids",
        "end",
        "first_page_uri",
        "next_page_uri",
        "page",
        "page_size",
        "previous_page_uri",
        "start",
        "uri",
    }
    assert [c["phone_number"] for c in page["outgoing_caller_ids"]] == [numbers[0]]
    assert (page["page"], page["page_size"], page["start"], page["end"]) == (0, 1, 0, 0)
    assert page["next_page_uri"] is None
    assert page["previous_page_uri"] is None
    assert set(page["outgoing_caller_ids"][0]) == {
        "sid",
        "account_sid",
        "friendly_name",
        "phone_number",
        "date_created",
        "date_updated",
        "uri",
    }


@pytest.mark.parametrize(
    ("form", "code", "sentence"),
    [
        ({}, 21217, "A 'PhoneNumber' parameter is required."),
        ({"PhoneNumber": "07911 123456"}, 21217, "Phone number does not appear to be valid"),
        ({"PhoneNumber": "+4479111234567890"}, 21217, "Phone number does not appear to be valid"),
        ({"FriendlyName": "x" * 65}, 20001, "FriendlyName is longer than 64 characters."),
        ({"StatusCallbackMethod": "PUT"}, 20001, "StatusCallbackMethod must be GET or POST."),
        ({"CallDelay": "61"}, 20001, "CallDelay must be a whole number of seconds"),
        ({"CallDelay": "-1"}, 20001, "CallDelay must be a whole number of seconds"),
        ({"Extension": "12a"}, 20001, "Extension must be 1 to 32 digits"),
        ({"StatusCallback": "https://evil.example/cb"}, 21609, "StatusCallback must be"),
        ({"StatusCallback": "not a url"}, 21609, "StatusCallback must be"),
    ],
    ids=[
        "no-number",
        "not-e164",
        "too-long",
        "long-name",
        "method",
        "delay-high",
        "delay-negative",
        "extension",
        "foreign-callback",
        "callback-not-url",
    ],
)
def test_a_bad_validation_request_is_a_400_with_twilios_error_and_a_sentence(
    host: LocalHost, form: dict[str, str], code: int, sentence: str
) -> None:
    body = {"PhoneNumber": a_mobile(), **form} if form and "PhoneNumber" not in form else form
    before = len(pending(host))
    response = requests.post(f"{host.base_url}{CALLER_IDS}", data=body, auth=API_KEY, timeout=10)
    assert response.status_code == 400, response.text
    error = response.json()
    assert set(error) == {"code", "message", "more_info", "status"}
    assert (error["code"], error["status"]) == (code, 400)
    assert error["message"].startswith(sentence)
    assert error["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert len(pending(host)) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", CALLER_IDS),
        ("GET", CALLER_IDS),
        ("GET", CALLER_IDS.replace(".json", "/PN00000000000000000000000000000000.json")),
        ("DELETE", CALLER_IDS.replace(".json", "/PN00000000000000000000000000000000.json")),
    ],
)
@pytest.mark.parametrize(
    "auth",
    [None, (API_KEY[0], "wrong"), (ACCOUNT_SID, "wrong"), ("SK" + "1" * 32, API_KEY[1])],
    ids=["none", "wrong-secret", "wrong-token", "other-key"],
)
def test_the_caller_id_api_refuses_without_the_accounts_credentials(
    host: LocalHost, method: str, path: str, auth: tuple[str, str] | None
) -> None:
    response = requests.request(
        method, host.base_url + path, data={"PhoneNumber": a_mobile()}, auth=auth, timeout=10
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Twilio API"'
    assert response.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }


def test_the_account_sid_and_token_are_accepted_and_another_account_is_not_found(
    host: LocalHost,
) -> None:
    ok = requests.get(host.base_url + CALLER_IDS, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=10)
    assert ok.status_code == 200
    other = CALLER_IDS.replace(ACCOUNT_SID, "AC" + "1" * 32)
    response = requests.get(host.base_url + other, auth=API_KEY, timeout=10)
    assert (response.status_code, response.json()["code"]) == (404, 20404)
    put = requests.put(host.base_url + CALLER_IDS, auth=API_KEY, timeout=10)
    assert (put.status_code, put.json()["code"]) == (405, 20004)


# --- the phone pane --------------------------------------------------------------------------


def test_a_wrong_code_fails_the_validation_and_ends_the_call(
    host: LocalHost, twilio_rest: TwilioClient, receiver: CallbackReceiver
) -> None:
    number = a_mobile()
    validation = twilio_rest.validation_requests.create(
        phone_number=number, status_callback=receiver.url()
    )
    wrong = f"{(int(validation.validation_code) + 1) % 10**6:06d}"

    result = answer(host, validation.call_sid, code=wrong).json()

    assert result["verification_status"] == "failed"
    assert result["outgoing_caller_id_sid"] is None
    [got] = receiver.requests
    assert got.form["VerificationStatus"] == "failed"
    assert got.form["CallSid"] == validation.call_sid
    assert "OutgoingCallerIdSid" not in got.form
    assert_signed_by_twilio(receiver, receiver.url(), got)
    assert twilio_rest.outgoing_caller_ids.list(phone_number=number) == []
    # One try per call: the right code now reaches no call.
    again = answer(host, validation.call_sid, code=validation.validation_code)
    assert again.status_code == 404
    assert "is ringing" in again.json()["detail"]
    assert len(receiver.requests) == 1


def test_hanging_up_fails_the_validation(
    host: LocalHost, twilio_rest: TwilioClient, receiver: CallbackReceiver
) -> None:
    validation = twilio_rest.validation_requests.create(
        phone_number=a_mobile(), status_callback=receiver.url(), status_callback_method="GET"
    )

    result = answer(host, validation.call_sid, hang_up=True).json()

    assert result["verification_status"] == "failed"
    [got] = receiver.requests
    assert got.method == "GET"  # signed over the URL with the parameters in its query
    assert got.form["VerificationStatus"] == "failed"
    assert_signed_by_twilio(receiver, receiver.url(), got)


def test_a_callback_answered_503_is_retried_per_its_overrides_with_one_idempotency_token(
    host: LocalHost, twilio_rest: TwilioClient, receiver: CallbackReceiver
) -> None:
    receiver.answers = [503]
    validation = twilio_rest.validation_requests.create(
        phone_number=a_mobile(), status_callback=receiver.url() + "#rc=2&rp=5xx"
    )

    result = answer(host, validation.call_sid, code=validation.validation_code).json()

    assert result["callback_status"] == 200
    assert [(c["attempt"], c["status_code"], c["failure"]) for c in result["callbacks"]] == [
        (1, 503, "5xx"),
        (2, 200, None),
    ]
    first, second = receiver.requests
    assert first.form == second.form
    tokens = {r.headers["I-Twilio-Idempotency-Token"] for r in receiver.requests}
    assert len(tokens) == 1


def test_without_overrides_a_503_callback_is_not_retried(
    host: LocalHost, twilio_rest: TwilioClient, receiver: CallbackReceiver
) -> None:
    receiver.answers = [503]
    validation = twilio_rest.validation_requests.create(
        phone_number=a_mobile(), status_callback=receiver.url()
    )
    result = answer(host, validation.call_sid, code=validation.validation_code).json()
    assert result["callback_status"] == 503
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    ("body", "status", "sentence"),
    [
        ({}, 400, "one of them."),
        ({"code": "123456", "hang_up": True}, 400, "one of them."),
        ({"code": 123456}, 400, "code must be the 6 digits typed, as a string."),
        ({"code": "12345"}, 400, "code must be the 6 digits typed, as a string."),
        (
            {"code": "\uff11\uff12\uff13\uff14\uff15\uff16"},
            400,
            "code must be the 6 digits typed, as a string.",
        ),
        ({"hang_up": "yes"}, 400, "hang_up must be true or false."),
        ({"digits": "123456"}, 400, "Unknown field(s) 'digits'; use code or hang_up."),
    ],
)
def test_the_pane_refuses_a_malformed_answer_and_the_call_keeps_ringing(
    host: LocalHost, twilio_rest: TwilioClient, body: dict[str, Any], status: int, sentence: str
) -> None:
    validation = twilio_rest.validation_requests.create(phone_number=a_mobile())
    response = answer(host, validation.call_sid, **body)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["detail"].endswith(sentence)
    assert validation.call_sid in [c["call_sid"] for c in pending(host)]


def test_an_answer_to_no_ringing_call_is_not_found(host: LocalHost) -> None:
    response = answer(host, "CA" + "0" * 32, code="123456")
    assert response.status_code == 404
    form = requests.post(
        f"{host.base_url}{PANE}/CA{'0' * 32}",
        data={"code": "123456"},
        headers={"Origin": host.base_url},
        timeout=10,
        allow_redirects=False,
    )
    assert form.status_code == 404
    assert "not ringing any more" in form.text


def test_the_pane_shows_the_call_and_its_form_posts_the_code_back_with_a_note(
    host: LocalHost, twilio_rest: TwilioClient, receiver: CallbackReceiver
) -> None:
    validation = twilio_rest.validation_requests.create(
        phone_number=a_mobile(), status_callback=receiver.url()
    )
    shown = validation.friendly_name  # "+44 7700 …", as the pane shows the number

    pane = requests.get(host.base_url + PANE, timeout=10)

    assert pane.status_code == 200
    assert pane.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in pane.headers["Content-Security-Policy"]
    assert "<script" not in pane.text
    assert "style=" not in pane.text
    assert (
        f"Twilio is calling {shown} to verify it as a caller ID. Type the 6-digit code you"
        " were shown:"
    ) in pane.text
    assert f'action="{PANE}/{validation.call_sid}"' in pane.text
    assert 'inputmode="numeric"' in pane.text

    def post(form: dict[str, str]) -> requests.Response:
        return requests.post(
            f"{host.base_url}{PANE}/{validation.call_sid}",
            data=form,
            headers={"Origin": host.base_url},
            timeout=30,
            allow_redirects=False,
        )

    mistyped = post({"code": "12 34"})
    assert mistyped.status_code == 400
    assert "Type the 6 digits of the code on the keypad, or hang up." in mistyped.text
    assert not receiver.requests

    sent = post({"code": validation.validation_code})

    assert sent.status_code == 303
    location = sent.headers["Location"]
    assert location.startswith(f"{PANE}?note=")
    assert unquote(location.split("note=", 1)[1]) == (
        "Sent VerificationStatus=success to the status callback; our app answered 200."
    )
    assert receiver.requests[0].form["VerificationStatus"] == "success"
    after = requests.get(host.base_url + location, timeout=10).text
    assert "our app answered 200." in after
    assert validation.call_sid not in after


def test_a_form_from_another_site_cannot_answer_the_phone(
    host: LocalHost, twilio_rest: TwilioClient
) -> None:
    validation = twilio_rest.validation_requests.create(phone_number=a_mobile())
    response = requests.post(
        f"{host.base_url}{PANE}/{validation.call_sid}",
        data={"code": validation.validation_code},
        headers={"Origin": "https://evil.example"},
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code == 403
    assert validation.call_sid in [c["call_sid"] for c in pending(host)]


# --- the caller ID of dialled calls ----------------------------------------------------------


def test_every_dialled_leg_records_its_caller_id_in_the_sandbox_and_the_calls_api(
    host: LocalHost, signed_in: Client, fund: Fund
) -> None:
    user_id = user_of(signed_in)
    fund(user_id, ONE_DOLLAR)
    state = finished(signed_in, place_call(signed_in, user_id, LANDLINE, duration_seconds=6)["sid"])

    assert state["dial"]["caller_id"] == SERVICE_CALLER_ID  # the <Dial callerId> /api/voice chose
    calls = requests.get(
        f"{host.base_url}/sandbox/twilio/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json",
        params={"ParentCallSid": state["sid"]},
        auth=API_KEY,
        timeout=10,
    ).json()["calls"]
    [child] = calls
    assert (child["sid"], child["from"]) == (state["dial"]["sid"], SERVICE_CALLER_ID)
    status_callbacks = [w for w in state["webhooks"] if w["kind"] == "status"]
    assert status_callbacks
    assert {w["params"]["From"] for w in status_callbacks} == {SERVICE_CALLER_ID}

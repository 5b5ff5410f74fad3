"""The sandbox's own endpoints over real HTTP: every JSON body they take is read one way, so
that odd input is a 400 with a sentence in the provider's error format, never a 500; and
they, and the admin API, answer only this machine's pages, not a site's that rebinds its
name to 127.0.0.1."""

from __future__ import annotations

import pytest
import requests

from tests.servers import LocalHost

DEEP = b"[" * 50_000 + b"]" * 50_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
JSON_BODIES = [
    "/sandbox/telephony/calls",
    "/sandbox/telephony/phone/CA" + "0" * 32,
    "/sandbox/stripe/_events/pay",
    "/sandbox/twilio/_seed",
]


@pytest.mark.parametrize(
    ("body", "sentence"),
    [
        (DEEP, "The request body is nested too deeply."),
        (DEEP_OBJECT, "The request body is nested too deeply."),
        (b'{"to": ', "The request body is not valid JSON."),
        (b"\xff\xfe{}", "The request body is not valid JSON."),
        (b'{"to": "\\ud800", "session_id": "\\udfff"}', "not valid Unicode."),
        (b"[1, 2]", "The request body must be a JSON object."),
    ],
    ids=["deep-array", "deep-object", "truncated", "not-utf8", "lone-surrogate", "array"],
)
@pytest.mark.parametrize("path", JSON_BODIES)
def test_an_odd_json_body_is_a_400_with_a_sentence(
    host: LocalHost, path: str, body: bytes, sentence: str
) -> None:
    response = requests.post(
        host.base_url + path,
        data=body,
        headers={"Content-Type": "application/json", "Origin": host.base_url},
        timeout=30,
    )
    assert response.status_code == 400, response.text[:300]
    answer = response.json()
    if path.startswith("/sandbox/twilio/"):
        # Twilio's own error body, which twilio.rest turns into TwilioRestException.
        assert answer["code"] == 21000
        assert answer["message"].endswith(sentence), answer
    else:
        assert response.headers["Content-Type"] == "application/problem+json"
        assert answer["detail"].endswith(sentence), answer


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/sandbox/telephony/calls"),
        ("GET", "/sandbox/stripe/_requests"),
        ("POST", "/sandbox/telephony/calls"),
        ("POST", "/sandbox/stripe/_events/pay"),
        ("POST", "/admin/functions/reconcile"),
    ],
)
def test_a_page_on_a_rebound_name_reaches_neither_sandbox_nor_admin_api(
    host: LocalHost, method: str, path: str
) -> None:
    port = host.base_url.rsplit(":", 1)[1]
    response = requests.request(
        method,
        host.base_url + path,
        json={},
        headers={"Host": f"evil.example.com:{port}", "Origin": f"http://evil.example.com:{port}"},
        timeout=30,
    )
    assert response.status_code == 421, response.text[:300]
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "loopback" in response.json()["detail"]
    assert "identity" not in response.text


@pytest.mark.parametrize(
    "path",
    ["/sandbox/telephony/calls", "/sandbox/stripe/_events/pay", "/admin/functions/reconcile"],
)
def test_a_form_posted_from_another_site_changes_nothing_in_the_sandbox(
    host: LocalHost, path: str
) -> None:
    response = requests.post(
        host.base_url + path,
        data={"to": "+442079460001"},
        headers={"Origin": "https://evil.example.com"},
        timeout=30,
    )
    assert response.status_code == 403, response.text[:300]
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "evil.example.com" in response.json()["detail"]


def test_the_stripe_fake_refuses_a_form_body_that_is_not_utf8(host: LocalHost) -> None:
    response = requests.post(
        f"{host.base_url}/sandbox/stripe/v1/checkout/sessions",
        data=b"mode=\xff\xfe",
        headers={"Authorization": "Bearer sk_test_sandbox"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The request body is not UTF-8 form data."

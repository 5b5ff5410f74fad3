"""The sandbox reads TwiML as strictly as Twilio: what Twilio would refuse fails loudly."""

from __future__ import annotations

import pytest

from local_host.sandbox.twiml_parser import (
    DOCUMENT_PARSE_FAILURE,
    INVALID_CONTENT_TYPE,
    Dial,
    Hangup,
    Number,
    Pause,
    Reject,
    Say,
    TwimlDocument,
    TwimlError,
    parse_twiml,
)
from shared.telephony import twiml
from shared.telephony.webhook_paths import dial_callbacks

XML = "text/xml"
# As /api/voice makes them: query, then our connection overrides (read back verbatim).
CALLBACKS = dial_callbacks("https://own.example", "u1", "CA1")
STATUS_URL = CALLBACKS.status_callback_url
ACTION_URL = CALLBACKS.action_url


def response(inner: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'.encode()


def dial(
    attributes: str = 'timeLimit="60"', number: str = "<Number>+442079460018</Number>"
) -> bytes:
    return response(f"<Dial {attributes}>{number}</Dial>")


def test_the_dial_our_voice_webhook_answers_is_read_attribute_by_attribute() -> None:
    plan = twiml.DialPlan("+442079460018", "+15005550006", 80, ACTION_URL, STATUS_URL)
    document = parse_twiml(twiml.dial(plan).encode(), XML)
    assert document == TwimlDocument(
        [
            Dial(
                number=Number(
                    e164="+442079460018",
                    status_callback=STATUS_URL,
                    status_callback_events=("initiated", "ringing", "answered", "completed"),
                    status_callback_method="POST",
                ),
                action=ACTION_URL,
                method="POST",
                time_limit=80,
                caller_id="+15005550006",
                answer_on_bridge=True,
            )
        ]
    )


def test_a_refusal_is_what_the_caller_hears_then_a_hangup() -> None:
    document = parse_twiml(twiml.refuse("Calls to premium-rate numbers are refused.").encode(), XML)
    assert document.verbs == [Say("Calls to premium-rate numbers are refused."), Hangup()]
    assert document.spoken == ["Calls to premium-rate numbers are refused."]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<Response/>", []),
        (b"<Response>\n  <!-- nothing to do -->\n</Response>", []),
        (response("<Hangup/>"), [Hangup()]),
        (response('<Reject reason="busy"/>'), [Reject("busy")]),
        (response('<Pause length="2"/><Say voice="alice" language="en-GB" loop="2">Hi</Say>'),
         [Pause(2), Say("Hi", voice="alice", language="en-GB", loop=2)]),
        (dial('timeout="20" method="GET" record="record-from-answer" hangupOnStar="false"'),
         [Dial(Number("+442079460018"), method="GET", timeout=20, record="record-from-answer")]),
        (dial(number='<Number statusCallbackEvent="completed" statusCallbackMethod="GET" '
                     'sendDigits="ww12#">+14155550100</Number>'),
         [Dial(Number("+14155550100", status_callback_events=("completed",),
                      status_callback_method="GET", send_digits="ww12#"), time_limit=60)]),
        ("\ufeff<Response><Say>café</Say></Response>".encode(), [Say("café")]),
    ],
)  # fmt: skip
def test_valid_documents_are_read(body: bytes, expected: list[object]) -> None:
    assert parse_twiml(body, XML).verbs == expected


def test_a_dial_without_time_limit_gets_twilios_four_hours_and_only_the_completed_callback() -> (
    None
):
    [verb] = parse_twiml(dial(""), XML).verbs
    assert isinstance(verb, Dial)
    assert verb.time_limit == 14400
    assert verb.number.status_callback_events == ("completed",)


REJECTED: list[tuple[str, bytes, str]] = [
    ("not xml", b"Hello", "well-formed"),
    ("unclosed element", b"<Response><Say>hi</Response>", "well-formed"),
    ("empty body", b"", "well-formed"),
    ("two roots", b"<Response/><Response/>", "well-formed"),
    ("lower-case root", b"<response/>", "root element"),
    ("wrong root", b"<Dial>+442079460018</Dial>", "root element"),
    ("namespaced root", b'<Response xmlns="urn:x"/>', "root element"),
    ("attribute on Response", b'<Response version="2"/>', "unknown attribute"),
    ("text in Response", response("Hello"), "cannot hold text"),
    ("text between verbs", response("<Hangup/>bye"), "not allowed"),
    ("unknown verb", response("<Play>https://x.example/a.mp3</Play>"), "not a TwiML verb"),
    ("lower-case verb", response("<say>hi</say>"), "not a TwiML verb"),
    ("noun as verb", response("<Number>+442079460018</Number>"), "not a TwiML verb"),
    ("empty Say", response("<Say></Say>"), "no text"),
    ("blank Say", response("<Say>   </Say>"), "no text"),
    ("SSML in Say", response("<Say>Hi <break/></Say>"), "only text"),
    ("unknown Say attribute", response('<Say speed="2">Hi</Say>'), "unknown attribute"),
    ("bad voice", response('<Say voice="robot">Hi</Say>'), "voice"),
    ("bad language", response('<Say language="English">Hi</Say>'), "language"),
    ("negative loop", response('<Say loop="-1">Hi</Say>'), "loop"),
    ("text in Hangup", response("<Hangup>now</Hangup>"), "cannot hold text"),
    ("attribute on Hangup", response('<Hangup reason="x"/>'), "unknown attribute"),
    ("bad Reject reason", response('<Reject reason="nope"/>'), "reason"),
    ("zero Pause", response('<Pause length="0"/>'), "between 1 and"),
    ("fractional Pause", response('<Pause length="1.5"/>'), "whole number"),
    ("bare number in Dial", response("<Dial>+442079460018</Dial>"), "exactly one <Number>"),
    ("empty Dial", response("<Dial/>"), "exactly one <Number>"),
    ("two Numbers", dial(number="<Number>+442079460018</Number>" * 2), "exactly one <Number>"),
    ("Client noun", dial(number="<Client>alice</Client>"), "exactly one <Number>"),
    ("text beside Number", dial(number="call <Number>+442079460018</Number>"), "cannot hold text"),
    ("zero timeLimit", dial('timeLimit="0"'), "timeLimit"),
    ("negative timeLimit", dial('timeLimit="-5"'), "timeLimit"),
    ("fractional timeLimit", dial('timeLimit="60.5"'), "timeLimit"),
    ("timeLimit over four hours", dial('timeLimit="14401"'), "timeLimit"),
    ("empty timeLimit", dial('timeLimit=""'), "timeLimit"),
    ("spaced timeLimit", dial('timeLimit=" 60"'), "timeLimit"),
    ("unknown Dial attribute", dial('timeLimit="60" maxPrice="1"'), "unknown attribute 'maxPrice'"),
    ("wrong-case attribute", dial('timelimit="60"'), "unknown attribute 'timelimit'"),
    ("answerOnBridge not boolean", dial('answerOnBridge="yes"'), "answerOnBridge"),
    ("answerOnBridge capitalised", dial('answerOnBridge="True"'), "answerOnBridge"),
    ("callerId not E.164", dial('callerId="020 7946 0018"'), "callerId"),
    ("relative action", dial('action="/api/call-status"'), "absolute"),
    ("bad override", dial('action="https://own.example/a#rc=9"'), "connection overrides"),
    ("bad retry policy", dial('action="https://own.example/a#rp=always"'), "connection overrides"),
    ("anchor", dial(number='<Number statusCallback="https://o.example/s#top">+4420</Number>'),
     "connection overrides"),
    ("action not http", dial('action="ftp://own.example/a"'), "absolute"),
    ("bad method", dial('method="PUT"'), "method"),
    ("zero timeout", dial('timeout="0"'), "timeout"),
    ("bad record", dial('record="yes-please"'), "record"),
    ("national number", dial(number="<Number>020 7946 0018</Number>"), "E.164"),
    ("number without plus", dial(number="<Number>442079460018</Number>"), "E.164"),
    ("empty Number", dial(number="<Number/>"), "E.164"),
    ("element in Number", dial(number="<Number><Say>x</Say></Number>"), "cannot hold"),
    ("relative statusCallback", dial(number='<Number statusCallback="/s">+44207946001</Number>'),
     "absolute"),
    ("unknown event", dial(number='<Number statusCallbackEvent="hungup">+44207946001</Number>'),
     "statusCallbackEvent"),
    ("comma events", dial(number='<Number statusCallbackEvent="initiated,ringing">+4420</Number>'),
     "statusCallbackEvent"),
    ("empty events", dial(number='<Number statusCallbackEvent="">+44207946001</Number>'),
     "statusCallbackEvent"),
    ("repeated event", dial(number='<Number statusCallbackEvent="ringing ringing">+4420</Number>'),
     "twice"),
    ("bad callback method", dial(number='<Number statusCallbackMethod="PATCH">+4420</Number>'),
     "statusCallbackMethod"),
    ("unknown Number attribute", dial(number='<Number foo="1">+442079460018</Number>'),
     "unknown attribute"),
    ("not UTF-8", "<Response><Say>café</Say></Response>".encode("latin-1"), "UTF-8"),
    ("declared Latin-1", b'<?xml version="1.0" encoding="ISO-8859-1"?><Response/>', "encoding"),
    ("DOCTYPE", b'<!DOCTYPE r [<!ENTITY a "x">]><Response><Say>&a;</Say></Response>', "DOCTYPE"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body", "sentence"), REJECTED, ids=[c[0] for c in REJECTED])
def test_twiml_twilio_would_refuse_fails_loudly(case: str, body: bytes, sentence: str) -> None:
    with pytest.raises(TwimlError, match=sentence) as refused:
        parse_twiml(body, XML)
    assert refused.value.code == DOCUMENT_PARSE_FAILURE
    assert str(refused.value).endswith(".")


@pytest.mark.parametrize(
    "content_type",
    [None, "", "text/plain", "application/json", "text/html", "text/xml; charset=iso-8859-1"],
)
def test_a_response_that_is_not_xml_fails_with_invalid_content_type(
    content_type: str | None,
) -> None:
    with pytest.raises(TwimlError) as refused:
        parse_twiml(b"<Response/>", content_type)
    assert refused.value.code == INVALID_CONTENT_TYPE


@pytest.mark.parametrize(
    "content_type", ["text/xml", "application/xml", "text/xml; charset=utf-8", "Text/XML"]
)
def test_xml_content_types_are_accepted(content_type: str) -> None:
    assert parse_twiml(b"<Response/>", content_type) == TwimlDocument([])

"""A strict reader of the TwiML our /api/voice answers, for the telephony sandbox.

Twilio refuses a document it cannot use and fails the call with error 12100 ("Document parse
failure"), or 12300 ("Invalid Content-Type") when the response is not XML. The sandbox must
fail the same way, loudly, so that a mistake in the TwiML we generate shows up in tests rather
than on a customer's call. It reads the part of TwiML that OwnNumber uses:

- `<Response>` as the root, with no attributes;
- `<Dial>` holding exactly one `<Number>` (E.164), with the attributes Twilio documents;
- `<Say>` (text, optional voice, language, loop), `<Hangup/>`, `<Reject/>`, `<Pause/>`.

Anything else (another verb or noun, an attribute Twilio does not define for the element, a
value outside the documented range, text where none is allowed, a namespace, a DOCTYPE,
bytes that are not UTF-8) raises `TwimlError` with a sentence saying what and where.

On purpose the sandbox is stricter than Twilio in four places, because our signatures,
retries and billing depend on them: URLs must be absolute (Twilio resolves relative ones
against the document's URL), a URL's fragment must be connection overrides Twilio takes
(Twilio reports a bad one, e.g. 11243 "HTTP retry policy is invalid", and delivers with its
defaults), numbers must be E.164 (Twilio also takes national formats), and the response must
be text/xml or application/xml (Twilio reads text/plain aloud).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from shared.telephony.webhook_overrides import InvalidOverrides, parse_overrides

DOCUMENT_PARSE_FAILURE = 12100
INVALID_CONTENT_TYPE = 12300

# Twilio's ceilings: a <Dial> lasts at most four hours and rings at most ten minutes.
MAX_TIME_LIMIT_SECONDS = 14400
MAX_DIAL_TIMEOUT_SECONDS = 600
MAX_PAUSE_SECONDS = 14400
MAX_SAY_CHARACTERS = 4096

STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")

_XML_TYPES = ("text/xml", "application/xml")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_DECLARED_ENCODING = re.compile(r"""<\?xml[^>]*\bencoding\s*=\s*["']([^"']+)["']""")
_SEND_DIGITS = re.compile(r"[0-9wW*#]{1,32}")
_BYOC = re.compile(r"BY[0-9a-f]{32}")
_VOICE = re.compile(r"man|woman|alice|Polly\.[A-Za-z-]+|Google\.[A-Za-z0-9-]+")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,4})?")
# Twilio's ringback tones, by country.
_RING_TONE = re.compile(
    r"at|au|bg|br|be|ch|cl|cn|cz|de|dk|ee|es|fi|fr|gr|hu|il|in|it|lt|jp|mx|my|nl|no|nz|ph|pl|"
    r"pt|ru|se|sg|th|uk|us|us-old|tw|ve|za"
)


class TwimlError(ValueError):
    """TwiML that Twilio would refuse; `code` is the Twilio error code the call fails with."""

    def __init__(self, message: str, code: int = DOCUMENT_PARSE_FAILURE) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Number:
    e164: str
    status_callback: str | None = None
    # Twilio sends only "completed" unless told otherwise.
    status_callback_events: tuple[str, ...] = ("completed",)
    status_callback_method: str = "POST"
    send_digits: str | None = None
    url: str | None = None
    method: str = "POST"
    byoc: str | None = None


@dataclass(frozen=True)
class Dial:
    number: Number
    action: str | None = None
    method: str = "POST"
    timeout: int = 30
    time_limit: int = MAX_TIME_LIMIT_SECONDS
    caller_id: str | None = None
    answer_on_bridge: bool = False
    hangup_on_star: bool = False
    record: str = "do-not-record"
    trim: str = "do-not-trim"
    ring_tone: str | None = None
    recording_status_callback: str | None = None
    recording_status_callback_method: str = "POST"
    recording_status_callback_events: tuple[str, ...] = ("completed",)
    recording_track: str = "both"
    sequential: bool = False


@dataclass(frozen=True)
class Say:
    text: str
    voice: str | None = None
    language: str | None = None
    loop: int = 1


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Reject:
    reason: str = "rejected"


@dataclass(frozen=True)
class Pause:
    length: int = 1


Verb = Dial | Say | Hangup | Reject | Pause


@dataclass(frozen=True)
class TwimlDocument:
    verbs: list[Verb] = field(default_factory=list)

    @property
    def spoken(self) -> list[str]:
        """What the caller hears, in order (the <Say> texts)."""
        return [verb.text for verb in self.verbs if isinstance(verb, Say)]


def parse_twiml(body: bytes, content_type: str | None) -> TwimlDocument:
    """The document Twilio would execute, or TwimlError saying why Twilio would refuse it."""
    _check_content_type(content_type)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TwimlError(
            f"The TwiML is not valid UTF-8 (byte {error.start} cannot be decoded)."
        ) from None
    declared = _DECLARED_ENCODING.match(text.lstrip("\ufeff"))
    if declared and declared[1].lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise TwimlError(f"The TwiML declares the encoding {declared[1]!r}; TwiML is UTF-8.")
    # A DOCTYPE can define entities (and expand them without bound); TwiML never needs one.
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise TwimlError("The TwiML declares a DOCTYPE or entities, which TwiML does not allow.")
    try:
        root = ET.fromstring(text.lstrip("\ufeff"))
    except ET.ParseError as error:
        raise TwimlError(f"The TwiML is not well-formed XML: {error}.") from None
    if root.tag != "Response":
        raise TwimlError(f"The root element must be <Response>, not <{_name(root)}>.")
    _attributes(root, {})
    _no_text(root, "<Response>")
    verbs: list[Verb] = []
    for index, element in enumerate(root, start=1):
        reader = _VERBS.get(element.tag)
        if reader is None:
            raise TwimlError(
                f"<{_name(element)}> (verb {index}) is not a TwiML verb the sandbox accepts; "
                f"use one of {', '.join('<' + name + '>' for name in _VERBS)}."
            )
        verbs.append(reader(element))
    return TwimlDocument(verbs)


def _check_content_type(content_type: str | None) -> None:
    if not content_type:
        raise TwimlError("The TwiML response has no Content-Type.", INVALID_CONTENT_TYPE)
    media, _, rest = content_type.partition(";")
    if media.strip().lower() not in _XML_TYPES:
        raise TwimlError(
            f"The TwiML response's Content-Type is {content_type!r}; TwiML must be text/xml or "
            "application/xml.",
            INVALID_CONTENT_TYPE,
        )
    for parameter in rest.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise TwimlError(
                f"The TwiML response's charset is {value.strip()!r}; TwiML is UTF-8.",
                INVALID_CONTENT_TYPE,
            )


# --- elements ------------------------------------------------------------------------------


def _dial(element: ET.Element) -> Dial:
    where = "<Dial>"
    values = _attributes(element, _DIAL_ATTRIBUTES)
    children = list(element)
    if len(children) != 1 or children[0].tag != "Number":
        found = ", ".join(f"<{_name(child)}>" for child in children) or "no element"
        raise TwimlError(f"{where} must hold exactly one <Number>; it holds {found}.")
    _no_text(element, where)
    return Dial(number=_number(children[0]), **values)


def _number(element: ET.Element) -> Number:
    values = _attributes(element, _NUMBER_ATTRIBUTES)
    if len(element):
        raise TwimlError(f"<Number> cannot hold elements; it holds <{_name(element[0])}>.")
    text = (element.text or "").strip()
    if not _E164.fullmatch(text):
        raise TwimlError(f"<Number> must hold an E.164 number such as +442079460018, not {text!r}.")
    return Number(e164=text, **values)


def _say(element: ET.Element) -> Say:
    values = _attributes(element, _SAY_ATTRIBUTES)
    if len(element):
        raise TwimlError(
            f"<Say> may hold only text here; it holds <{_name(element[0])}> (SSML is not used)."
        )
    text = (element.text or "").strip()
    if not text:
        raise TwimlError("<Say> has no text to say.")
    if len(text) > MAX_SAY_CHARACTERS:
        raise TwimlError(f"<Say> text is longer than Twilio's {MAX_SAY_CHARACTERS} characters.")
    return Say(text=text, **values)


def _empty_verb(
    factory: Callable[..., Verb], accepted: Mapping[str, _Attribute]
) -> Callable[[ET.Element], Verb]:
    def read(element: ET.Element) -> Verb:
        values = _attributes(element, accepted)
        if len(element):
            raise TwimlError(f"<{element.tag}> cannot hold <{_name(element[0])}>.")
        _no_text(element, f"<{element.tag}>")
        return factory(**values)

    return read


# --- attributes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Attribute:
    field: str
    convert: Callable[[str, str], object]


def _attributes(element: ET.Element, accepted: Mapping[str, _Attribute]) -> dict[str, Any]:
    # Any: each value has the type its attribute's converter gives, which is the type of the
    # dataclass field of the same name that it is passed to.
    values: dict[str, Any] = {}
    for name, raw in element.attrib.items():
        spec = accepted.get(name)
        if spec is None:
            hint = f"; it takes {', '.join(accepted)}" if accepted else "; it takes none"
            raise TwimlError(f"<{element.tag}> has an unknown attribute {_local(name)!r}{hint}.")
        values[spec.field] = spec.convert(raw, f"<{element.tag} {name}>")
    return values


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def convert(raw: str, where: str) -> str:
        if raw not in allowed:
            raise TwimlError(f"{where} must be one of {', '.join(allowed)}, not {raw!r}.")
        return raw

    return convert


def _boolean(raw: str, where: str) -> bool:
    if raw not in ("true", "false"):
        raise TwimlError(f"{where} must be true or false, not {raw!r}.")
    return raw == "true"


def _integer(low: int, high: int) -> Callable[[str, str], int]:
    def convert(raw: str, where: str) -> int:
        if not raw.isascii() or not raw.isdigit():
            raise TwimlError(f"{where} must be a whole number of seconds, not {raw!r}.")
        value = int(raw)
        if not low <= value <= high:
            raise TwimlError(f"{where} must be between {low} and {high}, not {value}.")
        return value

    return convert


def _absolute_url(raw: str, where: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or raw != raw.strip():
        raise TwimlError(f"{where} must be an absolute http(s) URL, not {raw!r}.")
    if "#" in raw:
        try:
            parse_overrides(parts.fragment)
        except InvalidOverrides as error:
            raise TwimlError(
                f"{where} has a fragment that is not connection overrides Twilio takes: {error}."
            ) from None
    return raw


def _e164(raw: str, where: str) -> str:
    if not _E164.fullmatch(raw):
        raise TwimlError(f"{where} must be an E.164 number such as +15005550006, not {raw!r}.")
    return raw


def _pattern(pattern: re.Pattern[str], example: str) -> Callable[[str, str], str]:
    def convert(raw: str, where: str) -> str:
        if not pattern.fullmatch(raw):
            raise TwimlError(f"{where} must look like {example}, not {raw!r}.")
        return raw

    return convert


def _events(*allowed: str) -> Callable[[str, str], tuple[str, ...]]:
    def convert(raw: str, where: str) -> tuple[str, ...]:
        events = raw.split()
        unknown = [event for event in events if event not in allowed]
        if not events or unknown:
            raise TwimlError(
                f"{where} must be a space-separated list of {', '.join(allowed)}, not {raw!r}."
            )
        if len(set(events)) != len(events):
            raise TwimlError(f"{where} lists an event twice: {raw!r}.")
        return tuple(events)

    return convert


_METHOD = _choice("GET", "POST")

_DIAL_ATTRIBUTES = {
    "action": _Attribute("action", _absolute_url),
    "method": _Attribute("method", _METHOD),
    "timeout": _Attribute("timeout", _integer(1, MAX_DIAL_TIMEOUT_SECONDS)),
    "timeLimit": _Attribute("time_limit", _integer(1, MAX_TIME_LIMIT_SECONDS)),
    "callerId": _Attribute("caller_id", _e164),
    "answerOnBridge": _Attribute("answer_on_bridge", _boolean),
    "hangupOnStar": _Attribute("hangup_on_star", _boolean),
    "record": _Attribute(
        "record",
        _choice(
            "do-not-record",
            "record-from-answer",
            "record-from-ringing",
            "record-from-answer-dual",
            "record-from-ringing-dual",
            "true",
            "false",
        ),
    ),
    "trim": _Attribute("trim", _choice("trim-silence", "do-not-trim")),
    "ringTone": _Attribute("ring_tone", _pattern(_RING_TONE, "a country code such as uk")),
    "recordingStatusCallback": _Attribute("recording_status_callback", _absolute_url),
    "recordingStatusCallbackMethod": _Attribute("recording_status_callback_method", _METHOD),
    "recordingStatusCallbackEvent": _Attribute(
        "recording_status_callback_events", _events("in-progress", "completed", "absent")
    ),
    "recordingTrack": _Attribute("recording_track", _choice("both", "inbound", "outbound")),
    "sequential": _Attribute("sequential", _boolean),
}

_NUMBER_ATTRIBUTES = {
    "statusCallback": _Attribute("status_callback", _absolute_url),
    "statusCallbackEvent": _Attribute("status_callback_events", _events(*STATUS_CALLBACK_EVENTS)),
    "statusCallbackMethod": _Attribute("status_callback_method", _METHOD),
    "sendDigits": _Attribute("send_digits", _pattern(_SEND_DIGITS, "ww1234#")),
    "url": _Attribute("url", _absolute_url),
    "method": _Attribute("method", _METHOD),
    "byoc": _Attribute("byoc", _pattern(_BYOC, "BY followed by 32 hex digits")),
}

_SAY_ATTRIBUTES = {
    "voice": _Attribute("voice", _pattern(_VOICE, "alice or Polly.Amy")),
    "language": _Attribute("language", _pattern(_LANGUAGE, "en-GB")),
    "loop": _Attribute("loop", _integer(0, 1000)),
}

_VERBS: dict[str, Callable[[ET.Element], Verb]] = {
    "Dial": _dial,
    "Say": _say,
    "Hangup": _empty_verb(Hangup, {}),
    "Reject": _empty_verb(Reject, {"reason": _Attribute("reason", _choice("rejected", "busy"))}),
    "Pause": _empty_verb(Pause, {"length": _Attribute("length", _integer(1, MAX_PAUSE_SECONDS))}),
}


# --- text and names ------------------------------------------------------------------------


def _no_text(element: ET.Element, where: str) -> None:
    """Only whitespace may sit around the children of an element that holds no text."""
    if element.text and element.text.strip():
        raise TwimlError(f"{where} cannot hold text; found {element.text.strip()[:40]!r}.")
    for child in element:
        if child.tail and child.tail.strip():
            raise TwimlError(f"Text {child.tail.strip()[:40]!r} inside {where} is not allowed.")


def _local(name: str) -> str:
    return name.rpartition("}")[2] if name.startswith("{") else name


def _name(element: ET.Element) -> str:
    # A namespaced tag prints as {uri}Tag; show it as written, with the namespace flagged.
    tag = str(element.tag)
    return f"{_local(tag)} in namespace {tag[1:].partition('}')[0]}" if tag.startswith("{") else tag

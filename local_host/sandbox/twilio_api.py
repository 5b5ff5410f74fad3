"""The sandbox's Twilio REST API: the part of the Calls resource that reconciliation reads and
account deletion deletes.

Mounted at /sandbox/twilio, which is TWILIO_API_BASE_URL's default in the sandbox, so the
production code's `twilio.rest.Client` talks to it unchanged: HTTP Basic auth with the API
key (or the account's SID and auth token, as Twilio also accepts), Twilio's paths, JSON field
names, RFC 2822 times, string durations, paging fields and error bodies.

- GET  /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json
- GET  /2010-04-01/Accounts/{AccountSid}/Calls.json[?ParentCallSid=…&Status=…&PageSize=…&Page=…]
- DELETE /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json   204 with no body; 404 (Twilio's
  error 20404) for a call it does not know, as after an earlier delete
- POST   /2010-04-01/Accounts/{AccountSid}/OutgoingCallerIds.json   a validation request:
  form PhoneNumber (E.164), FriendlyName, StatusCallback, StatusCallbackMethod (GET or POST,
  default POST), CallDelay (0-60), Extension; 201 with the 6-digit validation_code and the
  validation call's call_sid. The call rings on the phone pane (/sandbox/telephony/phone).
- GET    /2010-04-01/Accounts/{AccountSid}/OutgoingCallerIds.json[?PhoneNumber=…&FriendlyName=…
  &PageSize=…&Page=…]   the verified caller IDs, newest first
- GET    /2010-04-01/Accounts/{AccountSid}/OutgoingCallerIds/{Sid}.json   one
- POST   /2010-04-01/Accounts/{AccountSid}/OutgoingCallerIds/{Sid}.json   FriendlyName
- DELETE /2010-04-01/Accounts/{AccountSid}/OutgoingCallerIds/{Sid}.json   204
- POST /_seed   (sandbox only, no auth) a call or {"calls": [...]}, in the Calls API's field
  names; times as ISO 8601 or RFC 2822. For tests that need "a call Twilio knows but whose
  callbacks were all lost".

The calls live in memory (`FakeCallsApi`), the caller IDs in `caller_id_store`; the telephony
sandbox records every call it simulates there through `record_call`, and one instance of each
serves the whole host process.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from local_host.http_types import LocalRequest, LocalResponse, json_response
from local_host.sandbox.caller_id_store import (
    AlreadyVerified,
    CallerIdStore,
    OutgoingCallerId,
    caller_id_store,
    formatted_number,
)
from local_host.sandbox.json_body import json_object
from shared.config import SANDBOX_TWILIO_PATH, Settings, is_loopback_host
from shared.errors import InvalidInput

API_VERSION = "2010-04-01"
_CALL_SID = re.compile(r"CA[0-9a-f]{32}")
_CALL_PATH = re.compile(rf"/{API_VERSION}/Accounts/(AC[0-9a-zA-Z]+)/Calls/([^/]+)\.json")
_LIST_PATH = re.compile(rf"/{API_VERSION}/Accounts/(AC[0-9a-zA-Z]+)/Calls\.json")
_CALLER_IDS_PATH = re.compile(rf"/{API_VERSION}/Accounts/(AC[0-9a-zA-Z]+)/OutgoingCallerIds\.json")
_CALLER_ID_PATH = re.compile(
    rf"/{API_VERSION}/Accounts/(AC[0-9a-zA-Z]+)/OutgoingCallerIds/([^/]+)\.json"
)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_EXTENSION = re.compile(r"[0-9#*wW]{1,32}")
_MAX_FRIENDLY_NAME = 64
_STATUSES = frozenset(
    {"queued", "initiated", "ringing", "in-progress", "completed", "busy", "no-answer", "failed"}
    | {"canceled"}
)
_MAX_PAGE_SIZE = 1000
_DAWN = datetime.min.replace(tzinfo=UTC)


class InvalidFakeCall(ValueError):
    """A seeded call that Twilio could not have (a bad sid, status or time)."""


@dataclass(frozen=True)
class FakeCall:
    """A call as Twilio keeps it. `duration` is whole seconds, None while the call lasts."""

    sid: str
    status: str
    parent_call_sid: str | None = None
    to: str = ""
    from_: str = ""
    direction: str = "outbound-api"
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration: int | None = None
    date_created: datetime | None = None

    def __post_init__(self) -> None:
        if not _CALL_SID.fullmatch(self.sid):
            raise InvalidFakeCall(f"sid {self.sid!r} is not a Call SID (CA and 32 hex digits)")
        if self.parent_call_sid is not None and not _CALL_SID.fullmatch(self.parent_call_sid):
            raise InvalidFakeCall(f"parent_call_sid {self.parent_call_sid!r} is not a Call SID")
        if self.status not in _STATUSES:
            raise InvalidFakeCall(f"status {self.status!r} is not one Twilio reports")
        if self.duration is not None and self.duration < 0:
            raise InvalidFakeCall("duration cannot be negative")

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> FakeCall:
        """From the Calls API's field names ("from", not "from_"); times as datetimes or text."""
        known = {
            "sid",
            "status",
            "parent_call_sid",
            "to",
            "from",
            "direction",
            "start_time",
            "end_time",
            "duration",
            "date_created",
        }
        unknown = set(fields) - known
        if unknown:
            raise InvalidFakeCall(f"unknown field(s): {', '.join(sorted(unknown))}")
        duration = fields.get("duration")
        if isinstance(duration, bool) or not isinstance(duration, int | str | None):
            raise InvalidFakeCall("duration must be whole seconds")
        try:
            seconds = int(duration) if duration not in (None, "") else None
        except ValueError:
            raise InvalidFakeCall("duration must be whole seconds") from None
        return cls(
            sid=str(fields.get("sid", "")),
            status=str(fields.get("status", "")),
            parent_call_sid=fields.get("parent_call_sid") or None,
            to=str(fields.get("to") or ""),
            from_=str(fields.get("from") or ""),
            direction=str(fields.get("direction") or "outbound-api"),
            start_time=_time(fields.get("start_time"), "start_time"),
            end_time=_time(fields.get("end_time"), "end_time"),
            duration=seconds,
            date_created=_time(fields.get("date_created"), "date_created"),
        )


class FakeCallsApi:
    """The calls "Twilio" knows, shared by the telephony sandbox and the REST fake."""

    def __init__(self) -> None:
        self._calls: dict[str, FakeCall] = {}
        self._lock = threading.Lock()

    def record(self, call: FakeCall) -> None:
        """Add the call, or replace what is known about it (its status moved on, say)."""
        with self._lock:
            known = self._calls.get(call.sid)
            created = (known.date_created if known else None) or call.date_created
            self._calls[call.sid] = replace(
                call, date_created=created or call.start_time or datetime.now(UTC)
            )

    def record_call(self, fields: Mapping[str, Any]) -> None:
        """`record` from the Calls API's field names (the telephony sandbox's feed)."""
        self.record(FakeCall.from_fields(fields))

    def get(self, sid: str) -> FakeCall | None:
        with self._lock:
            return self._calls.get(sid)

    def delete(self, sid: str) -> bool:
        """Forget the call, as Twilio's DELETE does; False if it was not known."""
        with self._lock:
            return self._calls.pop(sid, None) is not None

    def children(self, parent_sid: str) -> list[FakeCall]:
        return [call for call in self.all() if call.parent_call_sid == parent_sid]

    def all(self) -> list[FakeCall]:
        """Newest first, as Twilio lists calls."""
        with self._lock:
            calls = list(self._calls.values())
        return sorted(calls, key=lambda c: (c.date_created or _DAWN, c.sid), reverse=True)


@lru_cache(maxsize=1)
def fake_calls_api() -> FakeCallsApi:
    """The host process's one store of calls (the REST fake and the telephony sandbox)."""
    return FakeCallsApi()


class TwilioApiSandbox:
    def __init__(
        self, settings: Settings, calls: FakeCallsApi, caller_ids: CallerIdStore | None = None
    ) -> None:
        self.settings = settings
        self.calls = calls
        self.caller_ids = caller_ids or CallerIdStore()

    def handle(self, request: LocalRequest) -> LocalResponse:
        path = request.path[len(SANDBOX_TWILIO_PATH) :]
        if path == "/_seed":
            return self._seed(request)
        if "/OutgoingCallerIds" in path:
            return self._caller_ids(request, path)
        call_match = _CALL_PATH.fullmatch(path)
        list_match = None if call_match else _LIST_PATH.fullmatch(path)
        if call_match is None and list_match is None:
            return _error(404, 20404, f"The requested resource {path} was not found")
        # The real resource also updates calls; reconciliation reads and deletion deletes.
        allowed = ("GET", "DELETE") if call_match is not None else ("GET",)
        if request.method not in allowed:
            return _error(405, 20004, "Method not allowed")
        if not self._authorised(request):
            return _error(401, 20003, "Authenticate", WWW_Authenticate='Basic realm="Twilio API"')
        match = call_match or list_match
        assert match is not None
        if match.group(1) != self.settings.twilio.account_sid:
            return _error(404, 20404, f"The requested resource {path} was not found")
        if call_match is not None and request.method == "DELETE":
            if not self.calls.delete(call_match.group(2)):
                return _error(404, 20404, f"The requested resource {path} was not found")
            return LocalResponse(204, b"", [])
        if call_match is not None:
            call = self.calls.get(call_match.group(2))
            if call is None:
                return _error(404, 20404, f"The requested resource {path} was not found")
            return _json(200, self._call_json(call))
        return self._list(request, path)

    def _authorised(self, request: LocalRequest) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        twilio = self.settings.twilio
        pairs = (
            (twilio.api_key_sid, twilio.api_key_secret),
            (twilio.account_sid, twilio.auth_token),
        )
        return any(
            hmac.compare_digest(user, sid) and hmac.compare_digest(password, secret)
            for sid, secret in pairs
        )

    def _list(self, request: LocalRequest, path: str) -> LocalResponse:
        query = request.query
        calls = self.calls.all()
        if "ParentCallSid" in query:
            calls = [c for c in calls if c.parent_call_sid == query["ParentCallSid"]]
        if "Status" in query:
            calls = [c for c in calls if c.status == query["Status"]]
        for name, field in (("To", "to"), ("From", "from_")):
            if name in query:
                calls = [c for c in calls if getattr(c, field) == query[name]]
        return _list_page(request, path, "calls", [self._call_json(c) for c in calls])

    def _seed(self, request: LocalRequest) -> LocalResponse:
        if request.method != "POST":
            return _error(405, 20004, "Method not allowed")
        try:
            data = json_object(request.body)
        except InvalidInput as error:
            return _error(400, 21000, str(error))
        try:
            items = data.get("calls", [data])
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise InvalidFakeCall('send a call object or {"calls": [call, ...]}')
            calls = [FakeCall.from_fields(item) for item in items]
        except (ValueError, InvalidFakeCall) as error:
            return _error(400, 21000, f"Cannot seed: {error}")
        for call in calls:
            self.calls.record(call)
        return _json(201, {"seeded": [call.sid for call in calls]})

    # --- OutgoingCallerIds ---------------------------------------------------------------------

    def _caller_ids(self, request: LocalRequest, path: str) -> LocalResponse:
        one = _CALLER_ID_PATH.fullmatch(path)
        every = None if one else _CALLER_IDS_PATH.fullmatch(path)
        match = one or every
        if match is None:
            return _error(404, 20404, f"The requested resource {path} was not found")
        allowed = ("GET", "POST", "DELETE") if one else ("GET", "POST")
        if request.method not in allowed:
            return _error(405, 20004, "Method not allowed")
        if not self._authorised(request):
            return _error(401, 20003, "Authenticate", WWW_Authenticate='Basic realm="Twilio API"')
        if match.group(1) != self.settings.twilio.account_sid:
            return _error(404, 20404, f"The requested resource {path} was not found")
        if every is not None:
            if request.method == "POST":
                return self._validation_request(request)
            return self._list_caller_ids(request, path)
        assert one is not None
        sid = one.group(2)
        if request.method == "DELETE":
            if not self.caller_ids.delete(sid):
                return _error(404, 20404, f"The requested resource {path} was not found")
            return LocalResponse(204, b"", [])
        caller_id = self.caller_ids.caller_id(sid)
        if caller_id is None:
            return _error(404, 20404, f"The requested resource {path} was not found")
        if request.method == "POST":
            form = _form(request)
            if form is None:
                return _error(400, 20001, "The request body is not a form in UTF-8.")
            name = form.get("FriendlyName")
            if name is not None:
                if len(name) > _MAX_FRIENDLY_NAME:
                    return _error(400, 20001, "FriendlyName is longer than 64 characters.")
                caller_id = self.caller_ids.rename(sid, name) or caller_id
        return _json(200, self._caller_id_json(caller_id))

    def _validation_request(self, request: LocalRequest) -> LocalResponse:
        form = _form(request)
        if form is None:
            return _error(400, 20001, "The request body is not a form in UTF-8.")
        number = form.get("PhoneNumber", "").strip()
        if not number:
            return _error(400, 21217, "A 'PhoneNumber' parameter is required.")
        if not _E164.fullmatch(number):
            return _error(
                400,
                21217,
                "Phone number does not appear to be valid: give it in E.164, a + and the"
                " country code and number, such as +447911123456.",
            )
        name = form.get("FriendlyName") or formatted_number(number)
        if len(name) > _MAX_FRIENDLY_NAME:
            return _error(400, 20001, "FriendlyName is longer than 64 characters.")
        method = (form.get("StatusCallbackMethod") or "POST").upper()
        if method not in ("GET", "POST"):
            return _error(400, 20001, "StatusCallbackMethod must be GET or POST.")
        callback = form.get("StatusCallback") or None
        if callback is not None and not _loopback_url(callback):
            # Twilio takes any URL; the sandbox posts only to this machine.
            return _error(
                400,
                21609,
                "StatusCallback must be an http(s) URL on this machine (a loopback host) in"
                " the sandbox.",
            )
        delay_text = form.get("CallDelay") or "0"
        if not delay_text.isdecimal() or not 0 <= int(delay_text) <= 60:
            return _error(400, 20001, "CallDelay must be a whole number of seconds from 0 to 60.")
        extension = form.get("Extension") or None
        if extension is not None and not _EXTENSION.fullmatch(extension):
            return _error(400, 20001, "Extension must be 1 to 32 digits to dial (0-9, *, #, w, W).")
        try:
            validation = self.caller_ids.start_validation(
                number, name, callback, method, int(delay_text), extension
            )
        except AlreadyVerified as error:
            return _error(400, 21450, str(error))
        return _json(
            201,
            {
                "account_sid": self.settings.twilio.account_sid,
                "call_sid": validation.call_sid,
                "friendly_name": validation.friendly_name,
                "phone_number": validation.phone_number,
                "validation_code": validation.validation_code,
            },
        )

    def _list_caller_ids(self, request: LocalRequest, path: str) -> LocalResponse:
        query = request.query
        caller_ids = self.caller_ids.verified()
        if "PhoneNumber" in query:
            caller_ids = [c for c in caller_ids if c.phone_number == query["PhoneNumber"]]
        if "FriendlyName" in query:
            caller_ids = [c for c in caller_ids if c.friendly_name == query["FriendlyName"]]
        items = [self._caller_id_json(c) for c in caller_ids]
        return _list_page(request, path, "outgoing_caller_ids", items)

    def _caller_id_json(self, caller_id: OutgoingCallerId) -> dict[str, Any]:
        account = self.settings.twilio.account_sid
        return {
            "account_sid": account,
            "date_created": _rfc2822(caller_id.date_created),
            "date_updated": _rfc2822(caller_id.date_updated),
            "friendly_name": caller_id.friendly_name,
            "phone_number": caller_id.phone_number,
            "sid": caller_id.sid,
            "uri": f"/{API_VERSION}/Accounts/{account}/OutgoingCallerIds/{caller_id.sid}.json",
        }

    def _call_json(self, call: FakeCall) -> dict[str, Any]:
        account = self.settings.twilio.account_sid
        uri = f"/{API_VERSION}/Accounts/{account}/Calls/{call.sid}"
        created = _rfc2822(call.date_created)
        return {
            "account_sid": account,
            "annotation": None,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": created,
            "date_updated": _rfc2822(call.end_time) or created,
            "direction": call.direction,
            "duration": str(call.duration) if call.duration is not None else None,
            "end_time": _rfc2822(call.end_time),
            "forwarded_from": None,
            "from": call.from_,
            "from_formatted": call.from_,
            "group_sid": None,
            "parent_call_sid": call.parent_call_sid,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": call.sid,
            "start_time": _rfc2822(call.start_time),
            "status": call.status,
            "subresource_uris": {
                "notifications": f"{uri}/Notifications.json",
                "recordings": f"{uri}/Recordings.json",
                "payments": f"{uri}/Payments.json",
                "events": f"{uri}/Events.json",
                "siprec": f"{uri}/Siprec.json",
                "streams": f"{uri}/Streams.json",
                "transcriptions": f"{uri}/Transcriptions.json",
                "user_defined_message_subscriptions": (
                    f"{uri}/UserDefinedMessageSubscriptions.json"
                ),
                "user_defined_messages": f"{uri}/UserDefinedMessages.json",
            },
            "to": call.to,
            "to_formatted": call.to,
            "trunk_sid": None,
            "uri": f"{uri}.json",
        }


_PAGING = frozenset({"PageSize", "Page", "PageToken"})


def _list_page(
    request: LocalRequest, path: str, key: str, items: list[dict[str, Any]]
) -> LocalResponse:
    """One page of a Twilio list resource (PageSize, Page), with its paging URIs."""
    query = request.query
    try:
        page_size = int(query.get("PageSize") or 50)
        page = int(query.get("Page") or 0)
    except ValueError:
        return _error(400, 20001, "Invalid paging parameters")
    if not 1 <= page_size <= _MAX_PAGE_SIZE or page < 0:
        return _error(400, 20001, "Invalid paging parameters")
    start = page * page_size
    chunk = items[start : start + page_size]
    filters = [(k, v) for k, v in parse_qsl(request.query_string) if k not in _PAGING]

    def page_uri(number: int) -> str:
        params = [*filters, ("PageSize", str(page_size)), ("Page", str(number))]
        return f"{path}?{urlencode(params)}"

    has_next = start + page_size < len(items)
    return _json(
        200,
        {
            key: chunk,
            "end": start + max(len(chunk) - 1, 0),
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1) if has_next else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page),
        },
    )


def _time(value: Any, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            try:
                moment = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                raise InvalidFakeCall(f"{name} {value!r} is not a time") from None
    else:
        raise InvalidFakeCall(f"{name} must be a time")
    if moment.tzinfo is None:
        raise InvalidFakeCall(f"{name} must say its time zone")
    return moment.astimezone(UTC)


def _rfc2822(moment: datetime | None) -> str | None:
    # Twilio writes "Tue, 31 Aug 2010 20:36:28 +0000".
    return format_datetime(moment.astimezone(UTC)) if moment else None


def _error(status: int, code: int, message: str, **headers: str) -> LocalResponse:
    # Twilio's error body (not RFC 9457), which the SDK turns into TwilioRestException.
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return _json(status, body, *((k.replace("_", "-"), v) for k, v in headers.items()))


def sandbox_twilio_api(settings: Settings) -> TwilioApiSandbox:
    return TwilioApiSandbox(settings, fake_calls_api(), caller_id_store())


def _form(request: LocalRequest) -> dict[str, str] | None:
    """The request's form fields (the last of a repeated one), None if not UTF-8."""
    try:
        return dict(parse_qsl(request.body.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        return None


def _loopback_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and is_loopback_host(parts.hostname or "")
    except ValueError:
        return False


def _json(status: int, body: Mapping[str, Any], *headers: tuple[str, str]) -> LocalResponse:
    return json_response(status, body, *headers, content_type="application/json; charset=utf-8")

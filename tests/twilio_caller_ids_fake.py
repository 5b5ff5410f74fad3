"""A small fake of Twilio's caller-ID REST endpoints, at the HTTP boundary, for the caller-ID
tests (the sandbox's own fake is another piece of work). twilio.rest.Client talks to it
unchanged through TWILIO_API_BASE_URL:

- POST /2010-04-01/Accounts/{AccountSid}/OutgoingCallerIds.json (a validation request) → 201
  {account_sid, call_sid, friendly_name, phone_number, validation_code};
- GET  /2010-04-01/Accounts/{AccountSid}/OutgoingCallerIds.json[?PhoneNumber=] → the list;
- DELETE /2010-04-01/Accounts/{AccountSid}/OutgoingCallerIds/{Sid}.json → 204 (404 if unknown).

`answer()` plays the phone: the code typed right (success, a new OutgoingCallerId) or not
(failed), and POSTs the signed status callback as Twilio does.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from shared.telephony.signature import sign

_PREFIX = "/2010-04-01/Accounts/"
_LIST = re.compile(r"/2010-04-01/Accounts/(AC[0-9a-f]{32})/OutgoingCallerIds\.json")
_ONE = re.compile(r"/2010-04-01/Accounts/(AC[0-9a-f]{32})/OutgoingCallerIds/(PN[0-9a-f]{32})\.json")


@dataclass
class Validation:
    account_sid: str
    call_sid: str
    phone_number: str
    friendly_name: str
    code: str
    status_callback: str
    status_callback_method: str


class FakeCallerIds:
    def __init__(self, auth_token: str) -> None:
        self.auth_token = auth_token
        self.validations: dict[str, Validation] = {}
        self.caller_ids: dict[str, dict[str, str]] = {}
        self.deleted: list[str] = []
        # When set, the next validation request is answered with this status (and an error).
        self.fail_next: int | None = None
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                fake._post(self, form)

            def do_GET(self) -> None:
                fake._get(self)

            def do_DELETE(self) -> None:
                fake._delete(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeCallerIds:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- what Twilio's phone call does ----------------------------------------------------

    def validation_for(self, phone_number: str) -> Validation:
        with self.lock:
            found = [v for v in self.validations.values() if v.phone_number == phone_number]
        assert found, "no validation request for that number"
        return found[-1]

    def answer(
        self, phone_number: str, typed: str | None = None, *, signature: str | None = "sign"
    ) -> tuple[requests.Response, dict[str, str]]:
        """The owner types `typed` (default: the right code): POSTs the status callback."""
        validation = self.validation_for(phone_number)
        success = (typed or validation.code) == validation.code
        form = {
            "AccountSid": validation.account_sid,
            "CallSid": validation.call_sid,
            "PhoneNumber": validation.phone_number,
            "VerificationStatus": "success" if success else "failed",
        }
        if success:
            sid = self._verified(validation)
            form["OutgoingCallerIdSid"] = sid
        return self.deliver(validation.status_callback, form, signature=signature), form

    def deliver(
        self, url: str, form: dict[str, str], *, signature: str | None = "sign"
    ) -> requests.Response:
        headers = {}
        if signature == "sign":
            headers["X-Twilio-Signature"] = sign(url, form, self.auth_token)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        return requests.post(url.partition("#")[0], data=form, headers=headers, timeout=30)

    def _verified(self, validation: Validation) -> str:
        with self.lock:
            for sid, caller_id in self.caller_ids.items():
                if caller_id["phone_number"] == validation.phone_number:
                    return sid
            sid = "PN" + secrets.token_hex(16)
            self.caller_ids[sid] = {
                "sid": sid,
                "account_sid": validation.account_sid,
                "phone_number": validation.phone_number,
                "friendly_name": validation.friendly_name,
                "date_created": "Wed, 02 Dec 2026 06:00:00 +0000",
                "date_updated": "Wed, 02 Dec 2026 06:00:00 +0000",
                "uri": f"{_PREFIX}{validation.account_sid}/OutgoingCallerIds/{sid}.json",
            }
            return sid

    # --- the REST endpoints ---------------------------------------------------------------

    def _post(self, handler: BaseHTTPRequestHandler, form: dict[str, str]) -> None:
        found = _LIST.fullmatch(urlsplit(handler.path).path)
        if found is None:
            return _answer(handler, 404, {"code": 20404, "message": "Not found", "status": 404})
        with self.lock:
            failing, self.fail_next = self.fail_next, None
        if failing is not None:
            return _answer(handler, failing, {"code": 21450, "message": "No", "status": failing})
        if not re.fullmatch(r"\+[1-9][0-9]{6,14}", form.get("PhoneNumber", "")):
            return _answer(handler, 400, {"code": 21211, "message": "Invalid", "status": 400})
        validation = Validation(
            account_sid=found.group(1),
            call_sid="CA" + secrets.token_hex(16),
            phone_number=form["PhoneNumber"],
            friendly_name=form.get("FriendlyName", form["PhoneNumber"]),
            code=f"{secrets.randbelow(10**6):06d}",
            status_callback=form.get("StatusCallback", ""),
            status_callback_method=form.get("StatusCallbackMethod", "POST"),
        )
        with self.lock:
            self.validations[validation.call_sid] = validation
        _answer(
            handler,
            201,
            {
                "account_sid": validation.account_sid,
                "call_sid": validation.call_sid,
                "friendly_name": validation.friendly_name,
                "phone_number": validation.phone_number,
                "validation_code": validation.code,
            },
        )

    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        if _LIST.fullmatch(url.path) is None:
            return _answer(handler, 404, {"code": 20404, "message": "Not found", "status": 404})
        wanted = parse_qs(url.query).get("PhoneNumber", [None])[0]
        with self.lock:
            rows = [c for c in self.caller_ids.values() if wanted in (None, c["phone_number"])]
        _answer(
            handler,
            200,
            {
                "outgoing_caller_ids": rows,
                "page": 0,
                "page_size": 50,
                "first_page_uri": url.path,
                "next_page_uri": None,
                "previous_page_uri": None,
                "uri": url.path,
                "start": 0,
                "end": max(0, len(rows) - 1),
            },
        )

    def _delete(self, handler: BaseHTTPRequestHandler) -> None:
        found = _ONE.fullmatch(urlsplit(handler.path).path)
        with self.lock:
            gone = found is not None and self.caller_ids.pop(found.group(2), None) is not None
            if found is not None:
                self.deleted.append(found.group(2))
        if not gone:
            return _answer(handler, 404, {"code": 20404, "message": "Not found", "status": 404})
        handler.send_response(204)
        handler.send_header("Content-Length", "0")
        handler.end_headers()


def _answer(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(raw)))
    handler.end_headers()
    handler.wfile.write(raw)

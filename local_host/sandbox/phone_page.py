"""The sandbox's phone pane, /sandbox/telephony/phone: the owner's phone ringing with
Twilio's caller-ID validation calls, where the 6-digit code is typed.

Plain HTML forms under the site's Content-Security-Policy (no script, the site's stylesheet),
as the checkout page is. Each validation call takes one answer, as Twilio's does:

- the right code verifies the number (an OutgoingCallerId on the fake account) and sends
  VerificationStatus=success with its OutgoingCallerIdSid to the request's StatusCallback;
- a wrong code, or "Hang up", sends VerificationStatus=failed;

signed with TWILIO_AUTH_TOKEN exactly as the other sandbox webhooks (twilio_webhooks), with
Twilio's retries for the callback URL's connection overrides. The form answers 303 back to
the pane with a note of what was sent and what our app answered; a JSON body
({"code": "123456"} or {"hang_up": true}) answers 200 with the outcome instead, for tests.

The callback carries Twilio's voice request parameters of the validation call (AccountSid,
ApiVersion, CallSid, CallStatus=completed, Direction=outbound-api, To and Called = the
number) with VerificationStatus, OutgoingCallerIdSid (on success) and PhoneNumber.
"""

from __future__ import annotations

import html
import json
import threading
from collections import OrderedDict
from pathlib import Path
from urllib.parse import parse_qsl, quote

from local_host.http_types import LocalRequest, LocalResponse, json_response
from local_host.sandbox.call_simulation import API_VERSION, SandboxRequestInvalid
from local_host.sandbox.caller_id_store import (
    SUCCESS,
    CallerIdStore,
    PendingValidation,
    ValidationOutcome,
    formatted_number,
)
from local_host.sandbox.json_body import json_object
from local_host.sandbox.twilio_webhooks import Webhook, WebhookSender, idempotency_token
from shared.config import Settings
from shared.errors import InvalidInput

PANE_PATH = "/sandbox/telephony/phone"
_SITE_CONFIG = Path(__file__).resolve().parents[2] / "static_site" / "staticwebapp.config.json"
_NO_STORE = ("Cache-Control", "no-store")
_MAX_DELIVERIES_KEPT = 200


class PhonePane:
    """The pane (GET), its JSON twin, and the answers typed on it (POST)."""

    def __init__(self, settings: Settings, store: CallerIdStore) -> None:
        self.settings = settings
        self.store = store
        self._lock = threading.RLock()
        self._sender = WebhookSender(settings.twilio.auth_token, self._lock, store.clock)
        self._deliveries: OrderedDict[str, list[Webhook]] = OrderedDict()
        site = json.loads(_SITE_CONFIG.read_text()) if _SITE_CONFIG.exists() else {}
        self._page_headers = list(site.get("globalHeaders", {}).items())

    # --- reading -------------------------------------------------------------------------------

    def show(self, request: LocalRequest, note: str = "", status: int = 200) -> LocalResponse:
        note = note or request.query.get("note", "")[:500]
        calls = "".join(self._ringing(validation) for validation in self.store.pending())
        if not calls:
            calls = (
                '<p id="no-calls">No validation call is ringing. Start one from the dialer'
                " (verify your number), then reload this page.</p>"
            )
        verified = self.store.verified()
        listing = "".join(
            f"<li>{html.escape(formatted_number(c.phone_number))} ({html.escape(c.sid)})</li>"
            for c in verified
        )
        account = (
            f'<h2>Verified caller IDs on the account</h2><ul id="verified">{listing}</ul>'
            if verified
            else ""
        )
        notice = f'<p class="hint" role="status" id="note">{html.escape(note)}</p>' if note else ""
        body = (
            f'{notice}<section aria-label="Ringing">{calls}</section>{account}'
            f'<p><a href="{PANE_PATH}">Reload</a></p>'
        )
        return self._html(status, body)

    def pending_json(self, _request: LocalRequest) -> LocalResponse:
        calls = [
            {
                "call_sid": v.call_sid,
                "phone_number": v.phone_number,
                "friendly_name": v.friendly_name,
                "started_at": v.started_at.isoformat(),
            }
            for v in self.store.pending()
        ]
        return json_response(200, {"calls": calls}, _NO_STORE)

    # --- answering -----------------------------------------------------------------------------

    def answer(self, request: LocalRequest, call_sid: str) -> LocalResponse:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json":
            return self._answer_json(request, call_sid)
        form = dict(parse_qsl(request.body.decode(errors="replace"), keep_blank_values=True))
        if self.store.pending_call(call_sid) is None:
            return self.show(
                request, "That validation call is not ringing any more (it has ended).", 404
            )
        code: str | None
        if form.get("action") == "hangup":
            code = None
        else:
            code = form.get("code", "").strip()
            if not (len(code) == 6 and code.isascii() and code.isdecimal()):
                return self.show(
                    request, "Type the 6 digits of the code on the keypad, or hang up.", 400
                )
        outcome = self.store.answer(call_sid, code)
        if outcome is None:
            return self.show(
                request, "That validation call is not ringing any more (it has ended).", 404
            )
        note = self._deliver(outcome)[1]
        return LocalResponse(303, b"", [("Location", f"{PANE_PATH}?note={quote(note)}"), _NO_STORE])

    def _answer_json(self, request: LocalRequest, call_sid: str) -> LocalResponse:
        try:
            data = json_object(request.body)
        except InvalidInput as error:
            raise SandboxRequestInvalid(str(error)) from None
        unknown = sorted(set(data) - {"code", "hang_up"})
        if unknown:
            quoted = ", ".join(repr(name[:40]) for name in unknown[:5])
            raise SandboxRequestInvalid(f"Unknown field(s) {quoted}; use code or hang_up.")
        code, hang_up = data.get("code"), data.get("hang_up", False)
        if not isinstance(hang_up, bool):
            raise SandboxRequestInvalid("hang_up must be true or false.")
        if hang_up == (code is not None):
            raise SandboxRequestInvalid(
                'Send {"code": "123456"} (the digits typed) or {"hang_up": true}, one of them.'
            )
        if code is not None and not (
            isinstance(code, str) and len(code) == 6 and code.isascii() and code.isdecimal()
        ):
            raise SandboxRequestInvalid("code must be the 6 digits typed, as a string.")
        outcome = self.store.answer(call_sid, None if hang_up else code)
        if outcome is None:
            raise SandboxRequestInvalid(
                f"No validation call {call_sid[:40]!r} is ringing (it has ended, or never"
                " started).",
                404,
            )
        last, _note = self._deliver(outcome)
        caller_id = outcome.outgoing_caller_id
        with self._lock:
            attempts = [w.as_json() for w in self._deliveries.get(call_sid, [])]
        return json_response(
            200,
            {
                "verification_status": outcome.verification_status,
                "outgoing_caller_id_sid": caller_id.sid if caller_id else None,
                "callback_status": last.status_code if last else None,
                "callbacks": attempts,
            },
            _NO_STORE,
        )

    def _deliver(self, outcome: ValidationOutcome) -> tuple[Webhook | None, str]:
        """Sends the status callback of the ended call; its last attempt and a note."""
        validation = outcome.validation
        sent = f"VerificationStatus={outcome.verification_status}"
        if validation.status_callback is None:
            return None, f"The call ended ({sent}); it had no StatusCallback, so nothing was sent."
        webhook = Webhook(
            "validation",
            validation.status_callback,
            validation.status_callback_method,
            self._callback_params(outcome),
            idempotency_token(),
        )
        attempts: list[Webhook] = []
        with self._lock:
            self._deliveries[validation.call_sid] = attempts
            while len(self._deliveries) > _MAX_DELIVERIES_KEPT:
                self._deliveries.popitem(last=False)
        _response, last = self._sender.send(attempts, webhook)
        tries = f" after {last.attempt} attempts" if last.attempt > 1 else ""
        if last.status_code is not None:
            answered = f"our app answered {last.status_code}{tries}."
        else:
            answered = f"our app did not answer ({last.error or 'no answer'}){tries}."
        return last, f"Sent {sent} to the status callback; {answered}"

    def _callback_params(self, outcome: ValidationOutcome) -> dict[str, str]:
        validation = outcome.validation
        params = {
            "AccountSid": self.settings.twilio.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": validation.call_sid,
            "CallStatus": "completed",
            "Called": validation.phone_number,
            "Direction": "outbound-api",
            "PhoneNumber": validation.phone_number,
            "To": validation.phone_number,
            "VerificationStatus": outcome.verification_status,
        }
        if outcome.verification_status == SUCCESS and outcome.outgoing_caller_id is not None:
            params["OutgoingCallerIdSid"] = outcome.outgoing_caller_id.sid
        return params

    # --- HTML ----------------------------------------------------------------------------------

    def _ringing(self, validation: PendingValidation) -> str:
        sid = html.escape(validation.call_sid)
        number = html.escape(formatted_number(validation.phone_number))
        action = f"{PANE_PATH}/{sid}"
        return (
            f'<article class="account" aria-labelledby="ringing-{sid}">'
            f'<p id="ringing-{sid}">Twilio is calling {number} to verify'
            " it as a caller ID. Type the 6-digit code you were shown:</p>"
            f'<form method="post" action="{action}">'
            f'<label for="code-{sid}">6-digit code</label>'
            f'<input id="code-{sid}" name="code" inputmode="numeric" pattern="[0-9]{{6}}"'
            ' maxlength="6" autocomplete="one-time-code" required>'
            '<button type="submit">Send the code</button></form>'
            f'<form method="post" action="{action}">'
            '<input type="hidden" name="action" value="hangup">'
            '<button type="submit" class="secondary">Hang up</button></form>'
            "</article>"
        )

    def _html(self, status: int, main: str) -> LocalResponse:
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<title>Sandbox phone</title><link rel="stylesheet" href="/styles.css"></head>'
            "<body><header><h1>Sandbox phone</h1>"
            '<p class="mode">Twilio is simulated here: no phone rings.</p></header>'
            f"<main>{main}</main></body></html>"
        )
        headers = [("Content-Type", "text/html; charset=utf-8"), _NO_STORE]
        return LocalResponse(status, page.encode(), headers + self._page_headers)

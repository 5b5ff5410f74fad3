"""The payments sandbox: plays Stripe's part, mounted at /sandbox/stripe in the local host.

1. A loopback fake of the Stripe API endpoints the app calls through `stripe.StripeClient`
   (STRIPE_API_BASE_URL defaults here in the sandbox), faithful to what the app relies on:
   - POST /v1/checkout/sessions: form-encoded in Stripe's bracket notation, the secret key
     checked (Bearer or Basic), Idempotency-Key honoured (the same key and parameters replay
     the first answer with Idempotent-Replayed: true; the same key with other parameters is
     Stripe's 400 idempotency_error), parameters validated as Stripe does for what we send;
   - GET /v1/checkout/sessions/{id}, GET /v1/payment_intents/{id} (expand[]=latest_charge),
     GET /v1/refunds?charge=…;
   - errors in Stripe's JSON: {"error": {"type", "message", "param"?}}.
   Every API request is recorded: GET /sandbox/stripe/_requests answers them, oldest first
   ({"data": [{method, path, query, params, idempotency_key, stripe_version, authorized,
   status, object_id}]}; object_id: the id of the object answered, a session's cs_… say).
2. A checkout page, /sandbox/stripe/pay/{session_id} (plain HTML forms, no script, served
   under the site's Content-Security-Policy): "Pay" sends checkout.session.completed signed
   with STRIPE_WEBHOOK_SECRET to {PUBLIC_BASE_URL}/api/stripe/webhook exactly as Stripe does,
   then redirects to the session's success_url. Once paid, the page offers a refund (all or
   part), a dispute, and closing the dispute won or lost; "Pay by bank transfer" completes
   the session unpaid and offers the transfer arriving or failing later.
3. The same actions as JSON: POST /sandbox/stripe/_events/{kind} with {"session_id": "cs_…"}
   (or {"payment_intent": "pi_…"}), "amount" (minor units, for refund and dispute; default:
   all that is left) and "deliver" (default true; false returns the signed-ready events
   without sending them, for tests that deliver them duplicated or out of order). Kinds: pay,
   pay_async, async_succeeded, async_failed, refund, refund_failed (the latest succeeded
   refund fails and its money comes back), dispute, dispute_won, dispute_lost.
   Answers {"events": [...], "deliveries": [{"id", "type", "status"}]}.

The events are those Stripe sends, in its order (charge.succeeded and payment_intent.*
included, which the app ignores); charges do not list their refunds (API 2022-11-15 on).
The card is always the test card: visa, last four 4242.
"""

from __future__ import annotations

import base64
import hmac
import html
import json
import logging
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from local_host.http_types import LocalRequest, LocalResponse, problem_response
from local_host.routing import Route, RouteTable
from local_host.sandbox.stripe_signing import API_VERSION, build_event, deliver, stripe_id
from shared.config import SANDBOX_STRIPE_PATH, Settings
from shared.money import AmountError, format_micros, micros_to_minor, minor_to_micros, parse_micros

logger = logging.getLogger("local_host.stripe")

_SITE_CONFIG = Path(__file__).resolve().parents[2] / "static_site" / "staticwebapp.config.json"
_RETRY_DELAYS_SECONDS = (1.0, 2.0, 4.0)
_SEGMENT = re.compile(r"\[([^\]]*)\]")
_KINDS = (
    "pay",
    "pay_async",
    "async_succeeded",
    "async_failed",
    "refund",
    "refund_failed",
    "dispute",
    "dispute_won",
    "dispute_lost",
)


class _StripeError(Exception):
    """An API request Stripe would refuse; rendered as Stripe's error JSON."""

    def __init__(
        self, status: int, message: str, kind: str = "invalid_request_error", param: str = ""
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param = status, message, kind, param


class _Refused(Exception):
    """A sandbox action that does not fit the payment's state (paying twice, say)."""


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's bracket notation ('a[b][0][c]=v') into nested dicts and lists."""
    root: dict[str, Any] = {}
    for name, value in pairs:
        head, _, rest = name.partition("[")
        path = [head, *_SEGMENT.findall("[" + rest)] if rest else [head]
        node = root
        for index, segment in enumerate(path):
            last = index == len(path) - 1
            if segment == "":
                segment = str(len(node))  # "a[]=x" appends
            if last:
                node[segment] = value
            else:
                node = node.setdefault(segment, {})
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {key: _listify(value) for key, value in node.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


class StripeSandbox:
    def __init__(self, settings: Settings) -> None:
        self._secret_key = settings.stripe.secret_key
        self._webhook_secret = settings.stripe.webhook_secret
        self._public = settings.public_base_url
        self._currency = settings.currency
        self._lock = threading.RLock()
        self._sessions: dict[str, dict[str, Any]] = {}
        self._products: dict[str, str] = {}
        self._intents: dict[str, dict[str, Any]] = {}
        self._charges: dict[str, dict[str, Any]] = {}
        self._refunds: dict[str, dict[str, Any]] = {}
        self._disputes: dict[str, dict[str, Any]] = {}
        self._idempotent: dict[str, tuple[str, int, bytes]] = {}
        self._requests: list[dict[str, Any]] = []
        site = json.loads(_SITE_CONFIG.read_text()) if _SITE_CONFIG.exists() else {}
        self._page_headers = list(site.get("globalHeaders", {}).items())
        self._routes = RouteTable(
            (
                Route.of("GET", "_requests", self._list_requests),
                Route.of("POST", "_events/{kind}", self._event_api),
                Route.of("GET", "pay/{session_id}", self._page),
                Route.of("POST", "pay/{session_id}", self._page_action),
                Route.of("*", "v1/{*rest}", self._api),
            ),
            "payments sandbox endpoint",
        )

    def handle(self, request: LocalRequest) -> LocalResponse:
        found = self._routes.resolve(request, request.path[len(SANDBOX_STRIPE_PATH) :])
        if isinstance(found, LocalResponse):
            return found
        action, params = found
        return action(request, **params)

    # --- the API fake ---------------------------------------------------------------------

    def _api(self, request: LocalRequest, rest: str) -> LocalResponse:
        params = decode_form(parse_qsl(request.body.decode(), keep_blank_values=True))
        query = decode_form(parse_qsl(request.query_string, keep_blank_values=True))
        key = request.headers.get("idempotency-key", "")
        record: dict[str, Any] = {
            "method": request.method,
            "path": f"/v1/{rest}",
            "query": query,
            "params": params,
            "idempotency_key": key,
            "stripe_version": request.headers.get("stripe-version", ""),
            "authorized": self._authorized(request.headers.get("authorization", "")),
        }
        with self._lock:
            response = self._api_answer(request, rest, params, query, key, record["authorized"])
            record["status"] = response.status
            # The id of what the request created or read, so a test finds its own request.
            answer = json.loads(response.body) if response.status == 200 else {}
            record["object_id"] = answer.get("id", "")
            self._requests.append(record)
        return response

    def _api_answer(
        self,
        request: LocalRequest,
        rest: str,
        params: dict[str, Any],
        query: dict[str, Any],
        key: str,
        authorized: bool,
    ) -> LocalResponse:
        if not authorized:
            return _stripe_error(
                _StripeError(401, "Invalid API Key provided: the sandbox's is STRIPE_SECRET_KEY.")
            )
        fingerprint = json.dumps([request.method, rest, params], sort_keys=True)
        if request.method == "POST" and key in self._idempotent:
            first, status, body = self._idempotent[key]
            if first != fingerprint:
                return _stripe_error(
                    _StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters"
                        " they were first used with. Try using a key other than"
                        f" '{key}' if you meant to execute a different request.",
                        kind="idempotency_error",
                    )
                )
            return _json(status, body, ("Idempotent-Replayed", "true"), ("Idempotency-Key", key))
        try:
            status, data = self._dispatch(request.method, rest, params, query)
        except _StripeError as error:
            return _stripe_error(error)
        body = json.dumps(data, indent=2).encode()
        if request.method == "POST" and key:
            self._idempotent[key] = (fingerprint, status, body)
        return _json(status, body, ("Idempotency-Key", key) if key else None)

    def _authorized(self, header: str) -> bool:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                credentials = base64.b64decode(credentials).decode().partition(":")[0]
            except ValueError:
                return False
        elif scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.encode(), self._secret_key.encode())

    def _dispatch(
        self, method: str, rest: str, params: dict[str, Any], query: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        parts = rest.strip("/").split("/")
        if method == "POST" and parts == ["checkout", "sessions"]:
            return 200, self._create_session(params)
        if method == "GET" and parts[:2] == ["checkout", "sessions"] and len(parts) == 3:
            return 200, _found(self._sessions, parts[2], "checkout.session")
        if method == "GET" and parts[0] == "payment_intents" and len(parts) == 2:
            intent = dict(_found(self._intents, parts[1], "payment_intent"))
            expand = query.get("expand") or []
            if "latest_charge" in expand and intent.get("latest_charge"):
                intent["latest_charge"] = self._charges[intent["latest_charge"]]
            return 200, intent
        if method == "GET" and parts == ["refunds"]:
            return 200, self._list_refunds(query)
        raise _StripeError(404, f"Unrecognized request URL ({method}: /v1/{rest}).")

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("mode") != "payment":
            raise _StripeError(400, "The payments sandbox plays mode=payment only.", param="mode")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise _StripeError(400, "Missing required param: line_items.", param="line_items")
        total, currency, names = 0, "", []
        for index, item in enumerate(items):
            prefix = f"line_items[{index}]"
            price = item.get("price_data") if isinstance(item, dict) else None
            if not isinstance(price, dict):
                raise _StripeError(400, "The sandbox needs price_data.", param=prefix)
            currency = str(price.get("currency", ""))
            if not re.fullmatch(r"[a-z]{3}", currency):
                raise _StripeError(
                    400, "Invalid currency.", param=f"{prefix}[price_data][currency]"
                )
            unit = _integer(price.get("unit_amount"), f"{prefix}[price_data][unit_amount]")
            quantity = _integer(item.get("quantity"), f"{prefix}[quantity]")
            product = price.get("product_data")
            name = product.get("name") if isinstance(product, dict) else None
            if not name:
                raise _StripeError(
                    400,
                    "Missing required param: product_data[name].",
                    param=f"{prefix}[price_data][product_data][name]",
                )
            if unit < 0 or quantity < 1:
                raise _StripeError(400, "Amounts and quantities must be positive.", param=prefix)
            total += unit * quantity
            names.append(str(name))
        for name in ("success_url", "cancel_url"):
            if name in params and not str(params[name]).startswith(("http://", "https://")):
                raise _StripeError(400, f"Not a valid URL: {name}.", param=name)
        if "success_url" not in params:
            raise _StripeError(400, "Missing required param: success_url.", param="success_url")
        metadata = _metadata(params.get("metadata"), "metadata")
        intent_data = params.get("payment_intent_data") or {}
        intent_metadata = _metadata(intent_data.get("metadata"), "payment_intent_data[metadata]")
        session_id = stripe_id("cs_test_", 58)
        now = int(time.time())
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer": None,
            "customer_details": None,
            "expires_at": now + 24 * 3600,
            "livemode": False,
            "metadata": metadata,
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "ui_mode": "hosted",
            "url": f"{self._public}{SANDBOX_STRIPE_PATH}/pay/{session_id}",
        }
        self._sessions[session_id] = session
        self._products[session_id] = ", ".join(names)
        # Kept for the PaymentIntent that paying creates, as Stripe does.
        self._sessions[session_id]["_intent_metadata"] = intent_metadata
        return _public(session)

    def _list_refunds(self, query: dict[str, Any]) -> dict[str, Any]:
        charge, intent = query.get("charge"), query.get("payment_intent")
        found = [
            refund
            for refund in self._refunds.values()
            if (not charge or refund["charge"] == charge)
            and (not intent or refund["payment_intent"] == intent)
        ]
        found.sort(key=lambda refund: refund["created"], reverse=True)
        limit = _integer(query.get("limit", "10"), "limit")
        return {
            "object": "list",
            "data": found[:limit],
            "has_more": len(found) > limit,
            "url": "/v1/refunds",
        }

    def _list_requests(self, request: LocalRequest) -> LocalResponse:
        with self._lock:
            body = json.dumps({"data": self._requests}).encode()
        return _json(200, body)

    # --- what happens to a payment ---------------------------------------------------------

    def _act(self, kind: str, session: dict[str, Any], amount: int | None) -> list[dict[str, Any]]:
        with self._lock:
            if kind in ("pay", "pay_async"):
                return self._pay(session, settled=kind == "pay")
            intent = self._intents.get(session.get("payment_intent") or "")
            if intent is None:
                raise _Refused("This Checkout Session has not been paid.")
            charge = self._charges[intent["latest_charge"]]
            if kind in ("async_succeeded", "async_failed"):
                return self._settle(session, intent, charge, kind == "async_succeeded")
            if charge["status"] != "succeeded":
                raise _Refused("This payment has not succeeded.")
            if kind == "refund":
                return self._refund(charge, amount)
            if kind == "refund_failed":
                return self._fail_refund(charge)
            if kind == "dispute":
                return self._dispute(charge, amount)
            return self._close_dispute(charge, won=kind == "dispute_won")

    def _pay(self, session: dict[str, Any], settled: bool) -> list[dict[str, Any]]:
        if session["status"] != "open":
            raise _Refused("This Checkout Session is already complete.")
        now = int(time.time())
        amount, currency = session["amount_total"], session["currency"]
        intent_id, charge_id = stripe_id("pi_"), stripe_id("ch_")
        method = _CARD if settled else _BANK_TRANSFER
        charge = {
            "id": charge_id,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount if settled else 0,
            "amount_refunded": 0,
            "captured": settled,
            "created": now,
            "currency": currency,
            "disputed": False,
            "livemode": False,
            "metadata": {},
            "paid": settled,
            "payment_intent": intent_id,
            "payment_method_details": method,
            "refunded": False,
            "status": "succeeded" if settled else "pending",
        }
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount if settled else 0,
            "created": now,
            "currency": currency,
            "latest_charge": charge_id,
            "livemode": False,
            "metadata": session["_intent_metadata"],
            "status": "succeeded" if settled else "processing",
        }
        self._charges[charge_id], self._intents[intent_id] = charge, intent
        session.update(
            status="complete",
            payment_intent=intent_id,
            payment_status="paid" if settled else "unpaid",
        )
        if not settled:
            return [
                build_event("payment_intent.processing", intent),
                build_event("checkout.session.completed", _public(session)),
            ]
        return [
            build_event("charge.succeeded", charge),
            build_event("payment_intent.succeeded", intent),
            build_event("checkout.session.completed", _public(session)),
        ]

    def _settle(
        self,
        session: dict[str, Any],
        intent: dict[str, Any],
        charge: dict[str, Any],
        succeeded: bool,
    ) -> list[dict[str, Any]]:
        if intent["status"] != "processing":
            raise _Refused("This payment is not waiting for a bank transfer.")
        if not succeeded:
            intent.update(status="requires_payment_method")
            charge.update(status="failed")
            return [
                build_event("charge.failed", charge),
                build_event("payment_intent.payment_failed", intent),
                build_event("checkout.session.async_payment_failed", _public(session)),
            ]
        intent.update(status="succeeded", amount_received=intent["amount"])
        charge.update(
            status="succeeded", paid=True, captured=True, amount_captured=charge["amount"]
        )
        session.update(payment_status="paid")
        return [
            build_event("charge.succeeded", charge),
            build_event("payment_intent.succeeded", intent),
            build_event("checkout.session.async_payment_succeeded", _public(session)),
        ]

    def _refund(self, charge: dict[str, Any], amount: int | None) -> list[dict[str, Any]]:
        refund = _part_of(charge, amount, "re_", reason="requested_by_customer", status="succeeded")
        refund["object"] = "refund"
        self._refunds[refund["id"]] = refund
        charge["amount_refunded"] += refund["amount"]
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        return [build_event("charge.refunded", charge), build_event("refund.created", refund)]

    def _fail_refund(self, charge: dict[str, Any]) -> list[dict[str, Any]]:
        """The latest succeeded refund fails (a closed bank account, say), as Stripe reports
        it: the refund's status becomes failed and its amount is the charge's again."""
        succeeded = [
            r
            for r in self._refunds.values()  # in the order they were made
            if r["charge"] == charge["id"] and r["status"] == "succeeded"
        ]
        if not succeeded:
            raise _Refused("This payment has no succeeded refund to fail.")
        refund = succeeded[-1]
        refund.update(status="failed", failure_reason="lost_or_stolen_card")
        charge["amount_refunded"] -= refund["amount"]
        charge["refunded"] = False
        return [build_event("refund.updated", refund), build_event("refund.failed", refund)]

    def _dispute(self, charge: dict[str, Any], amount: int | None) -> list[dict[str, Any]]:
        if charge["disputed"]:
            raise _Refused("This payment is already disputed.")
        dispute = _part_of(
            charge,
            amount,
            "du_",
            reason="fraudulent",
            status="needs_response",
            is_charge_refundable=False,
            livemode=False,
        )
        dispute["object"] = "dispute"
        self._disputes[dispute["id"]] = dispute
        charge["disputed"] = True
        return [
            build_event("charge.dispute.created", dispute),
            build_event("charge.dispute.funds_withdrawn", dispute),
        ]

    def _close_dispute(self, charge: dict[str, Any], won: bool) -> list[dict[str, Any]]:
        dispute = next((d for d in self._disputes.values() if d["charge"] == charge["id"]), None)
        if dispute is None or dispute["status"] in ("won", "lost"):
            raise _Refused("This payment has no open dispute.")
        dispute["status"] = "won" if won else "lost"
        events = [build_event("charge.dispute.closed", dispute)]
        if won:
            events.append(build_event("charge.dispute.funds_reinstated", dispute))
        return events

    # --- sending events ---------------------------------------------------------------------

    def _send(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        deliveries = []
        for event in events:
            status = self._deliver_once(event)
            if status is None or status >= 300:
                # Stripe retries failed deliveries later; so does the sandbox, off this thread.
                threading.Thread(target=self._redeliver, args=(event,), daemon=True).start()
            deliveries.append({"id": event["id"], "type": event["type"], "status": status})
        return deliveries

    def _deliver_once(self, event: dict[str, Any]) -> int | None:
        try:
            return deliver(self._public, self._webhook_secret, event).status_code
        except OSError as error:
            logger.warning("Could not deliver %s: %s", event["type"], error)
            return None

    def _redeliver(self, event: dict[str, Any]) -> None:
        for delay in _RETRY_DELAYS_SECONDS:
            time.sleep(delay)
            status = self._deliver_once(event)
            if status is not None and status < 300:
                return
        logger.warning("Gave up delivering %s %s", event["type"], event["id"])

    # --- the JSON control API and the page -------------------------------------------------

    def _event_api(self, request: LocalRequest, kind: str) -> LocalResponse:
        if kind not in _KINDS:
            return problem_response(404, "Not found", f"Kinds are: {', '.join(_KINDS)}.")
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return problem_response(400, "Invalid request", "The body is not JSON.")
        if not isinstance(data, dict):
            return problem_response(400, "Invalid request", "The body must be a JSON object.")
        session = self._session_for(data)
        if session is None:
            return problem_response(404, "Not found", "No such Checkout Session or payment.")
        amount = data.get("amount")
        if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool)):
            return problem_response(400, "Invalid request", "'amount' is in minor units.")
        try:
            events = self._act(kind, session, amount)
        except _Refused as refusal:
            return problem_response(409, "Refused", str(refusal))
        deliveries = self._send(events) if data.get("deliver", True) else []
        body = json.dumps({"events": events, "deliveries": deliveries}).encode()
        return _json(200, body)

    def _session_for(self, data: Mapping[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            session = self._sessions.get(str(data.get("session_id", "")))
            intent = str(data.get("payment_intent", ""))
            if session is None and intent:
                session = next(
                    (s for s in self._sessions.values() if s["payment_intent"] == intent), None
                )
            return session

    def _page(self, request: LocalRequest, session_id: str, note: str = "") -> LocalResponse:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return self._html(404, "<p>There is no such Checkout Session.</p>")
            intent = self._intents.get(session["payment_intent"] or "")
            charge = self._charges[intent["latest_charge"]] if intent else None
            dispute = next(
                (d for d in self._disputes.values() if charge and d["charge"] == charge["id"]),
                None,
            )
            return self._html(
                200,
                self._page_body(
                    session, intent, charge, dispute, note or request.query.get("note", "")
                ),
            )

    def _page_action(self, request: LocalRequest, session_id: str) -> LocalResponse:
        form = dict(parse_qsl(request.body.decode(errors="replace"), keep_blank_values=True))
        kind = form.get("action", "")
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None or kind not in _KINDS:
            return self._html(404, "<p>There is no such Checkout Session or action.</p>")
        try:
            amount = self._form_amount(form.get("amount", ""), session["currency"])
            events = self._act(kind, session, amount)
        except (_Refused, AmountError) as refusal:
            return self._page(request, session_id, note=str(refusal))
        deliveries = self._send(events)
        failed = [d["type"] for d in deliveries if not d["status"] or d["status"] >= 300]
        if kind in ("pay", "pay_async") and not failed:
            target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
            return LocalResponse(303, b"", [("Location", target)])
        note = f"Sent {', '.join(d['type'] for d in deliveries)}."
        if failed:
            note += f" Not accepted yet (retrying): {', '.join(failed)}."
        return self._page(request, session_id, note=note)

    def _form_amount(self, text: str, currency: str) -> int | None:
        if not text.strip():
            return None
        return micros_to_minor(parse_micros(text), currency.upper())

    def _page_body(
        self,
        session: dict[str, Any],
        intent: dict[str, Any] | None,
        charge: dict[str, Any] | None,
        dispute: dict[str, Any] | None,
        note: str,
    ) -> str:
        currency = session["currency"].upper()

        def money(minor: int) -> str:
            return format_micros(minor_to_micros(minor, currency), currency)

        def button(action: str, label: str, extra: str = "", secondary: bool = False) -> str:
            css = ' class="secondary"' if secondary else ""
            return (
                f'<form method="post" action="{SANDBOX_STRIPE_PATH}/pay/{session["id"]}">'
                f'<input type="hidden" name="action" value="{action}">{extra}'
                f'<button type="submit"{css}>{html.escape(label)}</button></form>'
            )

        forms: list[str] = []
        state = session["status"]
        if state == "open":
            state = "waiting for payment"
            forms.append(button("pay", f"Pay {money(session['amount_total'])} with card 4242"))
            forms.append(
                button("pay_async", "Pay by bank transfer (settles later)", secondary=True)
            )
            forms.append(f'<p><a href="{html.escape(session["cancel_url"] or "/")}">Cancel</a></p>')
        elif intent and intent["status"] == "processing":
            state = "bank transfer on its way"
            forms.append(button("async_succeeded", "The transfer arrives"))
            forms.append(button("async_failed", "The transfer fails", secondary=True))
        elif charge and charge["status"] == "succeeded":
            left = charge["amount"] - charge["amount_refunded"]
            state = f"paid; refunded {money(charge['amount_refunded'])}"
            if left > 0:
                field = (
                    '<label for="amount">Refund amount (empty: all that is left)</label>'
                    '<input id="amount" name="amount" inputmode="decimal"'
                    f' placeholder="{html.escape(money(left))}">'
                )
                forms.append(button("refund", "Refund", field))
            if dispute is None:
                forms.append(button("dispute", "Open a dispute (chargeback)", secondary=True))
            elif dispute["status"] not in ("won", "lost"):
                state += "; disputed"
                forms.append(button("dispute_won", "Close the dispute: won"))
                forms.append(button("dispute_lost", "Close the dispute: lost", secondary=True))
            else:
                state += f"; dispute {dispute['status']}"
        else:
            state = "payment failed"
        back = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
        if session["status"] != "open":
            forms.append(f'<p><a href="{html.escape(back)}">Back to OwnNumber</a></p>')
        notice = f'<p class="hint" role="status">{html.escape(note)}</p>' if note else ""
        return (
            '<section class="account">'
            f'<div><p class="label">Product</p><p id="product">'
            f"{html.escape(self._products.get(session['id'], ''))}</p></div>"
            f'<div><p class="label">Amount</p><p id="amount-due" class="balance">'
            f"{html.escape(money(session['amount_total']))}</p></div>"
            f'<div><p class="label">Status</p><p id="state">{html.escape(state)}</p></div>'
            f"</section>{notice}{''.join(forms)}"
        )

    def _html(self, status: int, main: str) -> LocalResponse:
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<title>Sandbox checkout</title><link rel="stylesheet" href="/styles.css"></head>'
            "<body><header><h1>Sandbox checkout</h1>"
            '<p class="mode">Stripe is simulated here: no card is charged.</p></header>'
            f"<main>{main}</main></body></html>"
        )
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]
        return LocalResponse(status, page.encode(), headers + self._page_headers)


_CARD = {
    "type": "card",
    "card": {
        "brand": "visa",
        "country": "US",
        "exp_month": 12,
        "exp_year": 2034,
        "funding": "credit",
        "last4": "4242",
        "network": "visa",
    },
}
_BANK_TRANSFER = {"type": "customer_balance", "customer_balance": {}}


def _part_of(
    charge: Mapping[str, Any], amount: int | None, prefix: str, **fields: Any
) -> dict[str, Any]:
    """A refund or dispute of part of a charge (by default all that was not refunded)."""
    left = charge["amount"] - charge["amount_refunded"]
    amount = left if amount is None else amount
    if amount <= 0 or amount > left:
        raise _Refused(f"The amount must be between 1 and {left} (what was not refunded).")
    return {
        "id": stripe_id(prefix),
        "amount": amount,
        "charge": charge["id"],
        "created": int(time.time()),
        "currency": charge["currency"],
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        **fields,
    }


def _public(session: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in session.items() if not key.startswith("_")}


def _found(objects: Mapping[str, dict[str, Any]], object_id: str, kind: str) -> dict[str, Any]:
    found = objects.get(object_id)
    if found is None:
        raise _StripeError(404, f"No such {kind}: '{object_id}'", param="id")
    return _public(found)


def _integer(value: Any, param: str) -> int:
    if isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value)):
        return int(value)
    raise _StripeError(400, f"Invalid integer: {value}", param=param)


def _metadata(value: Any, param: str) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict) or len(value) > 50:
        raise _StripeError(400, "Metadata is up to 50 keys with string values.", param=param)
    for key, text in value.items():
        if len(key) > 40 or "[" in key or not isinstance(text, str) or len(text) > 500:
            raise _StripeError(400, f"Invalid metadata key or value: {key}.", param=param)
    return dict(value)


def _json(status: int, body: bytes, *headers: tuple[str, str] | None) -> LocalResponse:
    extra = [header for header in headers if header is not None]
    return LocalResponse(
        status,
        body,
        [
            ("Content-Type", "application/json"),
            ("Request-Id", stripe_id("req_", 14)),
            ("Stripe-Version", API_VERSION),
            *extra,
        ],
    )


def _stripe_error(error: _StripeError) -> LocalResponse:
    body: dict[str, Any] = {"type": error.kind, "message": error.message}
    if error.param:
        body["param"] = error.param
    return _json(error.status, json.dumps({"error": body}).encode())

"""The payments sandbox's checkout page, /sandbox/stripe/pay/{session_id}: where Checkout
sends the buyer (plain HTML forms, no script, served under the site's Content-Security-Policy).

"Pay" sends checkout.session.completed signed with STRIPE_WEBHOOK_SECRET to
{PUBLIC_BASE_URL}/api/stripe/webhook exactly as Stripe does, then redirects to the session's
success_url. Once paid, the page offers a refund (all or part), a dispute, and closing the
dispute won or lost; "Pay by bank transfer" completes the session unpaid and offers the
transfer arriving or failing later.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from local_host.http_types import LocalRequest, LocalResponse
from local_host.sandbox.stripe_api import StripeObjects
from local_host.sandbox.stripe_simulator import ACTION_KINDS, ActionRefused, StripeSimulator
from shared.config import SANDBOX_STRIPE_PATH
from shared.money.micros import (
    AmountError,
    format_micros,
    micros_to_minor,
    minor_to_micros,
    parse_micros,
)

_SITE_CONFIG = Path(__file__).resolve().parents[2] / "static_site" / "staticwebapp.config.json"


class CheckoutPage:
    """The page of a Checkout Session (GET), and its buttons' actions (POST)."""

    def __init__(self, objects: StripeObjects, simulator: StripeSimulator) -> None:
        self.objects = objects
        self.simulator = simulator
        site = json.loads(_SITE_CONFIG.read_text()) if _SITE_CONFIG.exists() else {}
        self._page_headers = list(site.get("globalHeaders", {}).items())

    def show(self, request: LocalRequest, session_id: str, note: str = "") -> LocalResponse:
        objects = self.objects
        with objects.lock:
            session = objects.sessions.get(session_id)
            if session is None:
                return self._html(404, "<p>There is no such Checkout Session.</p>")
            intent = objects.intents.get(session["payment_intent"] or "")
            charge = objects.charges[intent["latest_charge"]] if intent else None
            dispute = next(
                (d for d in objects.disputes.values() if charge and d["charge"] == charge["id"]),
                None,
            )
            return self._html(
                200,
                self._page_body(
                    session, intent, charge, dispute, note or request.query.get("note", "")
                ),
            )

    def act(self, request: LocalRequest, session_id: str) -> LocalResponse:
        form = dict(parse_qsl(request.body.decode(errors="replace"), keep_blank_values=True))
        kind = form.get("action", "")
        session = self.objects.session(session_id)
        if session is None or kind not in ACTION_KINDS:
            return self._html(404, "<p>There is no such Checkout Session or action.</p>")
        try:
            amount = self._form_amount(form.get("amount", ""), session["currency"])
            events = self.simulator.act(kind, session, amount)
        except (ActionRefused, AmountError) as refusal:
            return self.show(request, session_id, note=str(refusal))
        deliveries = self.simulator.send(events)
        failed = [d["type"] for d in deliveries if not d["status"] or d["status"] >= 300]
        if kind in ("pay", "pay_async") and not failed:
            target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
            return LocalResponse(303, b"", [("Location", target)])
        note = f"Sent {', '.join(d['type'] for d in deliveries)}."
        if failed:
            note += f" Not accepted yet (retrying): {', '.join(failed)}."
        return self.show(request, session_id, note=note)

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
            f"{html.escape(self.objects.products.get(session['id'], ''))}</p></div>"
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

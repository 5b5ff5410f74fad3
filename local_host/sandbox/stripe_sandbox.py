"""The payments sandbox: plays Stripe's part, mounted at /sandbox/stripe in the local host.

1. stripe_api: a loopback fake of the Stripe API endpoints the app calls (/v1/…), and
   GET /sandbox/stripe/_requests, the requests made to it;
2. checkout_page: the checkout page, /sandbox/stripe/pay/{session_id}, whose buttons pay,
   refund or dispute as a buyer and Stripe would;
3. the same actions as JSON (here): POST /sandbox/stripe/_events/{kind} with {"session_id":
   "cs_…"} (or {"payment_intent": "pi_…"}), "amount" (minor units, for refund and dispute;
   default: all that is left) and "deliver" (default true; false returns the signed-ready
   events without sending them, for tests that deliver them duplicated or out of order).
   Kinds: pay, pay_async, async_succeeded, async_failed, refund, refund_failed (the latest
   succeeded refund fails and its money comes back), dispute, dispute_won, dispute_lost.
   Answers {"events": [...], "deliveries": [{"id", "type", "status"}]}.
What an action does and the events it sends are stripe_simulator's.
"""

from __future__ import annotations

import json

from local_host.http_types import LocalRequest, LocalResponse, problem_response
from local_host.routing import Route, RouteHandler, RouteTable
from local_host.sandbox.checkout_page import CheckoutPage
from local_host.sandbox.json_body import json_object
from local_host.sandbox.stripe_api import StripeApi, StripeObjects, stripe_json
from local_host.sandbox.stripe_simulator import ACTION_KINDS, ActionRefused, StripeSimulator
from shared.config import SANDBOX_STRIPE_PATH, Settings
from shared.errors import InvalidInput


class StripeSandbox:
    def __init__(self, settings: Settings) -> None:
        objects = StripeObjects()
        api = StripeApi(settings, objects)
        self.objects = objects
        self.simulator = StripeSimulator(settings, objects)
        page = CheckoutPage(objects, self.simulator)
        self._routes: RouteTable[RouteHandler] = RouteTable(
            (
                Route.of("GET", "_requests", api.list_requests),
                Route.of("POST", "_events/{kind}", self._event_api),
                Route.of("GET", "pay/{session_id}", page.show),
                Route.of("POST", "pay/{session_id}", page.act),
                Route.of("*", "v1/{*rest}", api.answer),
            ),
            "payments sandbox endpoint",
        )

    def handle(self, request: LocalRequest) -> LocalResponse:
        return self._routes.dispatch(request, request.path[len(SANDBOX_STRIPE_PATH) :])

    def _event_api(self, request: LocalRequest, kind: str) -> LocalResponse:
        if kind not in ACTION_KINDS:
            return problem_response(404, "Not found", f"Kinds are: {', '.join(ACTION_KINDS)}.")
        try:
            data = json_object(request.body, empty={})
        except InvalidInput as error:
            return problem_response(400, "Invalid request", str(error))
        session = self.objects.session(
            str(data.get("session_id", "")), str(data.get("payment_intent", ""))
        )
        if session is None:
            return problem_response(404, "Not found", "No such Checkout Session or payment.")
        amount = data.get("amount")
        if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool)):
            return problem_response(400, "Invalid request", "'amount' is in minor units.")
        try:
            events = self.simulator.act(kind, session, amount)
        except ActionRefused as refusal:
            return problem_response(409, "Refused", str(refusal))
        deliveries = self.simulator.send(events) if data.get("deliver", True) else []
        body = json.dumps({"events": events, "deliveries": deliveries}).encode()
        return stripe_json(200, body)

"""POST /api/stripe/webhook: Stripe's signed events, applied to the ledger exactly once.

A forged or stale signature, or a signed event with a figure Stripe never sends (an amount
of 10^30), is a 400 and changes nothing; storage trouble is a 503, which Stripe redelivers;
an event about no account of ours is a 200, so it is not redelivered, and so is a purchase
that did not pay its pack's price in our currency (outcome "refused": recorded, no credit,
an error logged for whoever refunds it).
"""

import logging

import azure.functions as func

from functions._edge import endpoint, json_response, services

bp = func.Blueprint()
logger = logging.getLogger("ownnumber.stripe_webhook")


@bp.route(route="stripe/webhook", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def stripe_webhook(req: func.HttpRequest) -> func.HttpResponse:
    deps = services()
    # The signature covers the exact bytes Stripe sent: verify before any parsing.
    event = deps.stripe_gateway.verify_event(req.get_body(), req.headers.get("stripe-signature"))
    outcome = deps.payments.apply(event)
    # Ids and types only: the event's object may name a person (metadata, card).
    logger.info("Stripe event %s (%s): %s", event.id, event.type, outcome.value)
    return json_response({"received": True, "outcome": outcome.value})

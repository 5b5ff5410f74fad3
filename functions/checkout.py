"""Buying credit: start a Stripe Checkout for a pack, and read how it went.

Neither endpoint credits anything: only Stripe's signed webhook does (functions/stripe_webhook.py).
"""

import azure.functions as func

from functions._edge import (
    endpoint,
    json_response,
    limit_address,
    read_json,
    require_same_origin,
    require_session,
    services,
    text_field,
)
from shared.errors import InvalidInput
from shared.money.micros import format_micros, minor_to_micros

bp = func.Blueprint()


@bp.route(route="checkout", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def start_checkout(req: func.HttpRequest) -> func.HttpResponse:
    from shared.limits.requests import Action

    require_same_origin(req)
    limit_address(req, Action.CHECKOUT)
    session = require_session(req)
    data = read_json(req)
    pack = text_field(data, "pack", 20)
    nonce = data.get("nonce")
    if nonce is not None and not isinstance(nonce, str):
        raise InvalidInput("The field 'nonce' must be a string.")
    checkout = services().payments.start_checkout(session.user_id, pack, nonce)
    return json_response({"url": checkout.url, "session_id": checkout.id})


@bp.route(route="checkout/{session_id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def checkout_status(req: func.HttpRequest) -> func.HttpResponse:
    session = require_session(req)
    deps = services()
    view = deps.payments.checkout(session.user_id, req.route_params.get("session_id", ""))
    balance = deps.ledger.balance(session.user_id)
    checkout, payment, currency = view.checkout, view.payment, deps.settings.currency
    card = payment.card if payment else None
    return json_response(
        {
            "session_id": checkout.session_id,
            "status": view.status,
            "pack": checkout.pack,
            "amount": format_micros(
                minor_to_micros(checkout.amount_minor, checkout.currency), checkout.currency
            ),
            "credit_micros": checkout.credit_micros,
            "credit": format_micros(checkout.credit_micros, checkout.currency),
            "card": {"brand": card.brand, "last4": card.last4} if card else None,
            "balance_micros": balance.micros,
            "balance": format_micros(balance.micros, currency),
        }
    )

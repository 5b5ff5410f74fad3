"""GET /api/rates?to=…: what calling a number costs, and whether (and how long) the signed-in
user can call it now."""

from typing import TYPE_CHECKING, Any

import azure.functions as func

from functions._edge import endpoint, json_response, require_session, services
from shared.errors import CallRefused, InvalidInput
from shared.money.micros import format_micros

if TYPE_CHECKING:
    from shared.calling.pricing import PricedDestination

bp = func.Blueprint()

_UNPRICED = dict.fromkeys(
    (
        "e164",
        "country",
        "number_type",
        "description",
        "per_minute_micros",
        "per_minute",
        "increments",
        "connect_fee_micros",
        "connect_fee",
    )
)


@bp.route(route="rates", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def rates(req: func.HttpRequest) -> func.HttpResponse:
    from shared.calling.pricing import affordable_seconds

    session = require_session(req)
    dialled = req.params.get("to", "")
    if not dialled.strip():
        raise InvalidInput(
            "The parameter 'to' is required: the number to call, like +442079460018."
        )
    deps = services()
    currency = deps.settings.currency
    balance = deps.ledger.balance(session.user_id)
    answer: dict[str, Any] = {
        "to": dialled,
        **_UNPRICED,
        "currency": currency,
        "balance_micros": balance.micros,
        "max_seconds": 0,
        "allowed": True,
        "reason": None,
        "code": None,
    }
    try:
        priced = deps.pricing.price(dialled)
        answer.update(_priced(priced, currency))
        answer["max_seconds"] = affordable_seconds(balance, priced.rate, currency)
    except CallRefused as refusal:
        answer.update(allowed=False, reason=refusal.reason, code=refusal.code)
    return json_response(answer)


def _priced(priced: "PricedDestination", currency: str) -> dict[str, Any]:
    rate = priced.rate
    return {
        "e164": priced.destination.e164,
        "country": priced.destination.country,
        "number_type": priced.destination.number_type,
        "description": rate.description,
        "per_minute_micros": rate.per_minute_micros,
        "per_minute": format_micros(rate.per_minute_micros, currency),
        "increments": rate.increments,
        "connect_fee_micros": rate.connect_fee_micros,
        "connect_fee": format_micros(rate.connect_fee_micros, currency),
    }

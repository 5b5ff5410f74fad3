"""GET /api/rates?to=…&country=…: what calling a number costs, and whether (and how long) the
signed-in user can call it now. `to` is the number as typed or pasted (a tel: link too);
`country` says whose national numbers it may be."""

from typing import TYPE_CHECKING, Any

import azure.functions as func

from functions._edge import (
    endpoint,
    json_response,
    limit_address,
    limit_user,
    require_session,
    services,
)
from shared.errors import CallRefused, InvalidInput
from shared.money.micros import format_micros

if TYPE_CHECKING:
    from shared.calling.pricing import PricedDestination

bp = func.Blueprint()

# Far longer than any number or tel: link: a parameter to refuse, not a number to explain.
_MAX_TO_CHARS = 256

_UNPRICED = dict.fromkeys(
    (
        "e164",
        "formatted",
        "national",
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
    from shared.calling.destination_policy import dialling_region
    from shared.calling.pricing import affordable_seconds
    from shared.limits.requests import Action
    from shared.limits.velocity import admit

    limit_address(req, Action.RATES)
    session = require_session(req)
    limit_user(session.user_id, Action.RATES)
    dialled = req.params.get("to", "")
    if not dialled.strip():
        raise InvalidInput(
            "The parameter 'to' is required: the number to call, like +442079460018."
        )
    if len(dialled) > _MAX_TO_CHARS:
        raise InvalidInput(
            f"The parameter 'to' is longer than {_MAX_TO_CHARS} characters; a phone number is "
            "far shorter."
        )
    country = req.params.get("country", "")
    region = dialling_region(country) if country.strip() else None
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
        priced = deps.pricing.quote(dialled, region)
        answer.update(_priced(priced, currency))
        seconds = affordable_seconds(balance, priced.rate, currency)
        # What placing the call would decide now from the same balance row (no read more):
        # a call the velocity limits refuse is refused here first, with the same sentence.
        answer["max_seconds"] = admit(
            balance.extra,
            deps.settings.limits,
            session.user_id,
            priced.destination.e164,
            priced.rate,
            seconds,
            deps.sessions.clock(),
        ).max_seconds
    except CallRefused as refusal:
        answer.update(allowed=False, reason=refusal.reason, code=refusal.code)
    return json_response(answer)


def _priced(priced: "PricedDestination", currency: str) -> dict[str, Any]:
    from shared.calling.number_formats import number_formats

    rate = priced.rate
    formats = number_formats(priced.destination.e164)
    return {
        "e164": priced.destination.e164,
        "formatted": formats.international if formats else priced.destination.e164,
        "national": formats.national if formats else None,
        "country": priced.destination.country,
        "number_type": priced.destination.number_type,
        "description": rate.description,
        "per_minute_micros": rate.per_minute_micros,
        "per_minute": format_micros(rate.per_minute_micros, currency),
        "increments": rate.increments,
        "connect_fee_micros": rate.connect_fee_micros,
        "connect_fee": format_micros(rate.connect_fee_micros, currency),
    }

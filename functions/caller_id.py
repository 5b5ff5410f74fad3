"""The user's own number as caller ID: GET/POST/DELETE /api/me/caller-id, and Twilio's
validation status callback, POST /api/caller-id/status.

The callback's URL carries ?u=<user id>&a=<attempt id>, put there when the verification
started and signed by Twilio with the rest of the URL. A report about an attempt that is not
the user's current one is answered 200 and changes nothing; so is a redelivery.
"""

import logging

import azure.functions as func

from functions._edge import (
    endpoint,
    json_response,
    limit_address,
    read_json,
    require_fresh_session,
    require_same_origin,
    require_session,
    services,
    twilio_webhook,
    twiml_response,
)
from shared.storage.keys import is_valid_entry_id
from shared.telephony.webhook_paths import CALLER_ID_STATUS_ROUTE

bp = func.Blueprint()
logger = logging.getLogger("ownnumber.caller_id")

_ROUTE = "me/caller-id"
# Longer is not a phone number (check_destination refuses past 64 characters anyway).
_MAX_NUMBER_CHARS = 64


@bp.route(route=_ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def caller_id(req: func.HttpRequest) -> func.HttpResponse:
    session = require_session(req)
    return json_response(services().caller_ids.view(session.user_id).to_json())


@bp.route(route=_ROUTE, methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def start_caller_id(req: func.HttpRequest) -> func.HttpResponse:
    from shared.errors import InvalidInput
    from shared.limits.requests import Action

    require_same_origin(req)
    # Each start rings a phone: per user and per number it is counted in storage (CallerIds),
    # per address here, so that one client cannot ring many numbers through many accounts.
    limit_address(req, Action.CALLER_ID)
    session = require_fresh_session(req)
    number = read_json(req).get("number")
    if not isinstance(number, str) or not number.strip():
        raise InvalidInput("The field 'number' is required: the phone number to verify.")
    if len(number) > _MAX_NUMBER_CHARS:
        raise InvalidInput("That is too long to be a phone number.")
    view = services().caller_ids.start(session.user_id, number)
    logger.info("Caller ID verification started for a user")
    return json_response(view.to_json(), status=202)


@bp.route(route=_ROUTE, methods=["DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def remove_caller_id(req: func.HttpRequest) -> func.HttpResponse:
    require_same_origin(req)
    session = require_session(req)
    deps = services()
    deps.caller_ids.remove(session.user_id)
    return json_response(deps.caller_ids.view(session.user_id).to_json())


@bp.route(route=CALLER_ID_STATUS_ROUTE, methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def caller_id_status(req: func.HttpRequest) -> func.HttpResponse:
    from shared.callerid.caller_ids import is_attempt_id
    from shared.telephony.twiml import empty

    form = twilio_webhook(req)
    user_id, attempt = req.params.get("u", ""), req.params.get("a", "")
    if not (is_valid_entry_id(user_id) and is_attempt_id(attempt)):
        logger.warning("Ignored a caller ID report for no attempt of ours")
        return twiml_response(empty())
    effect = services().caller_ids.report(user_id, attempt, form)
    # The status and the effect only: the report's PhoneNumber is never logged.
    logger.info(
        "Caller ID report %s for attempt %s: %s",
        form.get("VerificationStatus", "?")[:20],
        attempt[:8],
        effect.value,
    )
    return twiml_response(empty())

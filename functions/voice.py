"""POST /api/voice: Twilio asks what to do with a call the browser placed (the TwiML App's
voice URL). We answer a <Dial> bounded by what the balance pays for, or say why not."""

import contextvars
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack

import azure.functions as func

from functions._edge import endpoint, services, twilio_webhook, twiml_response
from shared.errors import CallRefused, InvalidInput
from shared.storage.keys import is_valid_entry_id
from shared.telephony.webhook_paths import VOICE_ROUTE, dial_callbacks

bp = func.Blueprint()
logger = logging.getLogger("ownnumber.voice")

_CLIENT_PREFIX = "client:"
# The Voice SDK's connect parameter choosing the number shown: "own" or "service" (absent).
CALLER_ID_PARAM = "CallerId"


@bp.route(route=VOICE_ROUTE, methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def voice(req: func.HttpRequest) -> func.HttpResponse:
    from shared.identity.sessions import parse_voice_identity
    from shared.telephony.twiml import DialPlan, dial, refuse

    form = twilio_webhook(req)
    deps = services()
    settings = deps.settings
    call_sid = form.get("CallSid", "")
    if not is_valid_entry_id(call_sid):
        raise InvalidInput("The field CallSid is missing or malformed.")
    application = form.get("ApplicationSid", "")
    caller = form.get("From", "")
    # The identity is what /api/token minted: the user and the session the token belongs to.
    identity = parse_voice_identity(caller.removeprefix(_CLIENT_PREFIX))
    if (
        not caller.startswith(_CLIENT_PREFIX)
        or identity is None
        or application != settings.twilio.twiml_app_sid
    ):
        # A phone calling in, or another app of the account: OwnNumber only places calls
        # for its own signed-in browsers.
        logger.info("Refused call %s: not from an OwnNumber browser", call_sid)
        return twiml_response(refuse("OwnNumber calls can only be made from the OwnNumber app."))
    user_id, session = identity
    with ExitStack() as stack:
        # The caller's own verified number only when they ask for it and our ownership index
        # says it is theirs, checked on every call; anything else shows the service number.
        # Its two reads (their record, then the index row) run beside placing the call.
        lookup: Future[str | None] | None = None
        if form.get(CALLER_ID_PARAM) == "own":
            pool = stack.enter_context(ThreadPoolExecutor(1))
            lookup = pool.submit(
                contextvars.copy_context().run, deps.caller_ids.caller_id_for, user_id
            )
        try:
            priced = deps.pricing.price(form.get("To", ""))
            placement = deps.calls.place(user_id, call_sid, priced, session)
        except CallRefused as refusal:
            # The reason names the dialled number: it is said to the caller, never logged.
            logger.info("Refused call %s: %s", call_sid, refusal.code)
            return twiml_response(refuse(refusal.reason))
        own = lookup.result() if lookup is not None else None
    record = placement.record
    callbacks = dial_callbacks(settings.public_base_url, user_id, call_sid)
    plan = DialPlan(
        to_e164=record.to,
        caller_id=own or settings.twilio.caller_id,
        time_limit_seconds=record.max_seconds,
        action_url=callbacks.action_url,
        status_callback_url=callbacks.status_callback_url,
    )
    logger.info(
        "Dialling call %s to %s for at most %s s, showing %s%s",
        call_sid,
        record.country or "a non-geographic number",
        record.max_seconds,
        "the caller's own number" if own else "the service number",
        " (retried webhook)" if placement.replayed else "",
    )
    return twiml_response(dial(plan))

"""Twilio's reports about a dialled call: POST /api/call-status (the <Number> status
callbacks) and POST /api/call-status/dial-action (the <Dial action>, when the dial ends).

Both URLs carry ?user=…&call=… (the parent CallSid), put there by /api/voice and signed by
Twilio with the rest of the URL. A report about a call we do not know is answered 200, so that
Twilio does not retry it; a storage fault is a 503, which Twilio retries because both URLs
carry our connection overrides (shared/telephony/webhook_overrides.py), and a retried report applies
once.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import azure.functions as func

from functions._edge import endpoint, services, twilio_webhook, twiml_response
from shared.storage.keys import is_valid_entry_id
from shared.telephony.webhook_paths import DIAL_ACTION_ROUTE, STATUS_CALLBACK_ROUTE

if TYPE_CHECKING:
    from shared.calling.lifecycle import StatusReport

bp = func.Blueprint()
logger = logging.getLogger("ownnumber.call_status")


@bp.route(route=STATUS_CALLBACK_ROUTE, methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def call_status(req: func.HttpRequest) -> func.HttpResponse:
    from shared.calling.lifecycle import status_callback_report
    from shared.telephony.twiml import empty

    form = twilio_webhook(req)
    report = status_callback_report(form, datetime.now(UTC))
    parent = form.get("ParentCallSid")
    _apply(req, report, same_call=lambda call: parent in (None, call))
    return twiml_response(empty())


@bp.route(route=DIAL_ACTION_ROUTE, methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def dial_action(req: func.HttpRequest) -> func.HttpResponse:
    from shared.calling.lifecycle import dial_action_report
    from shared.telephony.twiml import hang_up

    form = twilio_webhook(req)
    report = dial_action_report(form, datetime.now(UTC))
    if report is not None:
        _apply(req, report, same_call=lambda call: form.get("CallSid") == call)
    # The dial is over; so is the browser's call.
    return twiml_response(hang_up())


def _apply(req: func.HttpRequest, report: "StatusReport", same_call: Callable[[str], bool]) -> None:
    from shared.calling.reports import ReportEffect

    user_id, call_sid = req.params.get("user", ""), req.params.get("call", "")
    if not (is_valid_entry_id(user_id) and is_valid_entry_id(call_sid) and same_call(call_sid)):
        logger.warning("Ignored a %s report for no call of ours", report.source.value)
        return
    result = services().calls.report(user_id, call_sid, report)
    if result.effect is ReportEffect.UNKNOWN_CALL:
        logger.warning("Ignored a %s report for unknown call %s", report.source.value, call_sid)
    else:
        logger.info(
            "Call %s: %s %s (%s)%s",
            call_sid,
            report.status,
            result.effect.value,
            report.source.value,
            f": {result.why}" if result.why else "",
        )

"""GET /api/calls: the signed-in user's calls, newest first, page by page."""

from datetime import datetime
from typing import TYPE_CHECKING

import azure.functions as func

from functions._edge import endpoint, int_param, json_response, require_session, services
from shared.money.micros import format_micros

if TYPE_CHECKING:
    from shared.calling.lifecycle import CallRecord

bp = func.Blueprint()


@bp.route(route="calls", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def calls(req: func.HttpRequest) -> func.HttpResponse:
    session = require_session(req)
    limit = int_param(req, "limit", 20, 1, 100)
    page = services().calls.history(session.user_id, limit, req.params.get("continuation"))
    return json_response(
        {"calls": [_call_json(call) for call in page.calls], "continuation": page.continuation}
    )


def _call_json(call: "CallRecord") -> dict[str, object]:
    from shared.calling.number_formats import international

    currency = services().settings.currency
    return {
        "call_sid": call.call_sid,
        "to": call.to,
        "formatted": international(call.to),
        "country": call.country,
        "destination": call.description,
        "status": call.status,
        "settled": call.is_final,
        "started_at": call.started_at.isoformat(),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "max_seconds": call.max_seconds,
        "duration_seconds": call.duration_seconds,
        "billed_seconds": call.billed_seconds,
        "charge_micros": call.charge_micros,
        "charge": format_micros(call.charge_micros, currency),
        "per_minute_micros": call.rate.per_minute_micros,
        "per_minute": format_micros(call.rate.per_minute_micros, currency),
        "increments": call.rate.increments,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None

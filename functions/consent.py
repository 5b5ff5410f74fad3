"""GET and PUT /api/me/consent: the signed-in user's choice about browser analytics.

Global Privacy Control (`Sec-GPC: 1`) is honoured as a refusal, on reading and on storing.
"""

from typing import TYPE_CHECKING

import azure.functions as func

from functions._edge import (
    endpoint,
    json_response,
    read_json,
    require_same_origin,
    require_session,
    services,
)

if TYPE_CHECKING:
    from shared.privacy.consent import ConsentChoice

bp = func.Blueprint()


@bp.route(route="me/consent", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def consent(req: func.HttpRequest) -> func.HttpResponse:
    session = require_session(req)
    choice = services().consents.current(session.user_id)
    return json_response(_consent_json(choice.under_gpc(_gpc(req))))


@bp.route(route="me/consent", methods=["PUT"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def change_consent(req: func.HttpRequest) -> func.HttpResponse:
    from shared.privacy.consent import parse_consent_request

    require_same_origin(req)
    session = require_session(req)
    wanted = parse_consent_request(read_json(req))
    choice = services().consents.record(session.user_id, wanted, gpc=_gpc(req))
    return json_response(_consent_json(choice))


def _gpc(req: func.HttpRequest) -> bool:
    # The header's one defined value is "1" (Global Privacy Control, W3C draft).
    return str(req.headers.get("sec-gpc", "")).strip() == "1"


def _consent_json(choice: "ConsentChoice") -> dict[str, object]:
    return {
        "analytics": choice.analytics,
        "gpc": choice.gpc,
        "policy_version": choice.policy_version,
        "changed_at": choice.changed_at.isoformat() if choice.changed_at else None,
        "source": choice.source.value if choice.source else None,
    }

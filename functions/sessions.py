"""The signed-in user's sessions: where they are signed in, and ending any one of them."""

from typing import TYPE_CHECKING

import azure.functions as func

from functions._edge import (
    cleared_session_cookie,
    endpoint,
    json_response,
    require_same_origin,
    require_session,
    services,
)

if TYPE_CHECKING:
    from shared.identity.sessions import Session

bp = func.Blueprint()


@bp.route(route="me/sessions", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def list_sessions(req: func.HttpRequest) -> func.HttpResponse:
    current = require_session(req)
    found = services().sessions.live_sessions(current.user_id)
    return json_response({"sessions": [_session_json(s, current) for s in found]})


@bp.route(route="me/sessions/{id}", methods=["DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def revoke_session(req: func.HttpRequest) -> func.HttpResponse:
    require_same_origin(req)
    current = require_session(req)
    session_id = req.route_params.get("id", "")
    services().sessions.revoke(current.user_id, session_id)
    if session_id != current.session_id:
        return json_response({"id": session_id, "current": False, "signed_in": True})
    # Ending the session this request came with is signing out: the cookie goes too.
    return json_response(
        {"id": session_id, "current": True, "signed_in": False},
        headers={"Set-Cookie": cleared_session_cookie()},
    )


def _session_json(session: "Session", current: "Session") -> dict[str, object]:
    # The session id only: the cookie's secret is never stored, and its hash never shown.
    return {
        "id": session.session_id,
        "device": session.device,
        "created_at": session.created_at.isoformat(),
        "last_seen_at": session.last_seen_at.isoformat(),
        "signed_in_at": session.signed_in_at.isoformat(),
        "expires_at": session.expires_at.isoformat(),
        "current": session.session_id == current.session_id,
    }

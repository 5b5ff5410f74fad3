"""POST /api/token: the signed-in browser's Twilio access token for placing calls."""

import azure.functions as func

from functions._edge import (
    endpoint,
    json_response,
    limit_address,
    limit_user,
    read_json,
    require_same_origin,
    require_session,
    services,
)

bp = func.Blueprint()


@bp.route(route="token", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def token(req: func.HttpRequest) -> func.HttpResponse:
    from shared.identity.sessions import voice_identity
    from shared.limits.requests import Action
    from shared.telephony.access_token import mint_voice_token, token_ttl

    require_same_origin(req)
    # Per instance, in memory: a mint stays one round trip (the session read).
    limit_address(req, Action.TOKEN)
    session = require_session(req)
    limit_user(session.user_id, Action.TOKEN)
    deps = services()
    settings = deps.settings
    # The body is optional: {"ttl": seconds} asks for a shorter lifetime than the cap.
    body = read_json(req) if (req.get_body() or b"").strip() else {}
    ttl = token_ttl(
        body.get("ttl"),
        settings.calling.token_ttl_seconds,
        # What the session really has left: the earlier of its absolute and idle ends.
        session.seconds_left(deps.sessions.clock()),
    )
    # The identity names the session, so the token dies with it (see shared.identity.sessions).
    minted = mint_voice_token(settings.twilio, voice_identity(session), ttl)
    return json_response(
        {
            "token": minted.token,
            "identity": minted.identity,
            "expires_at": minted.expires_at.isoformat(),
            "ttl_seconds": ttl,
        }
    )

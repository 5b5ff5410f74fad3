"""Signing in and out: the sandbox's dev login, logout (ends this session), and signing out
everywhere (ends every session of the user, and with them every token minted for them)."""

import azure.functions as func

from functions._edge import (
    cleared_session_cookie,
    endpoint,
    json_response,
    limit_address,
    read_json,
    require_same_origin,
    require_session,
    services,
    session_token,
    start_session,
    text_field,
)
from shared.config import is_loopback_url
from shared.errors import NotFound

bp = func.Blueprint()

DEV_PROVIDER = "dev"


@bp.route(route="auth/dev-login", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def dev_login(req: func.HttpRequest) -> func.HttpResponse:
    from shared.identity.accounts import normalise_email
    from shared.limits.requests import Action

    deps = services()
    # Outside the sandbox this route must look like it does not exist at all. Start-up already
    # refuses a sandbox off loopback; this checks again on every request, so that no setting
    # changed since, and no request from beyond this machine, signs anyone in as anyone.
    settings = deps.settings
    if not (settings.is_sandbox and settings.sandbox_is_safe and is_loopback_url(req.url)):
        raise NotFound("There is no such endpoint.")
    require_same_origin(req)
    limit_address(req, Action.SIGN_IN)
    email = normalise_email(text_field(read_json(req), "email", 320))
    profile = deps.accounts.sign_in(DEV_PROVIDER, email, email)
    # The dev sign-in is a sign-in just now: its session is fresh for the dangerous actions.
    _, cookie = start_session(req, profile.user_id)
    return json_response(
        {"user_id": profile.user_id, "email": profile.email}, headers={"Set-Cookie": cookie}
    )


@bp.route(route="auth/logout", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def logout(req: func.HttpRequest) -> func.HttpResponse:
    require_same_origin(req)
    token = session_token(req)
    if token:
        services().sessions.end(token)
    return json_response({"signed_in": False}, headers={"Set-Cookie": cleared_session_cookie()})


@bp.route(route="auth/logout-all", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def logout_all(req: func.HttpRequest) -> func.HttpResponse:
    # No fresh sign-in asked: whoever fears a stolen session must be able to end it at once.
    require_same_origin(req)
    session = require_session(req)
    ended = services().sessions.end_all(session.user_id)
    return json_response(
        {"signed_in": False, "sessions_ended": ended},
        headers={"Set-Cookie": cleared_session_cookie()},
    )

"""Signing in and out: the sandbox's dev login, and logout (ends the server-side session)."""

import azure.functions as func

from functions._edge import (
    endpoint,
    json_response,
    read_json,
    require_same_origin,
    services,
    session_cookie,
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

    deps = services()
    # Outside the sandbox this route must look like it does not exist at all. Start-up already
    # refuses a sandbox off loopback; this checks again on every request, so that no setting
    # changed since, and no request from beyond this machine, signs anyone in as anyone.
    settings = deps.settings
    if not (settings.is_sandbox and settings.sandbox_is_safe and is_loopback_url(req.url)):
        raise NotFound("There is no such endpoint.")
    require_same_origin(req)
    email = normalise_email(text_field(read_json(req), "email", 320))
    profile = deps.accounts.sign_in(DEV_PROVIDER, email, email)
    return json_response(
        {"user_id": profile.user_id, "email": profile.email},
        headers={"Set-Cookie": start_session(profile.user_id)},
    )


@bp.route(route="auth/logout", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def logout(req: func.HttpRequest) -> func.HttpResponse:
    require_same_origin(req)
    token = session_token(req)
    if token:
        services().sessions.end(token)
    return json_response({"signed_in": False}, headers={"Set-Cookie": session_cookie("", 0)})

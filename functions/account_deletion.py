"""Deleting the signed-in user's account: DELETE /api/me, with a typed confirmation.

The erasure itself (what goes, what is kept and until when, resuming one cut short) is
shared.privacy.erasure; this only checks the request and answers with its summary and a
cookie that signs the browser out.
"""

from typing import Any

import azure.functions as func

from functions._edge import (
    cleared_session_cookie,
    endpoint,
    json_response,
    read_json,
    require_fresh_session,
    require_same_origin,
    services,
)

bp = func.Blueprint()

# What the user types to confirm; any case, spaces around it ignored.
CONFIRMATION = "DELETE"


@bp.route(route="me", methods=["DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def delete_account(req: func.HttpRequest) -> func.HttpResponse:
    require_same_origin(req)
    session = require_fresh_session(req)
    _check_confirmation(read_json(req))
    summary = services().erasure.erase(session.user_id)
    return json_response(summary.to_json(), headers={"Set-Cookie": cleared_session_cookie()})


def _check_confirmation(body: dict[str, Any]) -> None:
    from shared.privacy.errors import NotConfirmed

    typed = body.get("confirm")
    if not isinstance(typed, str) or typed.strip().casefold() != CONFIRMATION.casefold():
        raise NotConfirmed(
            f'To delete your account, send {{"confirm": "{CONFIRMATION}"}}: type {CONFIRMATION} '
            "to confirm. Deleting erases your profile, calls and sign-ins for good."
        )

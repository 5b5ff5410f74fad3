"""GET /api/privacy/cookies: every cookie and browser-storage item, from the privacy registry,
so the page's cookie list is always the registry's."""

import azure.functions as func

from functions._edge import endpoint, json_response

bp = func.Blueprint()


@bp.route(route="privacy/cookies", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def privacy_cookies(req: func.HttpRequest) -> func.HttpResponse:
    from shared.privacy.records import cookie_json
    from shared.privacy.registry import COOKIES

    return json_response(
        {"cookies": [cookie_json(cookie) for cookie in COOKIES]},
        headers={"Cache-Control": "public, max-age=300"},
    )

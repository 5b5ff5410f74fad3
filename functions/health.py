"""GET /api/health: is the app up and can it reach its storage?"""

import azure.functions as func

from functions._edge import endpoint, json_response, services

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def health(req: func.HttpRequest) -> func.HttpResponse:
    services().store.ping()
    return json_response({"status": "ok", "storage": "ok"})

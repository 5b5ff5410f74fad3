"""GET /api/openapi.json: the API's contract, the OpenAPI 3.1 document built by
shared.api_contract. The same for everyone and built from code alone, so it needs no settings
and may be cached."""

import azure.functions as func

from functions._edge import endpoint, json_response

bp = func.Blueprint()

_CACHE_SECONDS = 300


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    from shared.api_contract.document import openapi_document

    return json_response(
        openapi_document(), headers={"Cache-Control": f"public, max-age={_CACHE_SECONDS}"}
    )

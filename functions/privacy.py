"""GET /api/privacy/records: the record of processing (GDPR Art. 30), from the registry.
Public, and the same for everyone, so browsers and caches may keep it for an hour."""

import azure.functions as func

from functions._edge import endpoint, json_response, services

bp = func.Blueprint()

_CACHE_SECONDS = 3600


@bp.route(route="privacy/records", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def privacy_records(req: func.HttpRequest) -> func.HttpResponse:
    from shared.privacy.records import record_of_processing

    return json_response(
        record_of_processing(services().settings),
        headers={"Cache-Control": f"public, max-age={_CACHE_SECONDS}"},
    )

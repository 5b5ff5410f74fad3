"""GET /api/countries: the countries a call can go to (priced by the rate deck, not blocked by
the destination policy), for the dialer's country picker. Public: it is the same for everyone,
so browsers and caches may keep it for an hour."""

import azure.functions as func

from functions._edge import endpoint, json_response, services

bp = func.Blueprint()

_CACHE_SECONDS = 3600


@bp.route(route="countries", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def countries(req: func.HttpRequest) -> func.HttpResponse:
    # Worked out once per process (Pricing.countries), from phonenumbers' example numbers.
    found = services().pricing.countries
    return json_response(
        {
            "countries": [
                {"region": c.region, "calling_code": c.calling_code, "example": c.example}
                for c in found
            ]
        },
        headers={"Cache-Control": f"public, max-age={_CACHE_SECONDS}"},
    )

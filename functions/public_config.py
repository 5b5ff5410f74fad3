"""GET /api/config: the public settings a page needs before anyone signs in."""

import azure.functions as func

from functions._edge import endpoint, json_response, services
from shared.money.micros import format_micros
from shared.privacy.policy import POLICY_VERSION

bp = func.Blueprint()


@bp.route(route="config", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def public_config(req: func.HttpRequest) -> func.HttpResponse:
    settings = services().settings
    packs = [
        {
            "id": pack.id,
            "price_micros": pack.price_micros,
            "credit_micros": pack.credit_micros,
            "price": format_micros(pack.price_micros, settings.currency),
            "credit": format_micros(pack.credit_micros, settings.currency),
        }
        for pack in settings.credit_packs
    ]
    return json_response(
        {
            "mode": settings.mode.value,
            "currency": settings.currency,
            "credit_packs": packs,
            # Entra whenever it is configured (always outside the sandbox); else the dev login.
            "sign_in": "entra" if settings.auth is not None else "dev",
            "support_email": settings.dialer.support_email,
            "low_balance_minutes": settings.dialer.low_balance_minutes,
            "voice_edges": list(settings.dialer.voice_edges),
            # Browser analytics load only with consent, never under GPC, and only with this.
            "analytics_connection_string": settings.dialer.analytics_connection_string,
            # What a consent choice is made under: a choice of another version asks again.
            "policy_version": POLICY_VERSION,
        }
    )

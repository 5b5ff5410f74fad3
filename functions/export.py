"""GET /api/me/export: the signed-in user's data as a ZIP (GDPR Art. 15 and 20)."""

import azure.functions as func

from functions._edge import endpoint_within, limit_address, require_fresh_session, services

bp = func.Blueprint()

# Reading 10,000 calls (20,000 rows with their history) takes some 7 s here, nearly all of it
# the storage SDK parsing rows: more than the 8 s every other request gets. Two minutes covers
# accounts ten times that, inside the Functions front end's 230 s and host.json's
# functionTimeout; a person is waiting for a download, not a provider with a budget.
EXPORT_DEADLINE_SECONDS = 120.0


@bp.route(route="me/export", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint_within(EXPORT_DEADLINE_SECONDS)
def export(req: func.HttpRequest) -> func.HttpResponse:
    from shared.limits.requests import Action

    # Per user it is counted in storage, by the exporter; per address here, in memory.
    limit_address(req, Action.EXPORT)
    # A fresh sign-in: a stolen session cookie must not be enough to carry off everything.
    session = require_fresh_session(req)
    archive = services().exporter.export(session.user_id)
    return func.HttpResponse(
        archive.body,
        status_code=200,
        mimetype="application/zip",
        # Given as a header: mimetype alone gains "; charset=utf-8", which a ZIP has not.
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{archive.filename}"',
            "Cache-Control": "no-store",
        },
    )

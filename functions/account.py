"""The signed-in user's own account: profile, balance and ledger."""

from typing import TYPE_CHECKING

import azure.functions as func

from functions._edge import endpoint, int_param, json_response, require_session, services
from shared.errors import NotSignedIn
from shared.money.micros import format_micros

if TYPE_CHECKING:
    from shared.money.ledger import Balance
    from shared.statement.ledger_lines import StatementLine

bp = func.Blueprint()


@bp.route(route="me", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def me(req: func.HttpRequest) -> func.HttpResponse:
    session = require_session(req)
    deps = services()
    profile = deps.accounts.profile(session.user_id)
    if profile is None:
        # A session outliving its account (a deletion cut short): end it here too.
        deps.sessions.end_session(session)
        raise NotSignedIn("This account no longer exists; sign in again.")
    return json_response(
        {
            "user_id": profile.user_id,
            "email": profile.email,
            "name": profile.name,
            "email_verified": profile.email_verified,
            "created_at": profile.created_at.isoformat(),
            **_balance_json(deps.ledger.balance(session.user_id)),
        }
    )


@bp.route(route="balance", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def balance(req: func.HttpRequest) -> func.HttpResponse:
    session = require_session(req)
    return json_response(_balance_json(services().ledger.balance(session.user_id)))


@bp.route(route="ledger", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def ledger(req: func.HttpRequest) -> func.HttpResponse:
    session = require_session(req)
    limit = int_param(req, "limit", 50, 1, 200)
    page = services().statement.page(session.user_id, limit, req.params.get("continuation"))
    return json_response(
        {
            "entries": [_entry_json(line) for line in page.lines],
            "continuation": page.continuation,
        }
    )


def _balance_json(balance: "Balance") -> dict[str, object]:
    currency = services().settings.currency
    return {
        "balance_micros": balance.micros,
        "balance": format_micros(balance.micros, currency),
        "currency": currency,
        "flags": sorted(balance.flags),
    }


def _entry_json(line: "StatementLine") -> dict[str, object]:
    currency = services().settings.currency
    entry, call, card = line.entry, line.call, line.card
    return {
        "id": entry.entry_id,
        "kind": entry.kind.value,
        "amount_micros": entry.amount_micros,
        "amount": format_micros(entry.amount_micros, currency),
        "balance_after_micros": entry.balance_after_micros,
        "balance_after": format_micros(entry.balance_after_micros, currency),
        "created_at": entry.created_at.isoformat(),
        "details": dict(entry.details),
        "call": (
            {
                "to": call.to,
                "formatted": call.formatted,
                "duration_seconds": call.duration_seconds,
                "billed_seconds": call.billed_seconds,
                "destination": call.destination,
                "country": call.country,
            }
            if call
            else None
        ),
        "card": {"brand": card.brand, "last4": card.last4} if card else None,
    }

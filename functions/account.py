"""The signed-in user's own account: profile (and its correction), balance and ledger."""

from typing import TYPE_CHECKING, Any

import azure.functions as func

from functions._edge import (
    endpoint,
    int_param,
    json_response,
    read_json,
    require_same_origin,
    require_session,
    services,
)
from shared.errors import InvalidInput, NotSignedIn
from shared.money.micros import format_micros

if TYPE_CHECKING:
    from shared.identity.accounts import Profile
    from shared.money.ledger import Balance
    from shared.statement.ledger_lines import StatementLine

# What PATCH /api/me may correct (GDPR Art. 16); anything else in the body is refused.
_CORRECTABLE = ("name", "email")

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
    return json_response(_me_json(profile))


@bp.route(route="me", methods=["PATCH"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def correct_me(req: func.HttpRequest) -> func.HttpResponse:
    from shared.identity.accounts import normalise_email, normalise_name

    require_same_origin(req)
    session = require_session(req)
    body = read_json(req)
    unknown = sorted(set(body) - set(_CORRECTABLE))
    if unknown:
        raise InvalidInput(
            f"Only name and email can be corrected here, not {', '.join(unknown)[:200]}."
        )
    if not body:
        raise InvalidInput("Send the name, the email or both to correct.")
    name = _string(body, "name")
    email = _string(body, "email")
    profile = services().accounts.correct(
        session.user_id,
        name=normalise_name(name) if name is not None else None,
        email=normalise_email(email) if email is not None else None,
    )
    return json_response(_me_json(profile))


def _string(body: dict[str, Any], name: str) -> str | None:
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, str):
        raise InvalidInput(f"The field {name!r} must be a string.")
    # Longer than any name or address can be: refused before normalising it.
    if len(value) > 1000:
        raise InvalidInput(f"The field {name!r} is far too long.")
    return value


def _me_json(profile: "Profile") -> dict[str, object]:
    return {
        "user_id": profile.user_id,
        "email": profile.email,
        "name": profile.name,
        "email_verified": profile.email_verified,
        "created_at": profile.created_at.isoformat(),
        **_balance_json(services().ledger.balance(profile.user_id)),
    }


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

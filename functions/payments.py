"""GET /api/payments: the signed-in user's payments, newest first, from our own records (never
from Stripe), so the dialer can show a bank payment still awaiting confirmation across reloads.
"""

from typing import TYPE_CHECKING

import azure.functions as func

from functions._edge import endpoint, int_param, json_response, require_session, services
from shared.money.micros import format_micros, minor_to_micros

if TYPE_CHECKING:
    from shared.credit.payment_records import PaymentRecord

bp = func.Blueprint()


@bp.route(route="payments", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
def payments(req: func.HttpRequest) -> func.HttpResponse:
    session = require_session(req)
    limit = int_param(req, "limit", 10, 1, 50)
    records = services().payments.recent_payments(session.user_id, limit)
    return json_response({"payments": [_payment_json(record) for record in records]})


def _payment_json(record: "PaymentRecord") -> dict[str, object]:
    currency = services().settings.currency
    # What was paid is in the payment's currency (another one only for a refused payment);
    # the credit is always in ours. A record made by a refund seen before its payment knows
    # no currency yet, and no amount.
    paid_in = record.currency or currency
    amount_micros = minor_to_micros(record.amount_minor, paid_in)
    card = record.card
    return {
        "payment_intent": record.payment_intent_id,
        "status": record.status.value,
        "pack": record.pack,
        "amount": format_micros(amount_micros, paid_in),
        "amount_micros": amount_micros,
        "credit": format_micros(record.credit_micros, currency),
        "credit_micros": record.credit_micros,
        "card": {"brand": card.brand, "last4": card.last4} if card else None,
        "created_at": record.created_at.isoformat() if record.created_at else None,
    }

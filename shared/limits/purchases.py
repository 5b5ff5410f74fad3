"""Limits on buying credit, against card testing: a new account (no purchase credited yet) may
buy at most FIRST_PURCHASE_MAX, and any account may start at most CHECKOUTS_PER_USER_PER_HOUR
checkouts in a clock hour.

Both are global and cost no round trip: the count lives on the account's balance row, which
starting a checkout reads already (for the dispute and closing flags) and rewrites, with
If-Match, in the one transaction that records the checkout. Whether the account is new is the
ledger's own mark on that row (HAS_PURCHASED), written with the first purchase's credit.

Pure decisions: the row's fields and the time in, the fields with the attempt counted out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from shared.config import LimitSettings
from shared.errors import Forbidden
from shared.limits.errors import LimitReached, how_many
from shared.money.ledger import HAS_PURCHASED
from shared.money.micros import format_micros
from shared.storage.rows import Value

# The balance row's fields that hold the count (declared in shared.privacy.registry).
HOUR_FIELD = "checkout_hour"
COUNT_FIELD = "checkouts_this_hour"
FIELDS = (HOUR_FIELD, COUNT_FIELD)


class FirstPurchaseTooLarge(Forbidden):
    """A new account asked for more than its first purchase may be: waiting will not help,
    a smaller pack will (so 403, not 429)."""


def count_checkout(
    fields: Mapping[str, Value],
    limits: LimitSettings,
    price_micros: int,
    currency: str,
    now: datetime,
) -> dict[str, Value]:
    """The balance row's fields with this checkout counted, or the refusal saying why not."""
    if fields.get(HAS_PURCHASED) is not True and price_micros > limits.first_purchase_max_micros:
        most = format_micros(limits.first_purchase_max_micros, currency)
        raise FirstPurchaseTooLarge(
            f"A first purchase can be at most {most}; once it is credited, you can buy larger "
            "packs."
        )
    return counted(fields, limits, now, enforce=True)


def counted(
    fields: Mapping[str, Value], limits: LimitSettings, now: datetime, *, enforce: bool
) -> dict[str, Value]:
    """The fields with one more checkout this hour; with `enforce`, LimitReached past the limit
    (a checkout Stripe has already opened is counted without it)."""
    hour = now.astimezone(UTC).strftime("%Y%m%d%H")
    count = fields.get(COUNT_FIELD) if fields.get(HOUR_FIELD) == hour else 0
    so_far = count if isinstance(count, int) and not isinstance(count, bool) else 0
    if enforce and so_far >= limits.checkouts_per_user_per_hour:
        next_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        next_hour += timedelta(hours=1)
        wait = max(1, math.ceil((next_hour - now).total_seconds()))
        raise LimitReached(
            f"You have started {how_many(so_far, 'purchase')} this hour, the most allowed in "
            f"an hour; you can buy credit again at {next_hour:%H:%M} UTC.",
            wait,
        )
    return {**fields, HOUR_FIELD: hour, COUNT_FIELD: so_far + 1}

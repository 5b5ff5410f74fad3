"""Whether a user may call a number now, what it costs, and for how long their balance pays.

Pure decisions over the destination policy, the rate deck and a balance; the deck and the
policy are loaded once per process from the settings (`Pricing.from_settings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from shared.calling.countries import Country, callable_countries
from shared.calling.destination_policy import (
    Destination,
    PolicySettings,
    check_destination,
    parse_policy_settings,
    typed_number,
)
from shared.calling.rating import SAMPLE_DECK_PATH, Rate, RateDeck, RateDeckError, load_rate_deck
from shared.config import CallingSettings, ConfigError
from shared.errors import CallRefused
from shared.money.ledger import FLAG_ACCOUNT_CLOSING, FLAG_PAYMENT_DISPUTED, Balance
from shared.money.micros import format_micros


class NotPriced(CallRefused):
    code = "not_priced"


class AccountOnHold(CallRefused):
    code = "account_on_hold"


class AccountClosing(CallRefused):
    code = "account_closing"


class NegativeBalance(CallRefused):
    code = "negative_balance"


class InsufficientCredit(CallRefused):
    code = "insufficient_credit"


@dataclass(frozen=True)
class PricedDestination:
    destination: Destination
    rate: Rate


@dataclass(frozen=True)
class Pricing:
    deck: RateDeck
    policy: PolicySettings

    @classmethod
    def from_settings(cls, calling: CallingSettings) -> Pricing:
        path = calling.rate_deck_path or SAMPLE_DECK_PATH
        try:
            deck = load_rate_deck(path)
        except OSError as error:
            raise ConfigError(
                f"The setting RATE_DECK_PATH names a file that cannot be read: {error.strerror}."
            ) from None
        except RateDeckError as error:
            raise ConfigError(f"The rate deck in RATE_DECK_PATH is not usable: {error}") from None
        try:
            policy = parse_policy_settings(calling.blocked_countries, calling.blocked_prefixes)
        except ValueError as error:
            raise ConfigError(
                f"The setting BLOCKED_COUNTRIES or BLOCKED_PREFIXES is malformed: {error}"
            ) from None
        return cls(deck, policy)

    def price(self, dialled: str, default_region: str | None = None) -> PricedDestination:
        """The destination and its rate; DestinationRefused or NotPriced if it cannot be called.

        Without `default_region` (the voice webhook) the number must be international; with
        it, national numbers of that region (and its international prefix, "0044" in GB) too.
        """
        destination = check_destination(dialled, self.policy, default_region)
        rate = self.deck.lookup(destination.e164)
        if rate is None:
            raise NotPriced(
                f"Calls to {destination.e164} are not available: this service has no price "
                "for that destination."
            )
        return PricedDestination(destination, rate)

    def quote(self, typed: str, region: str | None = None) -> PricedDestination:
        """What the dialler asks before a call: the number as typed or pasted, a tel: link
        included, national numbers of `region` too (see price)."""
        return self.price(typed_number(typed), region)

    @cached_property
    def countries(self) -> tuple[Country, ...]:
        """The countries the deck prices and the policy allows; worked out once per process."""
        return callable_countries(self.deck, self.policy)


def affordable_seconds(balance: Balance, rate: Rate, currency: str) -> int:
    """The call's time limit for this balance (positive), or the CallRefused saying why not."""
    if FLAG_ACCOUNT_CLOSING in balance.flags:
        raise AccountClosing("This account is being deleted; it can make no more calls.")
    if FLAG_PAYMENT_DISPUTED in balance.flags:
        raise AccountOnHold(
            "Calls are paused on this account while a payment dispute is open; "
            "contact support to resolve it."
        )
    if balance.micros < 0:
        raise NegativeBalance(
            f"Your balance is {format_micros(balance.micros, currency)}, below zero; "
            "add credit to make calls."
        )
    seconds = rate.max_seconds(balance.micros)
    if seconds == 0:
        first = rate.charge(rate.first_increment)
        raise InsufficientCredit(
            f"Your balance of {format_micros(balance.micros, currency)} does not cover the "
            f"first {rate.first_increment} seconds of this call, which cost "
            f"{format_micros(first, currency)}; add credit to call."
        )
    return seconds

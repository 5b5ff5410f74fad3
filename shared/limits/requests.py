"""The per-instance request limits: how often one account, and one client address, may ask for
something in a window, counted in this process's memory (shared.limits.window) so that they
cost no round trip. Built once per process from the settings; the HTTP adapters ask `check`
before doing the work."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from shared.config import LimitSettings
from shared.limits.errors import LimitReached
from shared.limits.window import WindowCounter

_HOUR = 3600
_MINUTE = 60


class Action(StrEnum):
    TOKEN = "token"
    RATES = "rates"
    CHECKOUT = "checkout"
    EXPORT = "export"
    CALLER_ID = "caller_id"
    SIGN_IN = "sign_in"


# What each action is, in a sentence ("Too many {what} from …").
_WHAT = {
    Action.TOKEN: "calling tokens",
    Action.RATES: "price look-ups",
    Action.CHECKOUT: "purchases started",
    Action.EXPORT: "data exports",
    Action.CALLER_ID: "caller ID verifications",
    Action.SIGN_IN: "sign-in attempts",
}


@dataclass
class RequestLimits:
    settings: LimitSettings
    _per_user: dict[Action, WindowCounter] = field(init=False, repr=False)
    _per_address: dict[Action, WindowCounter] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        s = self.settings
        self._per_user = {
            Action.TOKEN: WindowCounter(s.tokens_per_user_per_hour, _HOUR),
            Action.RATES: WindowCounter(s.rates_per_user_per_minute, _MINUTE),
        }
        self._per_address = {
            Action.TOKEN: WindowCounter(s.tokens_per_ip_per_hour, _HOUR),
            Action.RATES: WindowCounter(s.rates_per_ip_per_minute, _MINUTE),
            Action.CHECKOUT: WindowCounter(s.checkouts_per_ip_per_hour, _HOUR),
            Action.EXPORT: WindowCounter(s.exports_per_ip_per_hour, _HOUR),
            Action.CALLER_ID: WindowCounter(s.caller_id_attempts_per_ip_per_hour, _HOUR),
            Action.SIGN_IN: WindowCounter(s.sign_ins_per_ip_per_hour, _HOUR),
        }

    def check_address(self, action: Action, address: str) -> None:
        """Counts a request of `action` from the client `address`, or LimitReached."""
        self._count(self._per_address[action], action, address, "your network")

    def check_user(self, action: Action, user_id: str) -> None:
        """Counts a request of `action` by the account, or LimitReached (actions without a
        per-instance limit per account, which are counted in storage, pass)."""
        counter = self._per_user.get(action)
        if counter is not None:
            self._count(counter, action, user_id, "your account")

    @staticmethod
    def _count(counter: WindowCounter, action: Action, key: str, whose: str) -> None:
        wait = counter.hit(key)
        if wait is None:
            return
        per = "a minute" if counter.window_seconds == _MINUTE else "an hour"
        raise LimitReached(
            f"Too many {_WHAT[action]} from {whose}: at most {counter.limit} in {per}; "
            f"try again in {_in_words(wait)}.",
            wait,
        )


def _in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"

"""Refusals: one type for every reason a call is not placed, and no call without a balance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest

import shared.calling.placing
from shared.calling.calls import Calls
from shared.calling.destination_policy import Destination, DestinationRefused, PremiumRateRefused
from shared.calling.open_calls import OpenCalls
from shared.calling.placing import AnotherCallActive
from shared.calling.pricing import InsufficientCredit, NotPriced, PricedDestination
from shared.calling.rating import Rate
from shared.errors import CallRefused
from shared.money.ledger import Ledger
from shared.storage.table_store import Table

LANDLINE = PricedDestination(
    Destination("+442079460018", "GB", "fixed_line"),
    Rate("44", "GB", "United Kingdom landline", 15_000, 60, 1),
)


class EmptyAccounts:
    """An account with no rows at all: no balance, no hold, no calls."""

    def get(self, partition: str, key: str) -> None:
        return None

    def commit(self, partition: str, ops: list[Any]) -> None:
        raise AssertionError("nothing may be written for a refused call")


def test_every_refusal_is_a_call_refused_with_a_reason_and_a_code() -> None:
    refusals = [
        PremiumRateRefused("Premium-rate numbers cannot be called."),
        NotPriced("No price."),
        AnotherCallActive("Already on a call."),
    ]
    assert all(isinstance(refusal, CallRefused) for refusal in refusals)
    assert issubclass(DestinationRefused, CallRefused)
    assert [(r.reason, r.code) for r in refusals] == [
        ("Premium-rate numbers cannot be called.", "premium_rate"),
        ("No price.", "not_priced"),
        ("Already on a call.", "call_in_progress"),
    ]


def test_no_balance_row_refuses_the_call_even_if_pricing_let_it_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shared.calling.placing, "affordable_seconds", lambda *_: 60)
    accounts = cast(Table, EmptyAccounts())
    calls = Calls(accounts, OpenCalls(accounts), Ledger(accounts), "USD", timedelta(minutes=5))
    with pytest.raises(InsufficientCredit):
        calls.place("u1", "CA" + "a" * 32, LANDLINE, "session:1")

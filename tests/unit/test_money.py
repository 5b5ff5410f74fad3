from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.money.micros import (
    AmountError,
    credit_taken_back,
    format_micros,
    micros_to_minor,
    parse_micros,
)


@pytest.mark.parametrize(
    ("text", "micros"),
    [("5", 5_000_000), ("0.000001", 1), ("12.5", 12_500_000), ("-0.25", -250_000)],
)
def test_decimal_text_becomes_exact_micros(text: str, micros: int) -> None:
    assert parse_micros(text) == micros


@pytest.mark.parametrize("text", ["0.0000001", "abc", "NaN", "Infinity", ""])
def test_amounts_finer_than_a_micro_or_not_numbers_are_refused(text: str) -> None:
    with pytest.raises(AmountError):
        parse_micros(text)


def test_minor_units_follow_the_currency() -> None:
    assert micros_to_minor(12_340_000, "USD") == 1234
    assert micros_to_minor(500_000_000, "JPY") == 500
    assert micros_to_minor(1_234_000, "KWD") == 1234
    with pytest.raises(AmountError):
        micros_to_minor(1_234_500, "USD")


def test_formatting_shows_the_currency_and_needed_places() -> None:
    assert format_micros(12_500_000, "USD") == "12.50 USD"
    assert format_micros(-250_000, "USD") == "-0.25 USD"
    assert format_micros(1_234, "USD") == "0.001234 USD"
    assert format_micros(500_000_000, "JPY") == "500 JPY"


# --- the credit that money returned takes back ----------------------------------------------


@pytest.mark.parametrize(
    ("credit", "returned", "paid", "taken"),
    [
        (5_000_000, 500, 500, 5_000_000),  # everything: exactly the credit
        (5_000_000, 250, 500, 2_500_000),
        (27_500_000, 1000, 2500, 11_000_000),  # a bonus pack
        (13_000_000, 400, 1200, 4_333_333),  # rounded down: never more than the share
        (13_000_000, 800, 1200, 8_666_666),
        (13_000_000, 1200, 1200, 13_000_000),
        (5_000_000, 0, 500, 0),
        (5_000_000, 900, 500, 5_000_000),  # refunded and charged back: the credit once
        (5_000_000, -100, 500, 0),
    ],
)
def test_the_credit_taken_back_is_the_share_of_the_money_returned_rounded_down(
    credit: int, returned: int, paid: int, taken: int
) -> None:
    assert credit_taken_back(credit, paid, returned) == taken


@given(credit=st.integers(1, 10**15), paid=st.integers(1, 10**12), data=st.data())
def test_the_credit_taken_back_is_exact_to_the_micro_and_whole_for_the_whole_payment(
    credit: int, paid: int, data: st.DataObject
) -> None:
    returned = data.draw(st.integers(0, paid))
    taken = credit_taken_back(credit, paid, returned)
    assert taken * paid <= credit * returned < (taken + 1) * paid
    assert credit_taken_back(credit, paid, paid) == credit
    assert credit_taken_back(credit, paid, paid + returned) == credit


@given(paid=st.integers(1, 10**6), data=st.data())
def test_the_credit_taken_back_never_falls_as_more_money_goes_back(
    paid: int, data: st.DataObject
) -> None:
    low = data.draw(st.integers(0, paid))
    high = data.draw(st.integers(low, 2 * paid))
    assert credit_taken_back(13_000_000, paid, low) <= credit_taken_back(13_000_000, paid, high)


def test_a_payment_of_nothing_takes_nothing_back() -> None:
    with pytest.raises(ValueError, match="positive"):
        credit_taken_back(5_000_000, 0, 0)

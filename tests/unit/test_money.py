from __future__ import annotations

import pytest

from shared.money import AmountError, format_micros, micros_to_minor, parse_micros


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

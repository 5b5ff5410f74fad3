from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calling.rating import (
    MAX_CALL_SECONDS,
    SAMPLE_DECK_PATH,
    Rate,
    RateDeck,
    RateDeckError,
    load_rate_deck,
)

pytestmark = pytest.mark.unit

HEADER = "prefix,country,description,per_minute,increments,connect_fee\n"
TEN_CENTS = 100_000  # 0.10 per minute, in micros

# The example database would write .hypothesis/ into the repo; these properties need no memory.
properties = settings(database=None, max_examples=300)


def rate(
    per_minute_micros: int = TEN_CENTS,
    increments: tuple[int, int] = (60, 60),
    connect_fee_micros: int = 0,
    prefix: str = "44",
) -> Rate:
    return Rate(
        prefix=prefix,
        country="GB",
        description="United Kingdom",
        per_minute_micros=per_minute_micros,
        first_increment=increments[0],
        next_increment=increments[1],
        connect_fee_micros=connect_fee_micros,
    )


rates = st.builds(
    rate,
    per_minute_micros=st.integers(0, 5_000_000),
    increments=st.tuples(st.integers(1, 120), st.integers(1, 120)),
    connect_fee_micros=st.integers(0, 1_000_000),
)
balances = st.integers(0, 10**10)


# Billing


@pytest.mark.parametrize(
    ("increments", "seconds", "expected_micros"),
    [
        # 60/60: every started minute is a whole minute.
        ((60, 60), 1, 100_000),
        ((60, 60), 60, 100_000),
        ((60, 60), 61, 200_000),
        ((60, 60), 120, 200_000),
        # 60/1: a minimum minute, then by the second; 61 s is 0.1016666.., rounded up.
        ((60, 1), 1, 100_000),
        ((60, 1), 61, 101_667),
        ((60, 1), 90, 150_000),
        # 1/1: by the second from the start; 1 s is 1666.66.. micros, rounded up.
        ((1, 1), 1, 1_667),
        ((1, 1), 30, 50_000),
        ((1, 1), 61, 101_667),
        # 30/6: a minimum half minute, then six-second blocks.
        ((30, 6), 31, 60_000),
    ],
)
def test_charge_bills_whole_increments_and_rounds_up_to_the_micro(
    increments: tuple[int, int], seconds: int, expected_micros: int
) -> None:
    assert rate(increments=increments).charge(seconds) == expected_micros


def test_a_price_with_sub_cent_digits_is_billed_exactly() -> None:
    # 0.0123 per minute for 7 seconds is 0.001435 exactly: no rounding needed, none applied.
    assert rate(per_minute_micros=12_300, increments=(1, 1)).charge(7) == 1_435


def test_the_connect_fee_is_added_once_to_an_answered_call() -> None:
    billed = rate(connect_fee_micros=20_000)
    assert billed.charge(1) == 120_000
    assert billed.charge(61) == 220_000


def test_an_unanswered_call_costs_nothing_not_even_the_connect_fee() -> None:
    assert rate(connect_fee_micros=20_000).charge(0) == 0


def test_a_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="-1 seconds"):
        rate().charge(-1)


def test_increments_read_as_a_rate_deck_writes_them() -> None:
    assert rate(increments=(60, 1)).increments == "60/1"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"per_minute_micros": -1}, "negative"),
        ({"connect_fee_micros": -1}, "negative"),
        ({"increments": (0, 60)}, "at least one second"),
        ({"increments": (60, 0)}, "at least one second"),
        ({"prefix": "+44"}, "digits"),
        ({"prefix": "044"}, "digits"),
    ],
)
def test_a_rate_that_cannot_be_billed_is_refused(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        rate(**changes)


# How long a balance pays for


@pytest.mark.parametrize(
    ("increments", "balance_micros", "expected_seconds"),
    [
        ((60, 60), 1_000_000, 600),
        ((60, 60), 150_000, 60),  # half a second minute is not a minute
        ((60, 60), 99_999, 0),  # not even the first minute
        ((60, 1), 150_000, 90),
        ((60, 1), 150_001, 90),
        ((1, 1), 1_667, 1),
        ((1, 1), 1_666, 0),
    ],
)
def test_max_seconds_is_the_end_of_the_last_affordable_increment(
    increments: tuple[int, int], balance_micros: int, expected_seconds: int
) -> None:
    assert rate(increments=increments).max_seconds(balance_micros) == expected_seconds


def test_the_connect_fee_comes_out_of_the_balance_first() -> None:
    assert rate(connect_fee_micros=50_000).max_seconds(150_000) == 60
    assert rate(connect_fee_micros=50_000).max_seconds(49_999) == 0


def test_a_free_destination_is_capped_at_the_longest_call_twilio_allows() -> None:
    assert rate(per_minute_micros=0).max_seconds(1) == MAX_CALL_SECONDS == 14_400


def test_a_large_balance_is_capped_at_the_longest_call_twilio_allows() -> None:
    assert rate().max_seconds(10**12) == MAX_CALL_SECONDS


@pytest.mark.parametrize("balance_micros", [0, -1, -(10**9)])
def test_no_credit_pays_for_no_call_even_to_a_free_destination(balance_micros: int) -> None:
    assert rate().max_seconds(balance_micros) == 0
    assert rate(per_minute_micros=0).max_seconds(balance_micros) == 0


@properties
@given(rates, balances)
def test_a_call_cut_at_max_seconds_never_costs_more_than_the_balance(
    billed: Rate, balance: int
) -> None:
    assert billed.charge(billed.max_seconds(balance)) <= balance


@properties
@given(rates, balances)
def test_one_second_more_than_max_seconds_is_unaffordable_unless_capped(
    billed: Rate, balance: int
) -> None:
    seconds = billed.max_seconds(balance)
    if seconds < MAX_CALL_SECONDS and (seconds > 0 or balance > 0):
        assert billed.charge(seconds + 1) > balance


@properties
@given(rates, balances)
def test_max_seconds_ends_on_an_increment_boundary_or_the_cap(billed: Rate, balance: int) -> None:
    seconds = billed.max_seconds(balance)
    assert seconds in (0, MAX_CALL_SECONDS) or billed.billed_seconds(seconds) == seconds


@properties
@given(rates, st.integers(0, 2 * MAX_CALL_SECONDS), st.integers(0, MAX_CALL_SECONDS))
def test_a_longer_call_never_costs_less(billed: Rate, seconds: int, longer_by: int) -> None:
    assert billed.charge(seconds) <= billed.charge(seconds + longer_by)


@properties
@given(rates, st.integers(0, 2 * MAX_CALL_SECONDS))
def test_billing_never_charges_for_less_than_the_call_lasted(billed: Rate, seconds: int) -> None:
    charged = billed.charge(seconds)
    assert isinstance(charged, int)
    assert charged * 60 >= seconds * billed.per_minute_micros


# The deck


def deck_of(*prefixes: str) -> RateDeck:
    return RateDeck(rate(prefix=prefix) for prefix in prefixes)


def test_the_longest_matching_prefix_wins() -> None:
    deck = deck_of("44", "447", "447624")
    assert deck.lookup("+447400123456") == rate(prefix="447")
    assert deck.lookup("+447624123456") == rate(prefix="447624")
    assert deck.lookup("+442079460018") == rate(prefix="44")


def test_lookup_accepts_a_number_with_or_without_the_plus() -> None:
    deck = deck_of("44", "447")
    assert deck.lookup("447400123456") == deck.lookup("+447400123456")


def test_a_number_no_prefix_matches_has_no_rate() -> None:
    assert deck_of("44").lookup("+33612345678") is None


@pytest.mark.parametrize("not_e164", ["", "+", "+44 7400", "+44-7400", "44abc"])
def test_lookup_refuses_what_is_not_an_e164_number(not_e164: str) -> None:
    with pytest.raises(ValueError, match=r"not an E\.164 number"):
        deck_of("44").lookup(not_e164)


def test_a_deck_built_from_rates_refuses_a_prefix_priced_twice() -> None:
    with pytest.raises(RateDeckError, match="44 is priced twice"):
        deck_of("44", "44")


def test_a_csv_deck_parses_prices_increments_and_connect_fees_exactly() -> None:
    deck = RateDeck.from_csv(
        HEADER
        + "44,GB,United Kingdom landline,0.0150,60/1,\n"
        + "+447,gb,United Kingdom mobile,0.035,60/60,0.000001\n"
        + '1876,JM,"Jamaica, all numbers",0.24,1/1,0.01\n'
    )
    assert len(deck) == 3
    assert deck.lookup("+442079460018") == Rate(
        "44", "GB", "United Kingdom landline", 15_000, 60, 1
    )
    assert deck.lookup("+447400123456") == Rate(
        "447", "GB", "United Kingdom mobile", 35_000, 60, 60, connect_fee_micros=1
    )
    jamaica = deck.lookup("+18765230123")
    assert jamaica is not None
    assert jamaica.description == "Jamaica, all numbers"
    assert jamaica.connect_fee_micros == 10_000


def test_comments_and_blank_lines_are_ignored_and_the_connect_fee_column_is_optional() -> None:
    deck = RateDeck.from_csv(
        "# SAMPLE\n\nprefix,country,description,per_minute,increments\n# UK\n44,GB,UK,0.01,1/1\n"
    )
    assert deck.rates == (Rate("44", "GB", "UK", 10_000, 1, 1),)


@pytest.mark.parametrize(
    ("deck_text", "line", "problem"),
    [
        ("", None, "empty"),
        ("# only a comment\n", None, "empty"),
        (HEADER, None, "no rates"),
        ("prefix,country,description,per_minute\n44,GB,UK,0.01\n", 1, "lacks the column"),
        (HEADER.replace("country", "nation"), 1, "unknown column 'nation'"),
        ("prefix,prefix,country,description,per_minute,increments\n", 1, "repeats"),
        (HEADER + "44a,GB,UK,0.01,60/60,\n", 2, "prefix '44a'"),
        (HEADER + "044,GB,UK,0.01,60/60,\n", 2, "prefix '044'"),
        (HEADER + ",GB,UK,0.01,60/60,\n", 2, "prefix ''"),
        (HEADER + "1234567890123456,GB,UK,0.01,60/60,\n", 2, "1 to 15 digits"),
        (HEADER + "44,GBR,UK,0.01,60/60,\n", 2, "country 'GBR'"),
        (HEADER + "44,GB,,0.01,60/60,\n", 2, "description is empty"),
        (HEADER + "44,GB,UK,-0.01,60/60,\n", 2, "negative"),
        (HEADER + "44,GB,UK,0.01,60/60,-0.01\n", 2, "connect_fee '-0.01' is negative"),
        (HEADER + "44,GB,UK,,60/60,\n", 2, "per_minute price is empty"),
        (HEADER + "44,GB,UK,ten,60/60,\n", 2, "not a decimal amount"),
        (HEADER + "44,GB,UK,0.0000001,60/60,\n", 2, "more than six decimal places"),
        (HEADER + "44,GB,UK,NaN,60/60,\n", 2, "not a finite amount"),
        (HEADER + "44,GB,UK,0.01,0/60,\n", 2, "cannot be zero"),
        (HEADER + "44,GB,UK,0.01,60/0,\n", 2, "cannot be zero"),
        (HEADER + "44,GB,UK,0.01,60,\n", 2, "increments '60'"),
        (HEADER + "44,GB,UK,0.01,1.5/1,\n", 2, "increments '1.5/1'"),
        (HEADER + "44,GB,UK,0.01,60/60\n", 2, "expected 6 fields"),
        (HEADER + '44,GB,"UK,0.01,60/60,\n', 2, "Rate deck line 2"),
        (HEADER + "# comment\n44,GB,UK,0.01,60/60,\n\n44,GB,UK,0.02,60/60,\n", 5, "on line 3"),
        (HEADER + "44,GB,UK,0.01,60/60,\n+44,GB,UK,0.02,60/60,\n", 3, "already priced"),
    ],
)
def test_a_bad_deck_is_refused_naming_the_line_and_the_problem(
    deck_text: str, line: int | None, problem: str
) -> None:
    with pytest.raises(RateDeckError, match=re.escape(problem)) as refused:
        RateDeck.from_csv(deck_text)
    assert refused.value.line == line
    if line is not None:
        assert str(refused.value).startswith(f"Rate deck line {line}: ")


def test_load_rate_deck_reads_a_file_even_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "deck.csv"
    path.write_text(HEADER + "44,GB,UK,0.01,60/60,\n", encoding="utf-8-sig")
    assert load_rate_deck(path).lookup("+442079460018") is not None


# The sample shipped in the repo


def test_the_shipped_sample_deck_parses() -> None:
    deck = load_rate_deck(SAMPLE_DECK_PATH)
    assert len(deck) >= 40


def test_the_shipped_sample_deck_says_it_is_a_sample_to_replace() -> None:
    first_line = SAMPLE_DECK_PATH.read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith("#")
    assert "SAMPLE" in first_line


@pytest.mark.parametrize(
    ("e164", "prefix"),
    [
        ("+14155550100", "1"),
        ("+18765230123", "1876"),
        ("+442079460018", "44"),
        ("+447400123456", "447"),
        ("+447624123456", "447624"),
        ("+4915123456789", "4915"),
        ("+33612345678", "336"),
        ("+918123456789", "91"),
        ("+639171234567", "639"),
        ("+5215512345678", "521"),
    ],
)
def test_the_sample_deck_rates_common_destinations_by_their_longest_prefix(
    e164: str, prefix: str
) -> None:
    found = load_rate_deck(SAMPLE_DECK_PATH).lookup(e164)
    assert found is not None
    assert found.prefix == prefix


def test_the_sample_deck_mixes_billing_increments_and_has_some_connect_fees() -> None:
    sample = load_rate_deck(SAMPLE_DECK_PATH).rates
    assert {"60/60", "60/1", "1/1"} <= {r.increments for r in sample}
    assert any(r.connect_fee_micros > 0 for r in sample)

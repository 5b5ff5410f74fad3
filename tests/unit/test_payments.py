"""The payments service without servers: the share of the credit a refund or dispute takes
back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.payments import share_of_credit


@pytest.mark.parametrize(
    ("credit", "part", "paid", "share"),
    [
        (5_000_000, 500, 500, 5_000_000),  # everything: exactly the credit
        (5_000_000, 250, 500, 2_500_000),
        (27_500_000, 2500, 2500, 27_500_000),  # a bonus pack, refunded in full
        (27_500_000, 1000, 2500, 11_000_000),
        (10_000_000, 1, 3, 3_333_333),  # rounded down: never more than the share
        (5_000_000, 0, 500, 0),
        (5_000_000, 900, 500, 5_000_000),  # never more than the credit
    ],
)
def test_the_share_of_the_credit_is_exact_in_micros(
    credit: int, part: int, paid: int, share: int
) -> None:
    assert share_of_credit(credit, part, paid) == share


@given(
    credit=st.integers(1, 10**12),
    paid=st.integers(1, 10**8),
    data=st.data(),
)
def test_a_share_is_never_more_than_its_part_and_the_whole_is_the_credit(
    credit: int, paid: int, data: st.DataObject
) -> None:
    part = data.draw(st.integers(0, paid))
    share = share_of_credit(credit, part, paid)
    assert 0 <= share <= credit
    assert share * paid <= credit * part < (share + 1) * paid
    assert share_of_credit(credit, paid, paid) == credit


@given(paid=st.integers(2, 10**6), data=st.data())
def test_two_partial_refunds_leave_at_most_a_micro_of_the_credit(
    paid: int, data: st.DataObject
) -> None:
    first = data.draw(st.integers(1, paid - 1))
    total = share_of_credit(5_000_000, first, paid) + share_of_credit(5_000_000, paid - first, paid)
    assert 5_000_000 - 1 <= total <= 5_000_000


def test_a_payment_of_nothing_has_no_share() -> None:
    with pytest.raises(ValueError, match="positive"):
        share_of_credit(5_000_000, 0, 0)

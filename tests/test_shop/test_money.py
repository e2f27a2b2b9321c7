"""Splitting money in proportion: whole minor units that always add up."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from shop.money import allocate


def test_allocate_by_largest_remainder():
    assert allocate(1200, [6600, 2900, 1000]) == [754, 332, 114]
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]  # a tie goes to the earlier weight
    assert allocate(5, [0, 0]) == [0, 0]


@given(
    amount=st.integers(0, 10**9),
    weights=st.lists(st.integers(0, 10**7), min_size=1, max_size=8).filter(any),
)
def test_allocate_adds_up_and_stays_within_a_unit_of_exact(amount, weights):
    shares = allocate(amount, weights)
    assert sum(shares) == amount
    for share, weight in zip(shares, weights, strict=True):
        exact = Fraction(amount * weight, sum(weights))
        assert exact - 1 < share < exact + 1
        assert weight or share == 0

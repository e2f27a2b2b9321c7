"""An order's number is made and read back in one place (``shop.orders.numbers``)."""

from __future__ import annotations

import pytest

from shop.orders.models import Order
from shop.orders.numbers import order_number, parse_order_number


def test_an_order_number_is_its_id_behind_the_prefix():
    assert order_number(123) == "SY000123"
    assert order_number(1234567) == "SY1234567"
    assert order_number(None) == ""
    assert Order(id=42).number == "SY000042"


@pytest.mark.parametrize(
    ("typed", "order_id"),
    [
        ("SY000123", 123),
        ("sy123", 123),
        (" 000123 ", 123),
        ("123", 123),
        ("SY999999999", 999999999),
    ],
)
def test_a_typed_number_reads_back_as_the_order_id(typed, order_id):
    assert parse_order_number(typed) == order_id
    assert parse_order_number(order_number(order_id)) == order_id


@pytest.mark.parametrize(
    "typed", ["", "SY", "SY000", "SY12a", "SY-1", "SY1234567890", "SY²", "X12"]
)
def test_anything_else_names_no_order(typed):
    assert parse_order_number(typed) is None

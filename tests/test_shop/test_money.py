"""Money: as text for people and for forms (one home, ``shop.money``), and split in proportion
into whole minor units that always add up."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from shop.money import allocate, format_amount, format_money, parse_money


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


def test_money_for_people_in_the_shop_currency_unless_told(app):
    with app.app_context():
        currency = app.config["SHOP_CURRENCY"]
        assert format_money(12345) == format_money(12345, currency)
        assert format_money(None) == ""
    assert format_money(12345, "CNY") == "¥123.45"
    assert format_money(-500, "JPY") == "-¥500"
    assert format_money(123456, "CHF") == "1,234.56 CHF"


def test_plain_amounts_for_forms_and_exports_read_back_exactly():
    assert format_amount(4800, "CNY") == "48.00"
    assert format_amount(123456, "CNY") == "1234.56"
    assert format_amount(500, "JPY") == "500"
    assert format_amount(1234, "KWD") == "1.234"
    for amount, currency in [(4800, "CNY"), (7, "USD"), (500, "JPY"), (1234, "KWD")]:
        assert parse_money(format_amount(amount, currency), currency) == amount


def test_the_money_filter_is_format_money(app):
    assert app.jinja_env.filters["money"] is format_money

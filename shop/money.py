"""Money: integer minor units with the currency beside it. Never floats.

The one home of money as text: ``format_money`` for people (it is the ``money`` Jinja
filter), ``format_amount`` for forms and exports, ``parse_money`` for what staff type.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask import current_app

# ISO 4217 exponents that are not 2.
_EXPONENTS = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "MGA": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "JOD": 3,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
}
_SYMBOLS = {"CNY": "¥", "JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "HKD": "HK$", "KRW": "₩"}


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def format_money(amount: int | None, currency: str | None = None) -> str:
    """``format_money(12345, "CNY") == "¥123.45"``; ``format_money(500, "JPY") == "¥500"``.

    Without a currency, the shop's (``SHOP_CURRENCY``); no amount is shown as "". This is the
    ``money`` filter of every template: ``{{ order.total|money(order.currency) }}``.
    """
    if amount is None:
        return ""
    currency = currency or current_app.config["SHOP_CURRENCY"]
    exp = exponent(currency)
    sign = "-" if amount < 0 else ""
    value = Decimal(abs(int(amount))).scaleb(-exp)
    text = f"{value:,.{exp}f}"
    symbol = _SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency.upper()}"


def format_amount(amount: int, currency: str) -> str:
    """Minor units as the plain major-unit text a form shows or an export holds (no symbol,
    no grouping; the currency has its own column): 4800 CNY -> "48.00", 500 JPY -> "500"."""
    exp = exponent(currency)
    return f"{Decimal(int(amount)).scaleb(-exp):.{exp}f}"


def parse_money(text: str, currency: str) -> int:
    """Parse a major-unit amount typed by staff ("12.50") into minor units.

    Raises ValueError with a readable message on anything that is not an exact amount.
    """
    exp = exponent(currency)
    try:
        value = Decimal(str(text).strip().replace(",", ""))
    except InvalidOperation as exc:
        raise ValueError(f"{text!r} is not an amount") from exc
    if not value.is_finite() or value.adjusted() > 15:  # 1e9999 would overflow the context
        raise ValueError(f"{text!r} is not an amount")
    minor = value.scaleb(exp)
    if minor != minor.to_integral_value():
        raise ValueError(f"{text!r} has more than {exp} decimals for {currency}")
    return int(minor.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def prorate(amount: int, part: int, whole: int) -> int:
    """``amount * part / whole`` rounded half up, in integers (no float anywhere)."""
    if whole <= 0:
        return 0
    return (amount * part * 2 + whole) // (whole * 2)


def allocate(amount: int, weights: list[int]) -> list[int]:
    """Split ``amount`` in proportion to ``weights``, in whole minor units that add up to it
    exactly (largest remainder; ties to the earlier weight). Weights are not negative."""
    whole = sum(weights)
    if whole <= 0:
        return [0] * len(weights)
    shares = [amount * w // whole for w in weights]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % whole), i))
    for i in by_remainder[: amount - sum(shares)]:
        shares[i] += 1
    return shares

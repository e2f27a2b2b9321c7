"""An order's number, the one customers and staff read, say and type: "SY000123".

It is the order's id behind a prefix, so it is made without loading the order and read back
without a lookup table. Every page, export, flash and audit line formats it here; every box
that takes a typed number parses it here.
"""

from __future__ import annotations

PREFIX = "SY"


def order_number(order_id: int | None) -> str:
    """``order_number(123) == "SY000123"``; no order is ""."""
    return f"{PREFIX}{order_id:06d}" if order_id else ""


def parse_order_number(text: str) -> int | None:
    """The order id a typed number names, or None: "SY000123", "sy123" and "123" are 123."""
    digits = text.strip().upper().removeprefix(PREFIX).lstrip("0")
    return int(digits) if digits.isdecimal() and len(digits) < 10 else None

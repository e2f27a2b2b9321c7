"""The basket a browser fills before checkout, kept in its signed session cookie.

Only variant ids and quantities are kept (``{"<variant id>": quantity}``): checkout prices
the basket from the catalog, so nothing a browser keeps can change a price.
"""

from __future__ import annotations

from flask import current_app, session
from flask_babel import gettext as _

from shop.catalog.models import Variant
from shop.checkout.services import sellable_variant_ids
from shop.errors import InvalidInput
from shop.extensions import db

_KEY = "cart"


def contents() -> dict[str, int]:
    cart = session.get(_KEY)
    return dict(cart) if isinstance(cart, dict) else {}


def items() -> list[tuple[int, int]]:
    """``[(variant_id, quantity), ...]``, as ``quote`` and ``place_order`` take them."""
    return [(int(key), quantity) for key, quantity in contents().items()]


def count() -> int:
    """How many pieces the basket holds (the number on the basket link)."""
    return sum(contents().values())


def add(variant_id: int, quantity: int) -> None:
    """Add ``quantity`` of a variant on sale, up to the per-line limit. Raises InvalidInput."""
    variant = db.session.get(Variant, variant_id)
    if variant is None or not variant.product.active:
        raise InvalidInput(_("That product does not exist."))
    cart, key = contents(), str(variant_id)
    cart[key] = min(cart.get(key, 0) + quantity, current_app.config["MAX_LINE_QUANTITY"])
    session[_KEY] = cart


def update(quantities: dict[str, int]) -> None:
    """Set the lines' quantities (0 removes a line); lines not named are kept."""
    cart = contents()
    for key, quantity in quantities.items():
        if key not in cart:
            continue
        if quantity == 0:
            cart.pop(key)
        else:
            cart[key] = quantity
    session[_KEY] = cart


def drop_unavailable() -> bool:
    """Remove the lines whose product can no longer be bought; True if there were any."""
    cart = contents()
    if not cart:
        return False
    available = sellable_variant_ids([int(key) for key in cart])
    if len(available) == len(cart):
        return False
    session[_KEY] = {key: n for key, n in cart.items() if int(key) in available}
    return True


def clear() -> None:
    session[_KEY] = {}

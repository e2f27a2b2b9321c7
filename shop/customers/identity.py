"""Who the browser is: the orders it placed, the details it last used, its visitor id.

A customer never signs up to buy. The signed session cookie remembers the orders this browser
placed (so only they open without their link) and the contact details to fill in next time.
Typing someone's phone number at checkout grants nothing: access follows the browser, not
the phone number. ``session["customer_id"]`` is set only by a verified sign-in.
"""

from __future__ import annotations

import re
import secrets

from flask import request, session

from shop.orders.models import Order

MAX_REMEMBERED_ORDERS = 50
VISITOR_COOKIE = "siyu_vid"
_VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what new_visitor_id makes, with room


def remember_order(order: Order, details: dict) -> None:
    ids = [i for i in session.get("orders", []) if i != order.id]
    session["orders"] = ([order.id] + ids)[:MAX_REMEMBERED_ORDERS]
    session["details"] = details
    session.permanent = True


def saved_details() -> dict:
    return session.get("details") or {}


def remembered_order_ids() -> list[int]:
    return list(session.get("orders", []))


def can_view(order: Order) -> bool:
    """The order's own browser, or its customer signed in (the token link is checked apart)."""
    if order.id in session.get("orders", []):
        return True
    return (
        session.get("customer_id") is not None and session.get("customer_id") == order.customer_id
    )


def visitor_id() -> str | None:
    """The browser's visitor id; a cookie we could not have set (too long to store, odd
    characters) counts as none, so it is replaced rather than stored."""
    value = request.cookies.get(VISITOR_COOKIE)
    return value if value and _VISITOR_ID.match(value) else None


def new_visitor_id() -> str:
    return secrets.token_urlsafe(16)


def set_visitor_cookie(response, visitor: str) -> None:
    response.set_cookie(
        VISITOR_COOKIE, visitor, max_age=2 * 365 * 24 * 3600, httponly=True, samesite="Lax"
    )

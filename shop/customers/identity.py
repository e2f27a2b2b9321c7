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

from shop.customers.models import Customer
from shop.extensions import db
from shop.orders.models import Order

MAX_REMEMBERED_ORDERS = 50
VISITOR_COOKIE = "siyu_vid"
_VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what new_visitor_id makes, with room


def remember_order(order: Order) -> None:
    """This browser placed ``order``: it may open it, and its details fill in the next one."""
    ids = [i for i in session.get("orders", []) if i != order.id]
    session["orders"] = ([order.id] + ids)[:MAX_REMEMBERED_ORDERS]
    session["details"] = {
        "name": order.contact_name,
        "phone": order.phone,
        "province": order.province,
        "city": order.city,
        "district": order.district,
        "address": order.address,
        "fulfilment": order.fulfilment,
        "pickup_store": str(order.store_id or ""),
    }
    session.permanent = True


def saved_details() -> dict:
    """The contact details of this browser's last order (name, phone, province, city,
    district, address, fulfilment, pickup_store), to fill in the checkout form."""
    return session.get("details") or {}


def signed_in_id() -> int | None:
    """The customer signed in on this browser (by a verified code), if any."""
    return session.get("customer_id")


def signed_in() -> Customer | None:
    customer_id = signed_in_id()
    return db.session.get(Customer, customer_id) if customer_id else None


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

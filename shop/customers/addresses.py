"""A customer's saved delivery addresses: remembered from their delivery orders (placed
signed in), offered again at checkout, most recently used first."""

from __future__ import annotations

from sqlalchemy import select

from shop.customers.models import CustomerAddress
from shop.extensions import db
from shop.infra.clock import utcnow

SHOWN = 5  # the most recently used addresses the checkout offers


def saved(customer_id: int | None) -> list[CustomerAddress]:
    if not customer_id:
        return []
    return list(
        db.session.scalars(
            select(CustomerAddress)
            .where(CustomerAddress.customer_id == customer_id)
            .order_by(CustomerAddress.last_used_at.desc(), CustomerAddress.id.desc())
            .limit(SHOWN)
        )
    )


def find(customer_id: int | None, address_id) -> CustomerAddress | None:
    """One of this customer's addresses by its id (as posted), or None."""
    raw = str(address_id or "")
    if not customer_id or not raw.isdecimal() or len(raw) > 9:
        return None
    return db.session.scalar(
        select(CustomerAddress).where(
            CustomerAddress.id == int(raw), CustomerAddress.customer_id == customer_id
        )
    )


def remember(customer_id: int, details) -> CustomerAddress:
    """Save the delivery address of an order (the same address again only moves it to the
    top, with the latest name and phone). Does not commit."""
    place = {
        "province": details.province,
        "city": details.city,
        "district": details.district,
        "address": details.address,
    }
    row = db.session.scalar(
        select(CustomerAddress).filter_by(customer_id=customer_id, **place).limit(1)
    )
    if row is None:
        row = CustomerAddress(customer_id=customer_id, **place)
        db.session.add(row)
    row.contact_name = details.name
    row.phone = details.phone
    row.last_used_at = utcnow()
    return row

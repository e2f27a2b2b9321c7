"""What the members forms share: a template's name in a column, and the customer a staff member
typed."""

from __future__ import annotations

from sqlalchemy import select

from shop.customers.models import Customer
from shop.customers.phones import normalize_phone
from shop.errors import InvalidInput
from shop.extensions import db
from shop.members.models import CouponTemplate


def template_name_formatter(view, context, model, name):
    template_id = getattr(model, name)
    if not template_id:
        return ""
    return db.session.scalar(select(CouponTemplate.name).where(CouponTemplate.id == template_id))


def find_customer(text: str) -> Customer | None:
    """The customer a staff member typed: a phone number, or a customer number (the id)."""
    text = (text or "").strip()
    if text.isdigit() and len(text) < 10:
        found = db.session.get(Customer, int(text))
        if found is not None:
            return found
    try:
        phone = normalize_phone(text)
    except InvalidInput:
        return None
    return db.session.scalar(select(Customer).where(Customer.phone == phone))

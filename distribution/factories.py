"""Plain factory functions for guides and promoters: used by tests and the demo data."""

from __future__ import annotations

from distribution.models import Sharer, SharerKind
from shop.catalog.models import Store
from shop.customers.models import Customer
from shop.demo.factories import make_staff
from shop.extensions import db
from shop.staff.models import Role


def make_guide(
    store: Store,
    name: str,
    email: str | None = None,
    phone: str = "",
    password: str = "guide-password-1",
) -> Sharer:
    """A store guide: a staff login of role guide, and the sharer that earns for it."""
    staff = make_staff(
        email or f"{name.lower().replace(' ', '.')}@guides.test",
        password,
        Role.GUIDE,
        stores=[store],
        name=name,
    )
    sharer = Sharer(kind=SharerKind.GUIDE, name=name, staff=staff, store=store, phone=phone)
    db.session.add(sharer)
    db.session.flush()
    return sharer


def make_promoter(name: str, phone: str, parent: Sharer | None = None) -> Sharer:
    """A customer in the distribution programme, recruited by ``parent``."""
    customer = db.session.query(Customer).filter_by(phone=phone).one_or_none()
    if customer is None:
        customer = Customer(phone=phone, name=name)
        db.session.add(customer)
    sharer = Sharer(
        kind=SharerKind.PROMOTER,
        name=name,
        customer=customer,
        phone=phone,
        parent=parent,
        store_id=parent.store_id if parent else None,
    )
    db.session.add(sharer)
    db.session.flush()
    return sharer

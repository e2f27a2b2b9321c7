"""Members test helpers: customers with points, coupon templates, paid orders, sign-in."""

from __future__ import annotations

import itertools
import re
import uuid

from sqlalchemy import func, select

from shop.checkout.services import CheckoutDetails, place_order
from shop.customers.models import Customer
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.members import points
from shop.members.models import Coupon, CouponTemplate, PointsEntry
from shop.orders import services as orders
from shop.orders.models import Order
from shop.staff.models import Role, Staff
from tests.support.shop import make_owner

_phones = itertools.count(1)
SENT: list[tuple[str, str]] = []


class CapturingSender:
    """The SMS sender of these tests: keeps the messages (``SENT``) to read codes from."""

    def __init__(self, config) -> None:
        pass

    def send(self, phone: str, message: str) -> None:
        SENT.append((phone, message))


def sign_in_by_code(client, phone: str, next_path: str = ""):
    """The real sign-in: ask for a code, read it from the text, type it in."""
    client.post("/signin", data={"phone": phone, "next": next_path})
    code = re.search(r"\b(\d{6})\b", SENT[-1][1]).group(1)
    return client.post("/signin/verify", data={"phone": phone, "code": code, "next": next_path})


def make_customer(name: str = "", phone: str | None = None, points_: int = 0, **values):
    """A customer; ``points_`` are given as one adjustment lot (no expiry)."""
    n = next(_phones)
    customer = Customer(phone=phone or f"135{n:08d}", name=name or f"Member {n}", **values)
    db.session.add(customer)
    db.session.flush()
    if points_:
        points.post(customer.id, points_, "adjust", f"test:{customer.id}:{uuid.uuid4().hex}")
    db.session.commit()
    return customer


def make_template(name: str = "Ten off", kind: str = "fixed", **values) -> CouponTemplate:
    values.setdefault("value", 1000)
    template = CouponTemplate(name=name, kind=kind, **values)
    db.session.add(template)
    db.session.commit()
    return template


def buy(variant, store, customer=None, quantity: int = 1, key: str | None = None, **values):
    """Place a pick-up, pay-at-store order for a customer (signed in: coupons and points)."""
    fields = dict(
        name=customer.name if customer else "Li Lei",
        phone=customer.phone if customer else "13812341234",
        fulfilment="pickup",
        payment_method="store",
        pickup_store_id=store.id,
        customer_id=customer.id if customer else None,
    )
    fields.update(values)
    with unit_of_work():
        return place_order(
            [(variant.id, quantity)], CheckoutDetails(**fields), key or uuid.uuid4().hex
        )


def owner() -> Staff:
    found = db.session.scalar(select(Staff).where(Staff.role == Role.OWNER).limit(1))
    return found or make_owner()


def pay(order) -> bool:
    """Mark a pay-at-store order paid, as staff at the counter do."""
    with unit_of_work():
        return orders.mark_paid_at_store(order.id, owner())


def sign_in(client, customer) -> None:
    with client.session_transaction() as session:
        session["customer_id"] = customer.id


def balance(customer_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Customer, customer_id).points_balance


def ledger_sum(customer_id: int) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
            PointsEntry.customer_id == customer_id
        )
    )


def coupons_of(customer_id: int) -> list[Coupon]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Coupon).where(Coupon.customer_id == customer_id).order_by(Coupon.id)
        )
    )


def order_count() -> int:
    return db.session.scalar(select(func.count(Order.id)))

"""Order tables: orders, their lines, refunds and refund lines.

Money columns are integers in minor units; each row that holds money holds its currency.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.vocab import VOCABULARY, Vocabulary
from shop.money import prorate
from shop.orders.numbers import order_number

if TYPE_CHECKING:
    from shop.catalog.models import Store, Variant
    from shop.customers.models import Customer
    from shop.members.models import Coupon
    from shop.staff.models import Staff


def new_token() -> str:
    return secrets.token_urlsafe(24)


class OrderStatus(Vocabulary):
    AWAITING_PAYMENT = "awaiting_payment", _l("Awaiting payment")
    PAID = "paid", _l("Paid")
    FULFILLED = "fulfilled", _l("Shipped")
    PICKED_UP = "picked_up", _l("Picked up")
    COMPLETED = "completed", _l("Completed")
    CANCELLED = "cancelled", _l("Cancelled")
    REFUNDED = "refunded", _l("Refunded")


class Fulfilment(Vocabulary):
    DELIVERY = "delivery", _l("Delivery")
    PICKUP = "pickup", _l("Pick-up")


class PaymentMethod(Vocabulary):
    """How an order is paid; also a payment's provider (``Payment.provider``)."""

    STRIPE = "stripe", _l("Card (Stripe)")
    STORE = "store", _l("Pay at store")


class RefundStatus(Vocabulary):
    """Where a refund stands. Money that went through Stripe goes back through Stripe outside
    the order's transaction: such a refund is ``requested`` (its amount already held against the
    order, so nothing can refund it twice) until Stripe answers."""

    REQUESTED = "requested", _l("Requested")
    SUCCEEDED = "succeeded", _l("Refunded")
    FAILED = "failed", _l("Failed")


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= total", name="refund_bounds"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), index=True)
    status: Mapped[str] = mapped_column(
        String(24),
        default=OrderStatus.AWAITING_PAYMENT,
        index=True,
        info={VOCABULARY: OrderStatus},
    )
    fulfilment: Mapped[str] = mapped_column(String(16), info={VOCABULARY: Fulfilment})
    payment_method: Mapped[str] = mapped_column(String(16), info={VOCABULARY: PaymentMethod})
    contact_name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(32))
    province: Mapped[str] = mapped_column(String(40), default="")
    city: Mapped[str] = mapped_column(String(80), default="")
    district: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(Integer)
    discount: Mapped[int] = mapped_column(Integer, default=0)
    shipping: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer)
    refunded_amount: Mapped[int] = mapped_column(Integer, default=0)
    # The discount's parts (discount = tier_discount + coupon_discount + points_value).
    tier_discount: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    coupon_discount: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"), index=True)
    points_spent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    points_value: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stripe_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_payment_intent: Mapped[str | None] = mapped_column(String(255), index=True)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    review_reason: Mapped[str] = mapped_column(String(255), default="")
    # Attribution captured at checkout, as plain values: the core needs no distribution model.
    share_code: Mapped[str | None] = mapped_column(String(32), index=True)
    live_session_id: Mapped[int | None] = mapped_column(Integer, index=True)
    visitor_id: Mapped[str | None] = mapped_column(String(64))
    # What a pick-up customer shows at the counter (``shop.orders.pickup``).
    pickup_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer] = relationship()
    store: Mapped[Store | None] = relationship()
    coupon: Mapped[Coupon | None] = relationship(viewonly=True)  # the one it used, to name it
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    refunds: Mapped[list[Refund]] = relationship(back_populates="order", order_by="Refund.id")

    @property
    def number(self) -> str:
        return order_number(self.id)

    @property
    def refund_state(self) -> str:
        if self.refunded_amount == 0:
            return "none"
        return "full" if self.refunded_amount >= self.total else "partial"

    def paid_for(self, line: OrderLine) -> int:
        """What the customer paid for a line: its total less its share of the order discount
        (commission, points and refunds all start from it)."""
        return line.line_total - prorate(self.discount, line.line_total, self.subtotal)

    def __str__(self) -> str:
        return self.number


class OrderLine(db.Model):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "refunded_quantity >= 0 AND refunded_quantity <= quantity",
            name="refunded_quantity_bounds",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    product_name: Mapped[str] = mapped_column(String(200))
    variant_name: Mapped[str] = mapped_column(String(120), default="")
    sku: Mapped[str] = mapped_column(String(64))
    unit_price: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    line_total: Mapped[int] = mapped_column(Integer)
    refunded_quantity: Mapped[int] = mapped_column(Integer, default=0)
    refunded_amount: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[Order] = relationship(back_populates="lines")
    variant: Mapped[Variant] = relationship()

    def __str__(self) -> str:
        return f"{self.product_name} {self.variant_name} × {self.quantity}".strip()


class Refund(db.Model):
    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(255), default="")
    restock: Mapped[bool] = mapped_column(Boolean, default=False)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(
        String(16),
        default=RefundStatus.SUCCEEDED,
        server_default=RefundStatus.SUCCEEDED.value,
        index=True,
        info={VOCABULARY: RefundStatus},
    )
    failure: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="refunds")
    staff: Mapped[Staff | None] = relationship()

    @property
    def status_label(self) -> str:
        return RefundStatus.label_of(self.status)

    lines: Mapped[list[RefundLine]] = relationship(cascade="all, delete-orphan")


class RefundLine(db.Model):
    __tablename__ = "refund_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)

    order_line: Mapped[OrderLine] = relationship()

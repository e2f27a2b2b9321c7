"""Payment tables: payments taken (Stripe or at the store) and the Stripe events received."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.vocab import VOCABULARY
from shop.orders.models import PaymentMethod

if TYPE_CHECKING:
    from shop.orders.models import Order


class Payment(db.Model):
    """Money that moved: a payment (positive) or a refund (negative), one row per provider event."""

    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    provider: Mapped[str] = mapped_column(String(16), info={VOCABULARY: PaymentMethod})
    external_id: Mapped[str] = mapped_column(String(255), unique=True)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    order: Mapped[Order] = relationship()


class StripeEvent(db.Model):
    """Each Stripe event id is handled once; the primary key drops replays."""

    __tablename__ = "stripe_events"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

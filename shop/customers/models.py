"""Customer tables: customers (no sign-up needed to buy) and their one-time sign-in codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.infra.clock import utcnow


class Customer(db.Model):
    __tablename__ = "customers"
    __table_args__ = (CheckConstraint("points_balance >= 0", name="points_not_negative"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    city: Mapped[str] = mapped_column(String(80), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Membership: tier, points (the sum of the customer's PointsEntry rows), referral.
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("member_tiers.id"), index=True)
    tier_since: Mapped[datetime | None] = mapped_column(DateTime)
    points_balance: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    referral_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    referrer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    first_visitor_id: Mapped[str | None] = mapped_column(String(64))

    def __str__(self) -> str:
        from shop.customers.phones import mask_phone

        return f"{self.name} {mask_phone(self.phone)}".strip()


class CustomerAddress(db.Model):
    """A delivery address a customer used, offered again at their next checkout (signed in)."""

    __tablename__ = "customer_addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    province: Mapped[str] = mapped_column(String(40), default="")
    city: Mapped[str] = mapped_column(String(80), default="")
    district: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    last_used_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    def __str__(self) -> str:
        return " ".join(p for p in (self.province, self.city, self.district, self.address) if p)


class LoginCode(db.Model):
    """A one-time sign-in code sent to a customer's phone; only its HMAC is stored."""

    __tablename__ = "login_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64), default="", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)

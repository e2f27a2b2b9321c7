"""Staff tables: accounts with their role and stores, failed sign-ins, the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.vocab import VOCABULARY, Vocabulary

if TYPE_CHECKING:
    from shop.catalog.models import Store


staff_stores = Table(
    "staff_stores",
    db.Model.metadata,
    Column("staff_id", ForeignKey("staff.id"), primary_key=True),
    Column("store_id", ForeignKey("stores.id"), primary_key=True),
)


class Role(Vocabulary):
    OWNER = "owner", _l("Owner")
    MANAGER = "manager", _l("Store manager")
    FINANCE = "finance", _l("Finance")
    SUPPORT = "support", _l("Support")
    GUIDE = "guide", _l("Store guide")  # the workbench at /guide, no admin panel


class Staff(UserMixin, db.Model):
    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.SUPPORT, info={VOCABULARY: Role})
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    stores: Mapped[list[Store]] = relationship(secondary=staff_stores)

    # scrypt, werkzeug's default; the test suite swaps in a cheap method to stay fast.
    password_method = "scrypt"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=self.password_method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated account cannot sign in
        return self.active

    @property
    def store_ids(self) -> list[int]:
        return [s.id for s in self.stores]

    def __str__(self) -> str:
        return self.name or self.email


class LoginAttempt(db.Model):
    """Failed staff sign-ins, counted per e-mail and per address for the rate limit."""

    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), index=True)
    ip: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class AuditLog(db.Model):
    """Append-only: who changed what, when, with the values before and after."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    # A change made through the API: the key that made it (staff_id is empty then).
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64), index=True)
    object_id: Mapped[str] = mapped_column(String(64), default="")
    store_id: Mapped[int | None] = mapped_column(Integer, index=True)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    staff: Mapped[Staff | None] = relationship()

    @property
    def actor(self) -> str:
        """Who made the change: the staff member, or the API key (by name)."""
        if self.api_key_id is not None:
            from shop.api.models import ApiKey

            key = db.session.get(ApiKey, self.api_key_id)
            return f"API: {key.name}" if key is not None else "API"
        return str(self.staff) if self.staff is not None else ""

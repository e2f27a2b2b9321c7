"""API tables: keys, remembered idempotent requests, webhook endpoints, events, deliveries and
their attempts."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.vocab import VOCABULARY, Vocabulary


class Scope(Vocabulary):
    """What an API key may do. A ``:write`` scope includes its ``:read``."""

    ORDERS_READ = "orders:read", _l("Read orders, payments and refunds")
    ORDERS_WRITE = "orders:write", _l("Fulfil, hand over and refund orders")
    CUSTOMERS_READ = "customers:read", _l("Read customers (phones masked)")
    PHONES_READ = "phones:read", _l("See customers' full phone numbers")
    CATALOG_READ = "catalog:read", _l("Read stores, products, variants and stock")
    STOCK_WRITE = "stock:write", _l("Adjust stock")
    COMMISSIONS_READ = "commissions:read", _l("Read guides, promoters, commission and payouts")
    MEMBERS_READ = "members:read", _l("Read coupons and points")

    @property
    def implied(self) -> set[Scope]:
        """This scope and what it includes (``stock:write`` includes ``catalog:read``)."""
        implied = {self}
        if self == Scope.ORDERS_WRITE:
            implied.add(Scope.ORDERS_READ)
        if self == Scope.STOCK_WRITE:
            implied.add(Scope.CATALOG_READ)
        return implied


class ApiKey(db.Model):
    """A key another system calls the API with. Only a hash of its secret is kept: the secret
    is shown once, when the key is made."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # shown, identifies the key
    secret_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the whole key
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    store_ids: Mapped[list] = mapped_column(JSON, default=list)  # empty: every store
    rate_per_second: Mapped[int] = mapped_column(Integer, default=2)
    burst: Mapped[int] = mapped_column(Integer, default=40)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def granted(self) -> set[str]:
        granted: set[str] = set()
        for value in self.scopes or []:
            if Scope.has(value):
                granted |= {s.value for s in Scope(value).implied}
        return granted

    def allows(self, scope: str) -> bool:
        return scope in self.granted

    @property
    def pinned(self) -> bool:
        return bool(self.store_ids)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotentRequest(db.Model):
    """The first answer to a POST with an ``Idempotency-Key``, given again to a repeat."""

    __tablename__ = "api_idempotent_requests"
    __table_args__ = (UniqueConstraint("api_key_id", "key", name="uq_api_idempotency_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of method, path and body
    status_code: Mapped[int | None] = mapped_column(Integer)  # None while the first runs
    response: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class DeliveryStatus(Vocabulary):
    PENDING = "pending", lazy_pgettext("webhook", "Pending")
    DELIVERED = "delivered", lazy_pgettext("webhook", "Delivered")
    FAILED = "failed", lazy_pgettext("webhook", "Failed")


class WebhookEndpoint(db.Model):
    """A URL an owner registered to be told of events (all types when ``event_types`` is
    empty; only one store's when ``store_id`` is set)."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(255), default="")
    event_types: Mapped[list] = mapped_column(JSON, default=list)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), index=True)
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    store = relationship("Store")

    def wants(self, event_type: str, store_id: int | None) -> bool:
        if not self.active:
            return False
        if self.event_types and event_type not in self.event_types:
            return False
        return self.store_id is None or self.store_id == store_id

    def __str__(self) -> str:
        return self.url


class WebhookEvent(db.Model):
    """One event, as its envelope is sent: ``{id, type, created_at, api_version, store_id,
    data}``. ``key`` makes the same change announced twice one event."""

    __tablename__ = "webhook_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    store_id: Mapped[int | None] = mapped_column(Integer, index=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


class WebhookDelivery(db.Model):
    """One event owed to one endpoint, tried until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    status: Mapped[str] = mapped_column(
        String(16), default=DeliveryStatus.PENDING, info={VOCABULARY: DeliveryStatus}
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)

    event: Mapped[WebhookEvent] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()

    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_delivery"),
        db.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )


class WebhookAttempt(db.Model):
    """One try of a delivery: what the receiver answered, how fast. Kept 30 days."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    response_start: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(String(500), default="")

    delivery: Mapped[WebhookDelivery] = relationship()

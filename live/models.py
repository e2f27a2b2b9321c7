"""Live selling tables: sessions, their shelf, pins, and the units live orders hold.

A session's status is never derived from the clock: it becomes ``live`` when the host console
sends its first heartbeat and ends itself only after heartbeats stop for the settable time.

Prices and stock are never copied into an order ahead of time: the shelf holds the live price
and the session's stock cap, the product holds its own price and stock, and checkout reads
both at the moment of purchase. ``ShelfItem.sold`` counts the units live orders hold (reserved
or paid); it moves only by conditional updates, so a cap of N sells exactly N under any load.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from distribution.models import Sharer
from shop.catalog.models import Product, Store, Variant
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.vocab import VOCABULARY, Vocabulary


class SessionStatus(Vocabulary):
    """Where a live session stands. ``live`` and ``paused`` come from the host console only."""

    SCHEDULED = "scheduled", lazy_pgettext("live session", "Scheduled")
    LIVE = "live", lazy_pgettext("live session", "Live now")
    PAUSED = "paused", lazy_pgettext("live session", "Paused")
    ENDED = "ended", lazy_pgettext("live session", "Ended")


class StreamKind(Vocabulary):
    """What the stream source URL is."""

    HLS = "hls", _l("HLS stream (.m3u8)")
    VIDEO = "video", _l("Video file")
    EMBED = "embed", _l("Embedded player")


class LiveSettings(db.Model):
    """Live selling settings, one row, edited by staff in the admin panel."""

    __tablename__ = "live_settings"
    __table_args__ = (
        CheckConstraint("auto_end_minutes > 0", name="auto_end_positive"),
        CheckConstraint("reservation_minutes > 0", name="reservation_positive"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # A session ends itself this long after the host console's last heartbeat.
    auto_end_minutes: Mapped[int] = mapped_column(Integer, default=30)
    # The live reservation: how long an unpaid live order holds its units, and the checkout
    # grace during which the live price still holds after the session stops being live.
    reservation_minutes: Mapped[int] = mapped_column(Integer, default=15)
    tips_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Hosts whose players may be embedded (one host name per line), for StreamKind.EMBED.
    embed_hosts: Mapped[str] = mapped_column(String(1000), default="")


class LiveSession(db.Model):
    """A live-selling event hosted by a store and (usually) one of its guides."""

    __tablename__ = "live_sessions"
    __table_args__ = (
        CheckConstraint("status IN ('scheduled', 'live', 'paused', 'ended')", name="status_known"),
        CheckConstraint("stream_kind IN ('hls', 'video', 'embed')", name="stream_kind_known"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    host_id: Mapped[int | None] = mapped_column(ForeignKey("sharers.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    cover: Mapped[str] = mapped_column(String(500), default="")
    stream_kind: Mapped[str] = mapped_column(
        String(16), default=StreamKind.HLS, info={VOCABULARY: StreamKind}
    )
    stream_url: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(
        String(16),
        default=SessionStatus.SCHEDULED,
        index=True,
        info={VOCABULARY: SessionStatus},
    )
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    # What plays after the end ("" : no replay). Orders placed then are replay orders.
    replay_url: Mapped[str] = mapped_column(String(1000), default="")
    # Tips for this session: None follows the shop's setting (``LiveSettings.tips_enabled``).
    tips: Mapped[bool | None] = mapped_column(Boolean)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    store: Mapped[Store] = relationship()
    host: Mapped[Sharer | None] = relationship()
    shelf: Mapped[list[ShelfItem]] = relationship(
        back_populates="session", order_by="ShelfItem.position, ShelfItem.id"
    )

    @property
    def status_label(self) -> str:
        return SessionStatus.label_of(self.status)

    def __str__(self) -> str:
        return self.title


class ShelfItem(db.Model):
    """A product on a session's shelf: its live price, per-customer limit, stock cap, window.

    ``variant_id`` None: every variant of the product at the live price. ``stock_cap`` None:
    only the product's own stock limits it. ``per_customer_limit`` None: no limit.
    ``starts_at`` / ``ends_at`` None: the shelf item follows the session's live time.
    """

    __tablename__ = "live_shelf_items"
    __table_args__ = (
        CheckConstraint("live_price >= 0", name="live_price_not_negative"),
        CheckConstraint("sold >= 0", name="sold_not_negative"),
        CheckConstraint("stock_cap IS NULL OR sold <= stock_cap", name="sold_within_cap"),
        CheckConstraint(
            "per_customer_limit IS NULL OR per_customer_limit > 0", name="limit_positive"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variants.id"), index=True)
    live_price: Mapped[int] = mapped_column(Integer)
    per_customer_limit: Mapped[int | None] = mapped_column(Integer)
    stock_cap: Mapped[int | None] = mapped_column(Integer)
    sold: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    starts_at: Mapped[datetime | None] = mapped_column(DateTime)
    ends_at: Mapped[datetime | None] = mapped_column(DateTime)
    position: Mapped[int] = mapped_column(Integer, default=0)

    session: Mapped[LiveSession] = relationship(back_populates="shelf")
    product: Mapped[Product] = relationship()
    variant: Mapped[Variant | None] = relationship()

    @property
    def units_left(self) -> int | None:
        """Units the session cap still allows (None: no cap)."""
        return None if self.stock_cap is None else max(self.stock_cap - self.sold, 0)

    def __str__(self) -> str:
        return self.product.name if self.product else f"#{self.id}"


class Pin(db.Model):
    """A shelf item pinned by the host, from ``pinned_at`` until ``unpinned_at`` (open: None).

    At most one pin per session is open (a partial unique index), so a report can say what sold
    while each product was pinned.
    """

    __tablename__ = "live_pins"
    __table_args__ = (
        Index(
            "uq_live_pins_one_open_per_session",
            "session_id",
            unique=True,
            postgresql_where=text("unpinned_at IS NULL"),
            sqlite_where=text("unpinned_at IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"), index=True)
    shelf_item_id: Mapped[int] = mapped_column(ForeignKey("live_shelf_items.id"), index=True)
    pinned_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    unpinned_at: Mapped[datetime | None] = mapped_column(DateTime)

    session: Mapped[LiveSession] = relationship()
    shelf_item: Mapped[ShelfItem] = relationship()


class BuyerTally(db.Model):
    """Units of one shelf item one buyer holds (reserved or paid), for the per-customer limit.

    Moved only by a conditional update (``units + n <= limit``), so concurrent orders of one
    buyer cannot pass the limit together.
    """

    __tablename__ = "live_buyer_tallies"
    __table_args__ = (
        UniqueConstraint("shelf_item_id", "customer_id", name="one_per_buyer"),
        CheckConstraint("units >= 0", name="units_not_negative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    shelf_item_id: Mapped[int] = mapped_column(ForeignKey("live_shelf_items.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    units: Mapped[int] = mapped_column(Integer, default=0)


class LiveClaim(db.Model):
    """The units one live order holds of one shelf item, until paid or released.

    ``released_at`` is set once, by a conditional update, when an unpaid order's live
    reservation ends (or the order is cancelled): the units go back to the shelf and to the
    buyer's tally. A payment that arrives for a released claim is refunded.
    """

    __tablename__ = "live_claims"
    __table_args__ = (
        UniqueConstraint("order_id", "shelf_item_id", name="one_per_order_item"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    shelf_item_id: Mapped[int] = mapped_column(ForeignKey("live_shelf_items.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)

    shelf_item: Mapped[ShelfItem] = relationship()


class LiveReminder(db.Model):
    """A customer's "Remind me" for a scheduled session: one per phone number per session
    (asking again changes nothing). ``sent_at`` is set once, by a conditional update, by the
    handler that texts the reminders when the session goes live, so each goes out once."""

    __tablename__ = "live_reminders"
    __table_args__ = (UniqueConstraint("session_id", "phone", name="one_per_phone"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    phone: Mapped[str] = mapped_column(String(32))
    # The language the customer asked in: the reminder is written in it.
    locale: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)


class TipStatus(Vocabulary):
    """Where a live tip stands."""

    PENDING = "pending", _l("Awaiting payment")
    PAID = "paid", _l("Paid")
    REFUNDED = "refunded", lazy_pgettext("tip", "Refunded")


class LiveTip(db.Model):
    """A tip a signed-in customer gives a session's host guide, paid as orders are (Stripe
    Checkout). Never shown publicly with its amount, and never ranked."""

    __tablename__ = "live_tips"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('pending', 'paid', 'refunded')", name="status_known"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"), index=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("sharers.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(
        String(16), default=TipStatus.PENDING, info={VOCABULARY: TipStatus}
    )
    stripe_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_payment_intent: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime)

    session: Mapped[LiveSession] = relationship()
    host: Mapped[Sharer] = relationship()

    @property
    def status_label(self) -> str:
        return TipStatus.label_of(self.status)


class AdultConfirmation(db.Model):
    """A customer confirmed they are an adult, before their first tip (asked once)."""

    __tablename__ = "live_adult_confirmations"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), unique=True)
    confirmed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

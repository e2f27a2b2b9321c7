"""Catalog tables: stores, categories, products, variants, images, stock movements, reviews.

Names and descriptions are kept in both languages of the interface: ``name`` (Chinese) and
``name_en`` (English), and so on; ``shop.i18n.localized`` shows the reader's, falling back
to the other when one is empty.

Money columns are integers in minor units; each row that holds money holds its currency.
"""

from __future__ import annotations

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
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.vocab import VOCABULARY, Vocabulary

if TYPE_CHECKING:
    from shop.customers.models import Customer
    from shop.orders.models import Order


#: the server default of a text column added to a table that has rows
EMPTY = text("''")


class Store(db.Model):
    __tablename__ = "stores"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))  # in Chinese
    name_en: Mapped[str] = mapped_column(String(120), default="", server_default=EMPTY)
    city: Mapped[str] = mapped_column(String(80), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The store an order belongs to when nothing else names one (no pick-up store, no
    # sharer's store): at most one store has it (``shop.catalog.stores.make_default``).
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    def __str__(self) -> str:
        return self.name


class Category(db.Model):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))  # in Chinese
    name_en: Mapped[str] = mapped_column(String(80), default="", server_default=EMPTY)
    description: Mapped[str] = mapped_column(Text, default="", server_default=EMPTY)
    description_en: Mapped[str] = mapped_column(Text, default="", server_default=EMPTY)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    def __str__(self) -> str:
        return self.name


class Product(db.Model):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))  # in Chinese
    name_en: Mapped[str] = mapped_column(String(200), default="", server_default=EMPTY)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), index=True)
    description_html: Mapped[str] = mapped_column(Text, default="")  # in Chinese
    description_html_en: Mapped[str] = mapped_column(Text, default="", server_default=EMPTY)
    points_per_unit: Mapped[int | None] = mapped_column(Integer)  # overrides the earn rule
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    category: Mapped[Category | None] = relationship()
    store: Mapped[Store | None] = relationship()
    variants: Mapped[list[Variant]] = relationship(
        back_populates="product",
        order_by="Variant.position, Variant.id",
        cascade="all, delete-orphan",
    )
    images: Mapped[list[ProductImage]] = relationship(
        back_populates="product",
        order_by="ProductImage.position, ProductImage.id",
        cascade="all, delete-orphan",
    )

    def cheapest_variant(self, now: datetime | None = None) -> Variant | None:
        """The variant a customer pays least for now (the first of equals): what a product
        card and a poster show, as "from" that price when the variants' prices differ."""
        return min(self.variants, key=lambda v: v.current_price(now), default=None)

    def prices_differ(self, now: datetime | None = None) -> bool:
        return len({v.current_price(now) for v in self.variants}) > 1

    def __str__(self) -> str:
        return self.name


class Variant(db.Model):
    """A sellable SKU. ``stock`` is what is left to reserve; it never goes below zero."""

    __tablename__ = "variants"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")  # in Chinese
    name_en: Mapped[str] = mapped_column(String(120), default="", server_default=EMPTY)
    price: Mapped[int] = mapped_column(Integer)
    compare_at_price: Mapped[int | None] = mapped_column(Integer)
    sale_price: Mapped[int | None] = mapped_column(Integer)
    sale_starts_at: Mapped[datetime | None] = mapped_column(DateTime)
    sale_ends_at: Mapped[datetime | None] = mapped_column(DateTime)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)

    product: Mapped[Product] = relationship(back_populates="variants")

    def sale_active(self, now: datetime | None = None) -> bool:
        if self.sale_price is None or self.sale_starts_at is None or self.sale_ends_at is None:
            return False
        now = now or utcnow()
        return self.sale_starts_at <= now < self.sale_ends_at

    def current_price(self, now: datetime | None = None) -> int:
        """The price a customer pays right now: the limited-time price while it runs."""
        return self.sale_price if self.sale_active(now) else self.price

    def __str__(self) -> str:
        label = f"{self.product.name} {self.name}".strip() if self.product else self.name
        return f"{label} ({self.sku})"


class ProductImage(db.Model):
    __tablename__ = "product_images"
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(Integer, default=0)

    product: Mapped[Product] = relationship(back_populates="images")

    def __str__(self) -> str:
        return self.filename


class StockReason(Vocabulary):
    """Why a variant's stock changed."""

    INITIAL = "initial", _l("Initial stock")
    ADJUST = "adjust", _l("Stock adjustment")
    RESERVE = "reserve", _l("Reserved")
    RELEASE = "release", _l("Released")
    RESTOCK = "restock", _l("Restocked")


class ReviewStatus(Vocabulary):
    PENDING = "pending", _l("Pending")
    APPROVED = "approved", _l("Approved")
    REJECTED = "rejected", _l("Rejected")


class StockMovement(db.Model):
    """Append-only: every change of a variant's stock. ``sum(delta) == variant.stock``."""

    __tablename__ = "stock_movements"
    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id"), index=True)
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(24), info={VOCABULARY: StockReason})
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    variant: Mapped[Variant] = relationship()
    order: Mapped[Order | None] = relationship(viewonly=True)  # whose store it is, for staff


class Review(db.Model):
    __tablename__ = "reviews"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    rating: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text, default="")
    author_name: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(
        String(16), default=ReviewStatus.PENDING, index=True, info={VOCABULARY: ReviewStatus}
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    product: Mapped[Product] = relationship()
    customer: Mapped[Customer] = relationship()

"""Catalog reads for the storefront: listings, search, a product page's data, recent buyers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from shop.catalog.models import (
    Category,
    Product,
    ProductImage,
    Review,
    ReviewStatus,
    Store,
    Variant,
)
from shop.catalog.places import City, known_city
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.orders.models import Fulfilment, Order, OrderLine, OrderStatus

PAID_STATES = (
    OrderStatus.PAID,
    OrderStatus.FULFILLED,
    OrderStatus.PICKED_UP,
    OrderStatus.COMPLETED,
)
#: states of an order whose units were sold (a refunded order's lines say how many came back)
SOLD_STATES = (*PAID_STATES, OrderStatus.REFUNDED)
PAGE_SIZE = 24


def _listing():
    return (
        select(Product)
        .where(Product.active.is_(True))
        .options(selectinload(Product.variants), selectinload(Product.images))
        .order_by(Product.created_at.desc(), Product.id.desc())
    )


def categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.position, Category.name)))


def active_stores() -> list[Store]:
    """The stores a customer can pick up from, by name."""
    return list(
        db.session.scalars(select(Store).where(Store.active.is_(True)).order_by(Store.name))
    )


def latest_products(limit: int = PAGE_SIZE) -> list[Product]:
    return list(db.session.scalars(_listing().limit(limit)))


def category_products(category: Category, limit: int = PAGE_SIZE) -> list[Product]:
    return list(
        db.session.scalars(_listing().where(Product.category_id == category.id).limit(limit))
    )


def search(text: str, limit: int = PAGE_SIZE) -> list[Product]:
    """Products whose name or category name, in either language, contains the text ("茶"
    and "tea" find the same teas); descriptions hold HTML, whose tags would match nearly any
    short query."""
    text = (text or "").strip()[:100]
    if not text:
        return []
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return list(
        db.session.scalars(
            _listing()
            .where(
                or_(
                    Product.name.ilike(pattern, escape="\\"),
                    Product.name_en.ilike(pattern, escape="\\"),
                    Product.category.has(
                        or_(
                            Category.name.ilike(pattern, escape="\\"),
                            Category.name_en.ilike(pattern, escape="\\"),
                        )
                    ),
                )
            )
            .limit(limit)
        )
    )


def cover_images(variant_ids: list[int]) -> dict[int, str]:
    """Each variant's product's first image (its file name), by variant id, in one query."""
    if not variant_ids:
        return {}
    rows = db.session.execute(
        select(Variant.id, ProductImage.filename)
        .join(ProductImage, ProductImage.product_id == Variant.product_id)
        .where(Variant.id.in_(variant_ids))
        .order_by(ProductImage.position.desc(), ProductImage.id.desc())
    )
    return dict(rows.all())  # the last row per variant wins: its product's first image


def product_by_slug(slug: str) -> Product | None:
    return db.session.scalar(
        select(Product)
        .where(Product.slug == slug, Product.active.is_(True))
        .options(
            selectinload(Product.variants),
            selectinload(Product.images),
            selectinload(Product.category),
        )
    )


def next_price_change(product: Product, now: datetime) -> datetime | None:
    """When a limited-time price of the product starts or ends next (None: none will)."""
    moments = [
        moment
        for variant in product.variants
        if variant.sale_price is not None
        and variant.sale_starts_at is not None
        and variant.sale_ends_at is not None
        for moment in (variant.sale_starts_at, variant.sale_ends_at)
        if moment > now
    ]
    return min(moments, default=None)


def product_slug_of(variant_id: int) -> str | None:
    """The slug of the active product a variant belongs to (None: no such variant on sale)."""
    return db.session.scalar(
        select(Product.slug)
        .join(Variant, Variant.product_id == Product.id)
        .where(Variant.id == variant_id, Product.active.is_(True))
    )


def sales_count(product_id: int) -> int:
    """Units of the product sold: on paid orders (and those fulfilled or picked up since),
    net of units refunded. Unpaid and cancelled orders never count."""
    sold = db.session.scalar(
        select(func.sum(OrderLine.quantity - OrderLine.refunded_quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(OrderLine.product_id == product_id, Order.status.in_(SOLD_STATES))
    )
    return int(sold or 0)


@dataclass
class RatingSummary:
    count: int
    average: float | None


def approved_reviews(product_id: int, limit: int = 10) -> tuple[list[Review], RatingSummary]:
    reviews = list(
        db.session.scalars(
            select(Review)
            .where(Review.product_id == product_id, Review.status == ReviewStatus.APPROVED)
            .order_by(Review.created_at.desc())
            .limit(limit)
        )
    )
    count, average = db.session.execute(
        select(func.count(Review.id), func.avg(Review.rating)).where(
            Review.product_id == product_id, Review.status == ReviewStatus.APPROVED
        )
    ).one()
    return reviews, RatingSummary(count, round(float(average), 1) if average else None)


@dataclass
class RecentPurchase:
    place: City
    paid_at: datetime

    @property
    def city(self) -> str:
        """The place's name in the reader's language."""
        return self.place.name()


def recent_purchases(product_id: int, days: int = 14, limit: int = 3) -> list[RecentPurchase]:
    """Real recent paid orders of a product: only a known place and the time, never who.

    The place is the pick-up store's city, or a delivery's city when it is a known one
    (``places.known_city``); never what a buyer typed. An order with no known place is left
    out."""
    rows = db.session.execute(
        select(Order.fulfilment, Order.city, Store.city, Order.paid_at)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .outerjoin(Store, Store.id == Order.store_id)
        .where(
            OrderLine.product_id == product_id,
            Order.status.in_(PAID_STATES),
            Order.paid_at >= utcnow() - timedelta(days=days),
        )
        .order_by(Order.paid_at.desc())
        .limit(limit * 10)
    ).all()
    found = []
    for fulfilment, typed_city, store_city, paid_at in rows:
        place = known_city(store_city if fulfilment == Fulfilment.PICKUP else typed_city)
        if place is not None:
            found.append(RecentPurchase(place, paid_at))
    return found[:limit]

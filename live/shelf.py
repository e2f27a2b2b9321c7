"""The shelf: what a session sells at live prices, and the rules every shelf item keeps.

One set of rules for whoever fills the shelf (the host guide from the console on a phone,
staff in the admin): a live price above zero, a per-customer limit of at least one, a session
stock cap within the product's stock (and never below the units orders already hold), a
window that closes after it opens and lies inside the session, one line per product (or
variant) per session, a product of the session's store (or of the whole chain) that is on
sale. A refusal is an ``InvalidInput`` with its reason, raised before anything is written.

Services here do not commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from live.models import LiveSession, SessionStatus, ShelfItem
from shop.catalog.models import Product, Variant
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra.clock import utcnow

MAX_LIVE_PRICE = 2_000_000_000
MAX_LIMIT = 999


class ShelfRefused(InvalidInput):
    code = "live_shelf_refused"


def stock_of(product: Product, variant: Variant | None) -> int:
    """Units the product (or the one variant) has in stock now."""
    variants = [variant] if variant is not None else list(product.variants)
    return sum(max(v.stock or 0, 0) for v in variants)


def session_opens(session: LiveSession) -> datetime:
    """When the session starts (went live, else scheduled, else made), to the minute: a
    window typed to the minute may open in the minute the session was made."""
    opens = session.started_at or session.scheduled_at or session.created_at or utcnow()
    return opens.replace(second=0, microsecond=0)


def offerable(session: LiveSession):
    """Products the session may sell: on sale, of its store or of the whole chain, by name."""
    return db.session.scalars(
        select(Product)
        .where(
            Product.active.is_(True),
            or_(Product.store_id.is_(None), Product.store_id == session.store_id),
        )
        .order_by(Product.name)
    ).all()


def check_item(item: ShelfItem, session: LiveSession, *, new: bool, now: datetime | None = None):
    """Raise ``ShelfRefused`` with the first rule ``item`` breaks; changes nothing (nothing
    is flushed while checking, so a broken row never reaches the database)."""
    with db.session.no_autoflush:
        _check_item(item, session, new=new, now=now or utcnow())


def _check_item(item: ShelfItem, session: LiveSession, *, new: bool, now: datetime) -> None:
    product = item.product or (
        db.session.get(Product, item.product_id) if item.product_id else None
    )
    if product is None:
        raise ShelfRefused(_("Choose a product for the shelf."))
    variant = item.variant
    if variant is None and item.variant_id is not None:
        variant = db.session.get(Variant, item.variant_id)
    if new and session.status == SessionStatus.ENDED:
        raise ShelfRefused(_("This live session has ended."))
    if new and (not product.active or product.store_id not in (None, session.store_id)):
        raise ShelfRefused(_("This product cannot be sold in this session."))
    if variant is not None and variant.product_id != product.id:
        raise ShelfRefused(_("The variant must be one of the product's."))
    if item.live_price is None or item.live_price <= 0:
        raise ShelfRefused(_("The live price must be more than zero."))
    if item.live_price > MAX_LIVE_PRICE:
        raise ShelfRefused(_("The amount is too large."))
    if item.per_customer_limit is not None and not 1 <= item.per_customer_limit <= MAX_LIMIT:
        raise ShelfRefused(_("The per-customer limit is between 1 and 999 (empty: no limit)."))
    if item.stock_cap is not None:
        stock = stock_of(product, variant)
        if item.stock_cap < 1:
            raise ShelfRefused(_("The session stock cap is at least 1 (empty: no cap)."))
        if item.stock_cap < (item.sold or 0):
            raise ShelfRefused(_("The cap cannot be below the units orders already hold."))
        if item.stock_cap - (item.sold or 0) > stock:
            raise ShelfRefused(
                _("The session stock cap is more than the %(stock)s in stock.", stock=stock)
            )
    _check_window(item, session, new=new, now=now)
    _check_unique(item)


def _check_window(item: ShelfItem, session: LiveSession, *, new: bool, now: datetime) -> None:
    starts, ends = item.starts_at, item.ends_at
    if starts is not None and ends is not None and ends <= starts:
        raise ShelfRefused(_("The live price must end after it starts."))
    opens = session_opens(session)
    if starts is not None and starts < opens:
        raise ShelfRefused(_("The live price cannot start before the session does."))
    if ends is not None and ends <= opens:
        raise ShelfRefused(_("The live price must end after the session starts."))
    if session.ended_at is not None and starts is not None and starts > session.ended_at:
        raise ShelfRefused(_("The live price cannot start after the session ended."))
    if new and ends is not None and ends <= now - timedelta(minutes=1):
        raise ShelfRefused(_("The live price would already have ended."))


def _check_unique(item: ShelfItem) -> None:
    same = select(func.count(ShelfItem.id)).where(
        ShelfItem.session_id == item.session_id,
        ShelfItem.product_id == item.product_id,
        ShelfItem.variant_id.is_(None)
        if item.variant_id is None
        else ShelfItem.variant_id == item.variant_id,
    )
    if item.id is not None:
        same = same.where(ShelfItem.id != item.id)
    if db.session.scalar(same):
        raise ShelfRefused(_("This product is already on the shelf."))


def add_to_shelf(
    session: LiveSession,
    *,
    product_id: int | None,
    live_price: int | None,
    variant_id: int | None = None,
    per_customer_limit: int | None = None,
    stock_cap: int | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    now: datetime | None = None,
) -> ShelfItem:
    """Put a product on the session's shelf (last in line) once ``check_item`` allows it.
    Flushed; does not commit."""
    product = db.session.get(Product, product_id) if product_id else None
    if product is None:
        raise ShelfRefused(_("Choose a product for the shelf."))
    variant = db.session.get(Variant, variant_id) if variant_id else None
    position = db.session.scalar(
        select(func.coalesce(func.max(ShelfItem.position), 0)).where(
            ShelfItem.session_id == session.id
        )
    )
    item = ShelfItem(
        session_id=session.id,
        product_id=product.id,
        variant_id=variant.id if variant is not None else None,
        live_price=live_price,
        per_customer_limit=per_customer_limit,
        stock_cap=stock_cap,
        starts_at=starts_at,
        ends_at=ends_at,
        position=(position or 0) + 1,
        sold=0,
    )
    item.product, item.variant = product, variant
    check_item(item, session, new=True, now=now)
    db.session.add(item)
    db.session.flush()
    return item

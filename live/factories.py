"""Factories for live sessions and their shelves, shared by the demo data and the tests."""

from __future__ import annotations

from datetime import datetime

from distribution.models import Sharer
from live import services
from live.models import LiveSession, ShelfItem
from shop.catalog.models import Product
from shop.extensions import db


def make_session(
    store,
    title: str = "Spring tea live",
    host: Sharer | None = None,
    *,
    on_air: bool = False,
    scheduled_at: datetime | None = None,
    stream_url: str = "",
) -> LiveSession:
    """A session of ``store`` (``on_air``: its host console has sent a heartbeat). Flushed."""
    session = services.schedule(
        store_id=store.id,
        title=title,
        host=host,
        scheduled_at=scheduled_at,
        stream_url=stream_url,
    )
    if on_air:
        services.heartbeat(session.id)
        db.session.expire(session)
    return session


def shelve(
    session: LiveSession,
    product: Product,
    live_price: int,
    *,
    cap: int | None = None,
    limit: int | None = None,
    variant=None,
    position: int = 0,
) -> ShelfItem:
    """Put a product on a session's shelf at a live price. Flushed."""
    item = ShelfItem(
        session_id=session.id,
        product_id=product.id,
        variant_id=getattr(variant, "id", None),
        live_price=live_price,
        stock_cap=cap,
        per_customer_limit=limit,
        position=position,
    )
    db.session.add(item)
    db.session.flush()
    return item

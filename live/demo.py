"""Demo live selling: a session of the first store hosted by its first guide, on its shelf a
flash sale (40 units, at most 2 per customer) and a second product (their first variant,
when they have several); a second session scheduled
for tomorrow. The first is on air as of the demo load (it ends itself after the silence)."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from distribution.models import Sharer, SharerKind
from live.factories import make_session, shelve
from live.models import LiveSession
from shop.catalog.models import Product
from shop.extensions import db
from shop.infra.clock import utcnow


def _lines() -> list[str]:
    base = current_app.config["PUBLIC_BASE_URL"]
    return [f"Live: {base}/guide/live (guides start a session in one tap)"]


def load_demo() -> list[str]:
    """Idempotent: does nothing when a session exists."""
    if db.session.scalar(select(LiveSession.id).limit(1)) is not None:
        return _lines()
    host = db.session.scalar(
        select(Sharer).where(Sharer.kind == SharerKind.GUIDE).order_by(Sharer.id).limit(1)
    )
    if host is None or host.store is None:
        return []
    products = db.session.scalars(
        select(Product).where(Product.store_id == host.store_id).order_by(Product.id).limit(2)
    ).all()
    if not products:
        return []
    session = make_session(host.store, "春茶上新", host, on_air=True)
    flash = products[0]
    shelve(
        session,
        flash,
        max(flash.variants[0].price * 6 // 10, 100),
        cap=40,
        limit=2,
        variant=_first_of_several(flash),
    )
    for product in products[1:]:
        shelve(
            session,
            product,
            product.variants[0].price * 8 // 10,
            position=1,
            variant=_first_of_several(product),
        )
    make_session(
        host.store,
        "周末茶具专场",
        host,
        scheduled_at=utcnow() + timedelta(hours=20),
    )
    db.session.commit()
    return _lines()


def _first_of_several(product: Product):
    """The variant a live price is for: the first of several (a single cup, not the pair at
    the single cup's price); None, the whole product, when it has one."""
    return product.variants[0] if len(product.variants) > 1 else None

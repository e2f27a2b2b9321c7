"""Which store an order belongs to, and which store a customer is offered for pick-up.

Every order belongs to a store: the pick-up store, else the store of the sharer who brought
the customer, else the shop's default store. The sharer is distribution's to know: the core
asks the store finders registered on the app (``shop.hooks.sharer_store``), so it imports
nothing of distribution.
"""

from __future__ import annotations

from sqlalchemy import select, update

from shop.catalog.models import Store
from shop.extensions import db
from shop.hooks import sharer_store


def default_store_id() -> int | None:
    """The store that owns orders nothing else places: the one staff marked as default,
    else the oldest active store (so no order is left without one while none is marked)."""
    marked = db.session.scalar(
        select(Store.id).where(Store.is_default.is_(True), Store.active.is_(True)).limit(1)
    )
    if marked is not None:
        return marked
    return db.session.scalar(select(Store.id).where(Store.active.is_(True)).order_by(Store.id))


def make_default(store_id: int) -> None:
    """Mark this store as the default one and unmark every other. Does not commit."""
    db.session.execute(
        update(Store)
        .where(Store.id != store_id, Store.is_default.is_(True))
        .values(is_default=False)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Store)
        .where(Store.id == store_id)
        .values(is_default=True)
        .execution_options(synchronize_session=False)
    )


def brought_by_store_id(attribution: dict, customer_id: int | None) -> int | None:
    """The active store of whoever brought this visitor or customer (a guide's share link),
    or None."""
    store_id = sharer_store({**attribution, "customer_id": customer_id})
    if store_id is None:
        return None
    active = db.session.scalar(select(Store.active).where(Store.id == store_id))
    return store_id if active else None


def order_store_id(pickup_store_id: int | None, attribution: dict, customer_id: int | None):
    """The store a new order belongs to: the pick-up store, else the sharer's, else the
    default one."""
    return pickup_store_id or brought_by_store_id(attribution, customer_id) or default_store_id()

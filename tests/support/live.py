"""Live selling helpers: a session on air with one product on its shelf, a viewer's browser."""

from __future__ import annotations

from distribution.factories import make_guide
from live.attribution_session import remember_session
from live.factories import make_session, shelve
from shop.extensions import db
from tests.support.shop import small_catalog


def on_air(stock_qty: int = 1000, price: int = 9900, live_price: int = 5900, cap=40, limit=2):
    """A store, its guide hosting a live session on air, Green Tea on its shelf. Committed.
    Returns ids: (store_id, variant_id, guide_id, session_id, shelf_item_id)."""
    store, _, product = small_catalog(stock_qty=stock_qty, price=price)
    guide = make_guide(store, "Li Na")
    session = make_session(store, host=guide, on_air=True)
    item = shelve(session, product, live_price, cap=cap, limit=limit)
    db.session.commit()
    return store.id, product.variants[0].id, guide.id, session.id, item.id


def watching(client, session_id: int) -> None:
    """The browser of ``client`` is in the session's room."""
    with client.session_transaction() as session:
        remember_session(session, session_id)

"""A live session with a shelf, hosted by a guide: what the live-room tests start from."""

from __future__ import annotations

from dataclasses import dataclass

from distribution.factories import make_guide
from live.models import LiveSession, ShelfItem, StreamKind
from shop.demo.factories import make_product
from shop.extensions import db
from tests.support.shop import small_catalog

HOST_EMAIL = "wang.fang@guides.test"
HOST_PASSWORD = "guide-password-1"


@dataclass
class Room:
    session_id: int
    items: list[int]
    store_id: int


def make_room(status: str = "scheduled", stock_cap: int | None = 40) -> Room:
    """A session of a store hosted by its guide (``HOST_EMAIL``), two products on its shelf.
    Commits."""
    store, category, tea = small_catalog(stock_qty=100)
    oolong = make_product("Oolong", price=5900, stock_qty=50, category=category, store=store)
    guide = make_guide(store, "Wang Fang", email=HOST_EMAIL, password=HOST_PASSWORD)
    session = LiveSession(
        store_id=store.id,
        host_id=guide.id,
        title="Spring tea live",
        stream_kind=StreamKind.HLS,
        stream_url="https://video.example/live/stream.m3u8",
        status=status,
    )
    db.session.add(session)
    db.session.flush()
    items = [
        ShelfItem(
            session_id=session.id,
            product_id=tea.id,
            live_price=6900,
            stock_cap=stock_cap,
            per_customer_limit=2,
            position=1,
        ),
        ShelfItem(session_id=session.id, product_id=oolong.id, live_price=3900, position=2),
    ]
    db.session.add_all(items)
    db.session.commit()
    return Room(session.id, [i.id for i in items], store.id)


def sign_in_host(client) -> None:
    response = client.post("/guide/login", data={"email": HOST_EMAIL, "password": HOST_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)

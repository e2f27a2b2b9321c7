"""The live room's jobs: outbox handlers that tell a room what happened to its orders.

A handler here only publishes (it writes nothing), so running it twice shows a line twice at
worst; it never counts anything.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from live import services
from live.broker import broker
from live.room import pin_event, status_event, units_left
from shop.catalog.models import Store
from shop.extensions import db
from shop.orders.models import Order
from shop.orders.topics import OrderTopic


def init_app(app) -> None:
    from live.services import LiveTopic
    from shop.hooks import register_handler

    register_handler(app, LiveTopic.STATUS, "live.room_jobs.announce_status")
    register_handler(app, LiveTopic.PINNED, "live.room_jobs.announce_pin")
    register_handler(app, LiveTopic.UNPINNED, "live.room_jobs.announce_pin")
    register_handler(app, LiveTopic.UNITS, "live.room_jobs.announce_units")
    register_handler(app, OrderTopic.PAID, "live.room_jobs.announce_purchase")


def _publish(session_id: int, kind: str, data: dict) -> None:
    """Publish the latest state of ``kind``: once, whichever path announced it first."""
    db.session.rollback()  # read only: end the read before publishing
    broker(current_app._get_current_object()).publish(session_id, kind, data, state=True)


def announce_status(session_id: int, *_change) -> None:
    """The session started, paused, resumed or ended: its status as it is now."""
    from live.models import LiveSession

    session = db.session.get(LiveSession, session_id)
    if session is not None:
        _publish(session_id, "status", status_event(session))


def announce_pin(session_id: int, pin_id: int | None = None) -> None:
    """A pin or unpin: what is pinned now (so events delivered late or twice still show the
    latest state)."""
    from live.models import LiveSession

    session = db.session.get(LiveSession, session_id)
    if session is not None:
        _publish(session_id, "pin", pin_event(session))


def announce_units(session_id: int, shelf_item_id: int, *_more) -> None:
    """An order took (or gave back) units: the shelf item's units left now."""
    from live.models import ShelfItem

    item = db.session.get(ShelfItem, shelf_item_id)
    if item is not None and item.session_id == session_id:
        _publish(session_id, "stock", {"item": item.id, "units_left": units_left(item)})


def known_city(city: str) -> str:
    """The order's city if it is one of the shop's store cities, else "": the room names a
    city the shop knows, never text a customer typed."""
    wanted = (city or "").strip().lower()
    if not wanted:
        return ""
    for known in db.session.scalars(select(Store.city).where(Store.active.is_(True))):
        if known and known.strip().lower() == wanted:
            return known.strip()
    return ""


def announce_purchase(order_id: int) -> None:
    """A paid live order: "someone (in <city>) just bought <product>" and the units left of
    each of its shelf items, to the session's room. Unpaid orders are never announced."""
    from live.models import ShelfItem

    order = db.session.get(Order, order_id)
    if order is None or not order.live_session_id:
        return
    session_id = order.live_session_id
    city = known_city(order.city)
    shelf = {
        item.product_id: item
        for item in db.session.scalars(select(ShelfItem).where(ShelfItem.session_id == session_id))
    }
    grace = services.settings().reservation_minutes  # read once for every line
    events = []
    for line in order.lines:
        item = shelf.get(line.product_id)
        if item is None:
            continue
        events.append(
            {
                "item": item.id,
                "product": line.product_name,
                "city": city,
                "units_left": units_left(item, grace_minutes=grace),
            }
        )
    db.session.rollback()
    b = broker(current_app._get_current_object())
    for data in events:
        b.publish(session_id, "bought", data)

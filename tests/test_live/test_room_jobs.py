"""What the room hears of orders: "someone in <city> just bought" (a store's city, never text a
customer typed; paid orders only) and the units left."""

from __future__ import annotations

from live.broker import broker
from live.models import ShelfItem
from live.room_jobs import announce_purchase, announce_units
from shop.catalog.models import Product
from shop.extensions import db
from tests.support.live_room import make_room
from tests.support.shop import order_for


def _events(app, session_id):
    return [(e.kind, e.data) for e in broker(app).since(session_id, 0)]


def _live_order(room, **details):
    item = db.session.get(ShelfItem, room.items[0])
    product = db.session.get(Product, item.product_id)
    order = order_for(product.variants[0], item.session.store, 2, **details)
    order.live_session_id = room.session_id
    db.session.commit()
    return order


def test_a_paid_live_order_is_announced_with_a_known_city_only(ctx):
    room = make_room(status="live")
    order = _live_order(room, fulfilment="delivery", city="hangzhou", address="1 Lake Rd")
    announce_purchase(order.id)
    typed = _live_order(room, fulfilment="delivery", city="My secret <b>village</b>", address="x")
    announce_purchase(typed.id)
    bought = [d for kind, d in _events(ctx, room.session_id) if kind == "bought"]
    assert [(b["product"], b["city"]) for b in bought] == [
        ("Green Tea", "Hangzhou"),  # the store's spelling of a city the shop knows
        ("Green Tea", ""),  # not a store city: no city at all
    ]
    assert all(set(b) == {"item", "product", "city", "units_left"} for b in bought)


def test_an_order_outside_a_session_is_not_announced(ctx):
    room = make_room(status="live")
    item = db.session.get(ShelfItem, room.items[0])
    order = order_for(item.product.variants[0], item.session.store, 1)
    announce_purchase(order.id)
    assert not [k for k, _ in _events(ctx, room.session_id) if k == "bought"]


def test_units_left_are_announced_once_per_change(ctx):
    room = make_room(status="live", stock_cap=40)
    announce_units(room.session_id, room.items[0])
    announce_units(room.session_id, room.items[0])  # delivered twice: shown once
    item = db.session.get(ShelfItem, room.items[0])
    item.sold = 3
    db.session.commit()
    announce_units(room.session_id, room.items[0])
    stock = [d for kind, d in _events(ctx, room.session_id) if kind == "stock"]
    assert stock == [
        {"item": room.items[0], "units_left": 40},
        {"item": room.items[0], "units_left": 37},
    ]

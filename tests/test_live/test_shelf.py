"""Filling the shelf: one set of rules (``live.shelf``) for the host console and the admin; a
refusal says why and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from live import shelf
from live.broker import broker
from live.models import LiveSession, ShelfItem
from shop.catalog.models import Product, Store
from shop.demo.factories import make_product, make_store
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra.clock import utcnow
from tests.support.live_room import make_room, sign_in_host


@pytest.fixture
def room(app):
    with app.app_context():
        made = make_room(status="live")
        store = db.session.get(Store, made.store_id)
        jasmine = make_product("Jasmine", price=4800, stock_qty=30, store=store)
        elsewhere = make_product(
            "Far Tea", price=4800, stock_qty=30, store=make_store("B", "Xi'an")
        )
        db.session.commit()
        made.jasmine, made.elsewhere = jasmine.id, elsewhere.id
        return made


def _items(app, session_id):
    with app.app_context():
        return db.session.scalar(
            select(func.count(ShelfItem.id)).where(ShelfItem.session_id == session_id)
        )


def _add(ctx, room, **fields):
    session = db.session.get(LiveSession, room.session_id)
    return shelf.add_to_shelf(session, **{"product_id": room.jasmine, "live_price": 3900, **fields})


def test_the_host_puts_a_product_on_the_shelf_from_the_console(client, room, app):
    sign_in_host(client)
    page = client.get(f"/live/{room.session_id}/host").get_data(as_text=True)
    assert "Add a product to the shelf" in page and "Jasmine" in page and "Far Tea" not in page
    answer = client.post(
        f"/live/{room.session_id}/host/shelve",
        data={
            "product": str(room.jasmine),
            "live_price": "39.00",
            "per_customer_limit": "2",
            "stock_cap": "20",
        },
    ).get_json()
    assert answer["ok"] is True, answer
    assert answer["message"] == "On the shelf: Jasmine"
    assert answer["item"]["live_price"] == "¥39.00" and answer["item"]["units_left"] == 20
    with app.app_context():
        item = db.session.get(ShelfItem, answer["item"]["item"])
        assert (item.live_price, item.per_customer_limit, item.stock_cap) == (3900, 2, 20)
        assert item.position == 3  # after the two already there
    shelved = [e.data for e in broker(app).since(room.session_id, 0) if e.kind == "shelf"]
    assert shelved[-1]["added"]["name"] == "Jasmine"

    pinned = client.post(f"/live/{room.session_id}/host/pin", data={"item": item.id})
    assert pinned.get_json()["message"] == "Pinned: Jasmine"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"live_price": "0"}, "The live price must be more than zero."),
        ({"live_price": "abc"}, "Live price: Enter an amount such as 12.50."),
        ({"per_customer_limit": "0"}, "The per-customer limit is between 1 and 999"),
        ({"stock_cap": "31"}, "The session stock cap is more than the 30 in stock."),
        ({"stock_cap": "0"}, "The session stock cap is at least 1"),
        ({"product": ""}, "Choose a product for the shelf."),
        ({"product": "elsewhere"}, "This product cannot be sold in this session."),
        ({"product": "tea"}, "This product is already on the shelf."),
        (
            {"starts_at": "2030-01-02T10:00", "ends_at": "2030-01-02T09:00"},
            "The live price must end after it starts.",
        ),
        ({"starts_at": "2020-01-01T10:00"}, "The live price cannot start before the session"),
    ],
)
def test_bad_shelf_input_is_refused_with_its_reason_and_changes_nothing(
    client, room, app, fields, message
):
    sign_in_host(client)
    before = _items(app, room.session_id)
    product = {"elsewhere": room.elsewhere, "tea": None, "": ""}.get(fields.get("product"), 0)
    if fields.get("product") == "tea":
        with app.app_context():
            product = db.session.get(ShelfItem, room.items[0]).product_id
    data = {
        "live_price": "39.00",
        **fields,
        "product": str(room.jasmine if product == 0 else product),
    }
    answer = client.post(f"/live/{room.session_id}/host/shelve", data=data)
    assert answer.status_code == 400
    assert message in answer.get_json()["error"]
    assert _items(app, room.session_id) == before
    assert not [e for e in broker(app).since(room.session_id, 0) if e.kind == "shelf"]


def test_the_refusal_is_in_chinese_for_a_chinese_host(client, room):
    sign_in_host(client)
    answer = client.post(
        f"/live/{room.session_id}/host/shelve",
        data={"product": str(room.jasmine), "live_price": "0"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert answer.get_json()["error"] == "直播价必须大于零。"


def test_a_window_inside_the_session_and_an_ended_session(ctx, room):
    now = utcnow()
    item = _add(ctx, room, starts_at=now, ends_at=now + timedelta(hours=1))
    assert item.id is not None
    session = db.session.get(LiveSession, room.session_id)
    session.status, session.ended_at = "ended", now
    db.session.flush()
    with pytest.raises(InvalidInput, match="has ended"):
        _add(ctx, room, product_id=room.elsewhere)


def test_only_guides_of_the_session_may_shelve(client, room, app):
    stranger = client.post(
        f"/live/{room.session_id}/host/shelve",
        data={"product": str(room.jasmine), "live_price": "39.00"},
    )
    assert stranger.status_code in (302, 403, 404)
    assert _items(app, room.session_id) == 2


def test_the_admin_shelf_form_keeps_the_same_rules(ctx, room):
    """The admin's ShelfItemView calls ``check_item`` on the row it is about to save."""
    item = db.session.get(ShelfItem, room.items[0])
    item.live_price = 0
    with pytest.raises(InvalidInput, match="more than zero"):
        shelf.check_item(item, item.session, new=False)
    db.session.rollback()
    product = db.session.get(Product, room.jasmine)
    assert shelf.stock_of(product, None) == 30

"""Order pages: the token link opens for anyone holding it; by number only for its browser."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from shop.extensions import db
from shop.orders.models import Order
from tests.support.shop import PICKUP_PHONE, checkout_form, small_catalog


@pytest.fixture
def shop(ctx):
    store, _, product = small_catalog(stock_qty=10)
    return store.id, product.variants[0].id


def _buy(client, shop, **overrides) -> Order:
    store_id, variant_id = shop
    response = client.post("/checkout", data=checkout_form(variant_id, store_id, **overrides))
    assert response.status_code == 303
    token = response.headers["Location"].rsplit("/", 1)[1]
    return db.session.scalar(select(Order).where(Order.token == token))


def test_token_link_opens_for_anyone_who_holds_it(app, shop):
    order = _buy(app.test_client(), shop)

    page = app.test_client().get(f"/o/{order.token}")

    assert page.status_code == 200
    text = html.unescape(page.get_data(as_text=True))
    assert order.number in text
    assert "138****1234" in text and PICKUP_PHONE not in text
    assert app.test_client().get(f"/o/{order.token[:-1]}").status_code == 404


def test_order_number_opens_only_in_the_browser_that_placed_it(app, shop):
    buyer, stranger = app.test_client(), app.test_client()
    order = _buy(buyer, shop)

    mine = buyer.get(f"/orders/{order.id}")
    assert mine.status_code == 302 and mine.headers["Location"] == f"/o/{order.token}"
    assert stranger.get(f"/orders/{order.id}").status_code == 404
    assert order.token not in stranger.get(f"/orders/{order.id}").get_data(as_text=True)


def test_my_orders_lists_only_this_browsers_orders(app, shop):
    buyer, other = app.test_client(), app.test_client()
    first = _buy(buyer, shop)
    second = _buy(buyer, shop)
    theirs = _buy(other, shop, phone="13900001111")

    listing = buyer.get("/orders").get_data(as_text=True)
    assert first.token in listing and second.token in listing
    assert theirs.token not in listing and theirs.number not in listing

    fresh = app.test_client().get("/orders").get_data(as_text=True)
    assert "No orders from this browser yet." in fresh
    assert first.token not in fresh and theirs.token not in fresh


def test_returning_customer_finds_the_form_filled_in(app, shop):
    store_id, variant_id = shop
    buyer = app.test_client()
    _buy(buyer, shop, name="Han Meimei", phone="139 0000 2222", note="ring twice")

    page = buyer.get(f"/checkout?variant={variant_id}").get_data(as_text=True)

    assert 'value="13900002222"' in page
    assert 'value="Han Meimei"' in page
    assert f'<option value="{store_id}" selected>' in page
    assert "ring twice" not in page  # a note belongs to one order
    stranger_page = app.test_client().get(f"/checkout?variant={variant_id}").get_data(as_text=True)
    assert "13900002222" not in stranger_page and "Han Meimei" not in stranger_page


def test_someone_elses_phone_number_grants_nothing(app, shop):
    victim, intruder = app.test_client(), app.test_client()
    victims_order = _buy(victim, shop, name="Han Meimei", phone="13900003333")

    intruders_order = _buy(intruder, shop, name="Mallory", phone="13900003333")

    assert intruders_order.customer_id == victims_order.customer_id  # one customer per phone
    listing = intruder.get("/orders").get_data(as_text=True)
    assert intruders_order.token in listing
    assert victims_order.token not in listing and victims_order.number not in listing
    assert intruder.get(f"/orders/{victims_order.id}").status_code == 404
    prefilled = intruder.get(f"/checkout?variant={shop[1]}").get_data(as_text=True)
    assert "Han Meimei" not in prefilled


def test_my_orders_say_what_was_refunded_of_a_partly_refunded_order(app, shop):
    from shop.infra.unit_of_work import unit_of_work
    from shop.orders import services as orders
    from tests.support.shop import make_owner

    buyer = app.test_client()
    order = _buy(buyer, shop, qty="2")
    owner = make_owner()
    with unit_of_work():
        orders.mark_paid_at_store(order.id, owner)
    with unit_of_work():
        line = order.lines[0]
        orders.refund(order.id, {line.id: 1}, staff=owner, idempotency_key="k" * 32)
    db.session.refresh(order)
    assert order.refund_state == "partial"
    refunded = f"{order.refunded_amount / 100:.2f}"
    listing = html.unescape(buyer.get("/orders").get_data(as_text=True))
    assert f"¥{refunded} refunded" in listing

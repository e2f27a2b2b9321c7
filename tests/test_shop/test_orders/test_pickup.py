"""Pick-up codes: given to pick-up orders, shown on the order page, found only in the staff
member's stores, handed over once through the state machine; the customer is texted the
order's link through the configured sender."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shop.demo.factories import make_staff, make_store
from shop.errors import InvalidInput, InvalidTransition
from shop.extensions import db
from shop.infra.outbox import OutboxEvent
from shop.infra.unit_of_work import unit_of_work
from shop.orders import pickup
from shop.orders import services as orders
from shop.orders.jobs import send_order_link
from shop.orders.models import Order, OrderStatus
from shop.orders.topics import OrderTopic
from shop.staff.models import Role
from tests.support.members import SENT
from tests.support.shop import order_for, small_catalog


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "SMS_SENDER": "tests.support.members.CapturingSender",
        "PUBLIC_BASE_URL": "https://shop.example",
    }


@pytest.fixture
def counter(ctx):
    store, _, product = small_catalog(stock_qty=10, price=4800)
    staff = make_staff("owner@test", "owner-password", Role.OWNER)
    db.session.commit()
    return store, product.variants[0], staff


def test_pick_up_orders_get_a_code_and_deliveries_none(counter):
    store, variant, _ = counter
    picked = order_for(variant, store)
    delivered = order_for(
        variant, store, phone="13900001111", fulfilment="delivery", city="Suzhou", address="8 Rd"
    )
    assert picked.pickup_code.isdecimal() and len(picked.pickup_code) == 8
    assert delivered.pickup_code is None


def test_the_order_page_shows_the_code_and_its_qr_while_it_can_be_collected(client, counter):
    store, variant, staff = counter
    order = order_for(variant, store)
    page = client.get(f"/o/{order.token}").get_data(as_text=True)
    assert pickup.spaced(order.pickup_code) in page
    assert "<svg" in page
    with unit_of_work():
        orders.cancel(order.id, "changed my mind", staff=staff)
    assert pickup.spaced(order.pickup_code) not in client.get(f"/o/{order.token}").get_data(
        as_text=True
    )


def test_a_code_is_found_in_the_staff_members_stores_only(counter):
    store, variant, _ = counter
    other = make_store("Elsewhere", "Chengdu")
    db.session.commit()
    order = order_for(variant, store)
    spaced = f" {order.pickup_code[:4]}-{order.pickup_code[4:]} "
    assert pickup.find(spaced).id == order.id
    assert pickup.find(order.pickup_code, [store.id]).id == order.id
    with pytest.raises(InvalidInput, match="No pick-up order has this code"):
        pickup.find(order.pickup_code, [other.id])
    with pytest.raises(InvalidInput, match="8 digits"):
        pickup.find("123")


def test_hand_over_takes_the_payment_then_picks_up_once(counter):
    store, variant, staff = counter
    order = order_for(variant, store)
    with pytest.raises(InvalidInput):
        pickup.hand_over(order.id, "00000000" if order.pickup_code != "00000000" else "1", staff)
    with unit_of_work():
        handed = pickup.hand_over(order.id, order.pickup_code, staff)
    assert handed.status == OrderStatus.PICKED_UP
    assert db.session.get(Order, order.id).paid_at is not None
    with pytest.raises(InvalidTransition), unit_of_work():
        pickup.hand_over(order.id, order.pickup_code, staff)


def test_the_customer_is_texted_the_orders_link_and_code(counter):
    store, variant, _ = counter
    order = order_for(variant, store, phone="13712345678")
    events = db.session.scalars(
        select(OutboxEvent.handler).where(OutboxEvent.topic == OrderTopic.PLACED)
    ).all()
    assert "shop.orders.jobs.send_order_link" in events
    SENT.clear()
    send_order_link(order.id)
    phone, message = SENT[-1]
    assert phone == "13712345678"
    assert f"https://shop.example/o/{order.token}" in message
    assert pickup.spaced(order.pickup_code) in message
    assert store.name in message
    send_order_link(order.id, "zh_Hans_CN")
    assert f"可到{store.name}自提" in SENT[-1][1]

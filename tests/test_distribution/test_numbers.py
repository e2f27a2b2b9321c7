"""Dashboard numbers: funnel, GMV, commission, repurchase and lifetime value per group."""

from __future__ import annotations

import uuid
from datetime import timedelta

from distribution.factories import make_guide
from distribution.models import AcquisitionCost
from distribution.numbers import dashboard
from distribution.sharing import link_for, open_link
from shop.checkout.services import place_order
from shop.demo.factories import make_product, make_staff
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.staff.models import Role
from tests.support.shop import details, small_catalog


def test_lifetime_value_and_repurchase(ctx):
    store, _category, product = small_catalog(stock_qty=50, price=12000)
    dear = make_product("Tea Set", price=22000, stock_qty=5, store=store)
    guide = make_guide(store, "Li Na")
    other = make_guide(store, "Wang Fang")
    owner = make_staff("owner@test", "owner-password", Role.OWNER)
    db.session.commit()

    visitor = uuid.uuid4().hex
    link = link_for(guide, "product", product.id, "wechat-group")
    open_link(link, visitor)
    open_link(link, uuid.uuid4().hex)  # a second visit that never buys
    open_link(link_for(other, "home", 0, "moments"), uuid.uuid4().hex)
    customer_details = dict(phone="13812341234", attribution={"visitor_id": visitor})
    with unit_of_work():
        first = place_order(
            [(product.variants[0].id, 1)], details(store, **customer_details), uuid.uuid4().hex
        )
    with unit_of_work():
        orders.mark_paid_at_store(first.id, owner)
    with unit_of_work():
        second = place_order(
            [(dear.variants[0].id, 1)], details(store, **customer_details), uuid.uuid4().hex
        )
    with unit_of_work():
        orders.mark_paid_at_store(second.id, owner)
    with unit_of_work():
        place_order(
            [(product.variants[0].id, 1)], details(store, **customer_details), uuid.uuid4().hex
        )  # unpaid: an order, not GMV
    db.session.add(AcquisitionCost(customer_id=first.customer_id, amount=6000, currency="CNY"))
    db.session.commit()

    since, until = utcnow() - timedelta(days=1), utcnow() + timedelta(minutes=1)
    by_sharer = {row.label: row for row in dashboard("sharer", since, until)}
    li = by_sharer["Li Na"]
    assert (li.visits, li.orders, li.paid_orders) == (2, 3, 2)
    assert li.gmv == 34000
    assert li.commission == 3400
    assert (li.customers, li.repeat_customers) == (1, 1)
    assert li.repurchase_rate == 1.0
    assert li.lifetime_value == 28000  # 120 + 220 - 60
    assert li.conversion == 1.0
    assert by_sharer["Wang Fang"].visits == 1 and by_sharer["Wang Fang"].orders == 0

    by_store = dashboard("store", since, until)
    assert by_store[0].label == store.name and by_store[0].gmv == 34000
    assert by_store[0].visits == 3
    by_channel = {row.label: row for row in dashboard("channel", since, until)}
    assert by_channel["wechat-group"].paid_orders == 2
    assert by_channel["moments"].visits == 1
    assert dashboard("store", since, until, store_ids=[store.id + 999]) == []

"""Every order belongs to a store: the pick-up store, else the store of the guide whose link
brought the customer, else the default store staff marked. So "Numbers → By store" adds up."""

from __future__ import annotations

import uuid
from datetime import timedelta

from distribution.attribution import sharer_store_id
from distribution.factories import make_guide
from distribution.numbers import dashboard
from distribution.sharing import link_for, open_link
from shop.catalog import stores
from shop.catalog.models import Store
from shop.checkout.services import place_order
from shop.demo.factories import make_product, make_staff, make_store
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.staff.models import Role
from tests.support.shop import details

DELIVERY = dict(fulfilment="delivery", city="Guangzhou", address="88 Tianhe Rd")


def _buy(variant, store=None, **values):
    with unit_of_work() as work:
        order = place_order([(variant.id, 1)], details(store, **values), uuid.uuid4().hex)
        work.keep(order)
    return order


def test_every_order_belongs_to_a_store_and_by_store_adds_up(ctx):
    hangzhou = make_store("West Lake", "Hangzhou")  # the oldest: not the one marked default
    shanghai = make_store("Jing'an Flagship", "Shanghai")
    guangzhou = make_store("Tianhe Store", "Guangzhou")
    tea = make_product("Longjing", price=5000, stock_qty=50)  # head office's: no store
    guide = make_guide(guangzhou, "Chen Jie")
    owner = make_staff("owner@test", "owner-password", Role.OWNER)
    stores.make_default(shanghai.id)
    db.session.commit()
    visitor = uuid.uuid4().hex
    open_link(link_for(guide, "product", tea.id, "wechat-group"), visitor)
    variant = tea.variants[0]

    brought = _buy(variant, phone="13800000001", attribution={"visitor_id": visitor}, **DELIVERY)
    walk_in = _buy(variant, phone="13800000002", **DELIVERY)
    picked_up = _buy(variant, hangzhou, phone="13800000003")
    assert brought.store_id == guangzhou.id
    assert walk_in.store_id == shanghai.id
    assert picked_up.store_id == hangzhou.id
    for order in (brought, walk_in, picked_up):
        with unit_of_work():
            orders.mark_paid_at_store(order.id, owner)

    since, until = utcnow() - timedelta(days=1), utcnow() + timedelta(minutes=1)
    rows = dashboard("store", since, until)
    assert None not in {row.key for row in rows}
    assert sum(row.orders for row in rows) == 3
    assert sum(row.gmv for row in rows) == brought.total + walk_in.total + picked_up.total
    assert {row.label: row.orders for row in rows if row.orders} == {
        "Tianhe Store": 1,
        "Jing'an Flagship": 1,
        "West Lake": 1,
    }


def test_one_default_store_at_most_and_the_oldest_until_one_is_marked(ctx):
    first, second = make_store("A", "Shanghai"), make_store("B", "Guangzhou")
    db.session.commit()
    assert stores.default_store_id() == first.id
    stores.make_default(second.id)
    stores.make_default(first.id)
    db.session.commit()
    assert [s.id for s in db.session.query(Store).filter_by(is_default=True)] == [first.id]
    first.active = False
    db.session.commit()
    assert stores.default_store_id() == second.id  # an inactive default owns nothing new


def test_the_store_of_whoever_brought_the_visitor(ctx):
    guangzhou = make_store("Tianhe Store", "Guangzhou")
    tea = make_product("Longjing", price=5000, stock_qty=5)
    guide = make_guide(guangzhou, "Chen Jie")
    link = link_for(guide, "product", tea.id, "wechat-group")
    db.session.commit()
    visitor = uuid.uuid4().hex
    assert sharer_store_id({"visitor_id": visitor}) is None
    assert sharer_store_id({"share_code": link.code}) == guangzhou.id  # the link carried
    open_link(link, visitor)
    assert sharer_store_id({"visitor_id": visitor}) == guangzhou.id  # the binding
    guide.status = "inactive"
    db.session.commit()
    assert sharer_store_id({"visitor_id": visitor}) is None

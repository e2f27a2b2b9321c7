"""Dashboard numbers: funnel, GMV, commission, repurchase and lifetime value per group."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from distribution.factories import make_guide, make_promoter
from distribution.models import AcquisitionCost, CommissionEntry
from distribution.numbers import Row, dashboard
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


def _paid(owner, variant_id: int, store, **customer) -> None:
    with unit_of_work():
        order = place_order([(variant_id, 1)], details(store, **customer), uuid.uuid4().hex)
    with unit_of_work():
        orders.mark_paid_at_store(order.id, owner)


def test_each_sharer_is_credited_what_they_earned_and_walk_ins_convert_nothing(ctx):
    """A promoter recruited by Li Na brings an order: the promoter's row shows the promoter's
    commission, Li Na's row her second-level one (not both on the promoter). A walk-in order
    counts for the store, but its conversion is the paid orders links brought per visit."""
    store, _category, product = small_catalog(stock_qty=50, price=10000)
    li = make_guide(store, "Li Na")
    zhao = make_promoter("Zhao Lei", "13900001111", parent=li)
    zhao.store_id = None  # a promoter who applied online: their store is their recruiter's
    owner = make_staff("owner@test", "owner-password", Role.OWNER)
    db.session.commit()
    visitor = uuid.uuid4().hex
    open_link(link_for(zhao, "product", product.id, "moments"), visitor)
    _paid(
        owner,
        product.variants[0].id,
        store,
        phone="13812341234",
        attribution={"visitor_id": visitor},
    )
    for phone in ("13812340001", "13812340002"):  # walk-ins: no link, no visit
        _paid(owner, product.variants[0].id, store, phone=phone)

    since, until = utcnow() - timedelta(days=1), utcnow() + timedelta(minutes=1)
    earned = dict(
        db.session.execute(
            select(CommissionEntry.sharer_id, func.sum(CommissionEntry.amount)).group_by(
                CommissionEntry.sharer_id
            )
        ).all()
    )
    assert earned[zhao.id] > 0 and earned[li.id] > 0
    by_sharer = {row.label: row for row in dashboard("sharer", since, until)}
    assert by_sharer["Zhao Lei"].commission == earned[zhao.id]
    assert by_sharer["Li Na"].commission == earned[li.id]
    assert by_sharer["Zhao Lei"].gmv == 10000 and by_sharer["Li Na"].gmv == 0

    (by_store,) = dashboard("store", since, until)  # the promoter's visit is Li Na's store's
    assert (by_store.visits, by_store.paid_orders, by_store.linked_paid_orders) == (1, 3, 1)
    assert by_store.conversion == 1.0  # not 3.0: the walk-ins had no visit
    assert by_store.commission == earned[zhao.id] + earned[li.id]


def test_lifetime_value_is_rounded_half_up():
    row = Row(key="wechat-group", label="wechat-group", gmv=50600, customers=3)
    assert row.lifetime_value == 16867  # ¥506.00 over 3 customers: ¥168.67, not ¥168.66
    assert Row(key=1, label="", gmv=50500, customers=3).lifetime_value == 16833

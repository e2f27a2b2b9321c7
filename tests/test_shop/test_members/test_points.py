"""Points: earned once when paid, taken back (and spent points returned) on refunds, credited
on settlement when so configured, expiring oldest first, the points shop, ``ledger verify``."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shop.customers.models import Customer
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.members import points
from shop.members.models import Coupon, CouponTemplate, PointsEntry, PointsShopItem
from shop.members.tiers import buy_shop_item
from shop.orders import services as orders
from tests.support.members import (
    balance,
    buy,
    coupons_of,
    ledger_sum,
    make_customer,
    make_template,
    owner,
    pay,
    sign_in,
)
from tests.support.shop import small_catalog


@pytest.fixture
def world(ctx):
    store, _category, product = small_catalog(stock_qty=50, price=9900)
    return {"store": store, "variant": product.variants[0]}


def _entries(customer_id: int) -> list[tuple[str, int]]:
    return [
        (e.kind, e.amount)
        for e in db.session.scalars(
            select(PointsEntry)
            .where(PointsEntry.customer_id == customer_id)
            .order_by(PointsEntry.id)
        )
    ]


def test_a_paid_order_earns_points_once(world):
    customer = make_customer()
    order = buy(world["variant"], world["store"], customer, quantity=2)
    assert balance(customer.id) == 0  # placed, not paid
    assert pay(order)
    assert balance(customer.id) == 198  # 1 point per ¥1 paid
    with unit_of_work():
        assert not orders.confirm_payment(
            order.id,
            provider="store",
            external_id=orders.store_payment_reference(order),
            amount=order.total,
            currency="CNY",
        )
    with unit_of_work():
        assert points.earn_for_order(order.id) == 0  # the job run again
    assert _entries(customer.id) == [("earn", 198)]


def test_a_refund_takes_back_earned_points_and_returns_spent_ones_in_proportion(world):
    customer = make_customer(points_=1000)
    order = buy(world["variant"], world["store"], customer, quantity=2, coupon="none", points=100)
    assert (order.total, order.points_spent) == (19700, 100)
    pay(order)
    assert balance(customer.id) == 1000 - 100 + 197

    line = order.lines[0]
    with unit_of_work():
        orders.refund(order.id, {line.id: 1}, staff=owner(), idempotency_key=uuid.uuid4().hex)
    # half the order refunded: 98 of the 197 earned go, 50 of the 100 spent come back
    assert balance(customer.id) == 1000 - 100 + 197 - 98 + 50
    with unit_of_work():
        orders.refund(order.id, {line.id: 1}, staff=owner(), idempotency_key=uuid.uuid4().hex)
    assert balance(customer.id) == ledger_sum(customer.id) == 1000
    assert [kind for kind, _ in _entries(customer.id)] == [
        "adjust",
        "spend",
        "earn",
        "take_back",
        "spend_return",
        "take_back",
        "spend_return",
    ]


def test_points_already_spent_stop_the_take_back_at_zero(world):
    customer = make_customer()
    order = buy(world["variant"], world["store"], customer)
    pay(order)
    points.post(customer.id, -90, "spend", "elsewhere")
    db.session.commit()
    with unit_of_work():
        orders.refund(
            order.id, {order.lines[0].id: 1}, staff=owner(), idempotency_key=uuid.uuid4().hex
        )
    assert balance(customer.id) == ledger_sum(customer.id) == 0
    take_back = db.session.scalar(select(PointsEntry).where(PointsEntry.kind == "take_back"))
    assert take_back.amount == -9
    assert take_back.note == "90 points already spent"


def test_credit_on_settlement(world, runner):
    rules = points.settings()
    rules.credit_on, rules.settle_days = "settled", 7
    db.session.commit()
    kept = make_customer()
    refunded = make_customer()
    halved = make_customer()
    first = buy(world["variant"], world["store"], kept)
    second = buy(world["variant"], world["store"], refunded)
    third = buy(world["variant"], world["store"], halved, quantity=2)
    for order in (first, second, third):
        pay(order)
    with unit_of_work():
        orders.refund(
            second.id, {second.lines[0].id: 1}, staff=owner(), idempotency_key=uuid.uuid4().hex
        )
    with unit_of_work():
        orders.refund(
            third.id, {third.lines[0].id: 1}, staff=owner(), idempotency_key=uuid.uuid4().hex
        )
    assert balance(kept.id) == balance(refunded.id) == balance(halved.id) == 0

    assert points.settle_due_each_in_own_transaction() == 0  # not yet settled
    later = utcnow() + timedelta(days=8)
    assert points.settle_due_each_in_own_transaction(later) == 2
    assert points.settle_due_each_in_own_transaction(later) == 0
    assert balance(kept.id) == 99
    assert balance(refunded.id) == 0  # refunded in full: nothing to earn
    assert balance(halved.id) == 99  # 198 earned, the refunded half taken back
    assert _entries(halved.id) == [("earn", 198), ("take_back", -99)]

    for order in (first, third):
        order.paid_at = utcnow() - timedelta(days=8)
    db.session.commit()
    result = runner.invoke(args=["jobs", "settle-points"])
    assert result.exit_code == 0
    assert "0 orders credited with points." in result.output


def test_points_expire_oldest_first(world, runner):
    customer = make_customer()
    now = utcnow()
    soon, later = now + timedelta(days=10), now + timedelta(days=40)
    points.post(customer.id, 100, "earn", "lot-1", expires_at=soon)
    points.post(customer.id, 50, "earn", "lot-2", expires_at=later)
    points.post(customer.id, -80, "spend", "spent-1")
    db.session.commit()
    assert points.expiring(customer.id, now) == [(soon, 20), (later, 50)]

    assert points.expire_due_each_in_own_transaction(now) == 0
    assert (
        points.expire_due_each_in_own_transaction(now + timedelta(days=20)) == 20
    )  # what the spending left of lot 1
    assert points.expire_due_each_in_own_transaction(now + timedelta(days=20)) == 0  # twice: once
    assert balance(customer.id) == 50
    assert points.expiring(customer.id, now + timedelta(days=20)) == [(later, 50)]
    assert points.expire_due_each_in_own_transaction(now + timedelta(days=50)) == 50
    assert balance(customer.id) == ledger_sum(customer.id) == 0

    result = runner.invoke(args=["jobs", "expire-points"])
    assert result.exit_code == 0 and "0 points expired." in result.output


def test_expiry_replays_the_ledger_in_order(world):
    """A debit takes only from lots that existed when it happened: points spent from an
    undated lot leave a later dated lot whole."""
    customer = make_customer()
    now = utcnow()
    soon = now + timedelta(days=10)
    points.post(customer.id, 50, "adjust", "gift")  # undated
    points.post(customer.id, -50, "shop", "spent-before")
    points.post(customer.id, 100, "earn", "lot-dated", expires_at=soon)
    db.session.commit()
    assert points.expiring(customer.id, now) == [(soon, 100)]
    assert points.expire_due_each_in_own_transaction(soon + timedelta(days=1)) == 100
    assert balance(customer.id) == ledger_sum(customer.id) == 0


def test_a_take_back_takes_the_points_its_own_order_earned(world):
    customer = make_customer()
    first = buy(world["variant"], world["store"], customer)
    second = buy(world["variant"], world["store"], customer)
    now = utcnow()
    soon, later = now + timedelta(days=10), now + timedelta(days=40)
    points.post(customer.id, 99, "earn", "earn-first", order_id=first.id, expires_at=soon)
    points.post(customer.id, 99, "earn", "earn-second", order_id=second.id, expires_at=later)
    points.post(customer.id, -99, "take_back", "back-second", order_id=second.id)
    db.session.commit()
    assert points.expiring(customer.id, now) == [(soon, 99)]


def test_points_given_back_keep_their_expiry_date(world):
    customer = make_customer()
    order = buy(world["variant"], world["store"], customer)
    now = utcnow()
    soon, later = now + timedelta(days=10), now + timedelta(days=40)
    points.post(customer.id, 100, "earn", "lot-soon", expires_at=soon)
    points.post(customer.id, -60, "spend", "spend-order", order_id=order.id)
    points.post(customer.id, 50, "earn", "lot-later", expires_at=later)
    points.post(customer.id, 60, "spend_return", "return-order", order_id=order.id)
    db.session.commit()
    assert points.expiring(customer.id, now) == [(soon, 100), (later, 50)]
    assert points.expire_due_each_in_own_transaction(soon + timedelta(days=1)) == 100
    assert points.expire_due_each_in_own_transaction(soon + timedelta(days=1)) == 0
    assert balance(customer.id) == ledger_sum(customer.id) == 50


def test_expiry_by_a_refund_returned_order_through_the_shop(world):
    """End to end: points spent on an order that is refunded come back with their date."""
    customer = make_customer()
    now = utcnow()
    soon = now + timedelta(days=10)
    points.post(customer.id, 300, "adjust", "gift", expires_at=soon)
    db.session.commit()
    order = buy(world["variant"], world["store"], customer, points=100)
    assert order.points_spent == 100
    assert pay(order)
    with unit_of_work():
        orders.refund(
            order.id, {order.lines[0].id: 1}, staff=owner(), idempotency_key=uuid.uuid4().hex
        )
    after = points.expiring(customer.id, now)
    assert after[0] == (soon, 300)  # the 100 spent came back to the lot they came from
    assert points.expire_due_each_in_own_transaction(soon + timedelta(days=1)) == 300
    assert balance(customer.id) == ledger_sum(customer.id)


def test_in_chinese_the_points_label_takes_a_full_width_colon(app, client):
    with app.app_context():  # not ``ctx``: the request picks its own language
        customer = make_customer(points_=99)
        sign_in(client, customer)
    chinese = client.get("/me", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "<h2>积分：99</h2>" in chinese


def test_me_shows_points_with_history_and_expiry_dates(client, world):
    customer = make_customer()
    pay(buy(world["variant"], world["store"], customer))
    sign_in(client, customer)
    page = client.get("/me").get_data(as_text=True)
    assert "Points: 99" in page
    assert "Earned" in page and "+99" in page
    assert "99 points expire on" in page

    # Two lots that expire on the same day make one line.
    lot = db.session.scalar(select(PointsEntry).where(PointsEntry.customer_id == customer.id))
    points.post(customer.id, 1, "adjust", "same-day", expires_at=lot.expires_at.replace(minute=1))
    db.session.commit()
    page = client.get("/me").get_data(as_text=True)
    assert "100 points expire on" in page and "99 points expire on" not in page


@pytest.fixture
def shop_item(world):
    template = make_template(
        "Cookie voucher", value=3800, claimable=False, total_quantity=2, per_customer_limit=5
    )
    item = PointsShopItem(template_id=template.id, points_price=300)
    db.session.add(item)
    db.session.commit()
    return item


def test_points_shop_purchase(shop_item):
    customer = make_customer(points_=700)
    key = uuid.uuid4().hex
    with unit_of_work():
        coupon = buy_shop_item(customer.id, shop_item.id, key)
    assert (coupon.source, coupon.template_id) == ("points_shop", shop_item.template_id)
    assert balance(customer.id) == 400
    with unit_of_work():
        assert buy_shop_item(customer.id, shop_item.id, key) is None  # the same form again
    assert balance(customer.id) == 400 and len(coupons_of(customer.id)) == 1
    assert _entries(customer.id)[-1] == ("shop", -300)


def test_points_shop_refusals_change_nothing(shop_item):
    poor = make_customer(points_=299)
    with pytest.raises(InvalidInput) as refused:
        with unit_of_work():
            buy_shop_item(poor.id, shop_item.id, uuid.uuid4().hex)
    assert refused.value.message == "You need 300 points for this and have 299."
    assert balance(poor.id) == 299 and coupons_of(poor.id) == []

    rich = make_customer(points_=2000)
    with unit_of_work():
        buy_shop_item(rich.id, shop_item.id, uuid.uuid4().hex)
    with unit_of_work():
        buy_shop_item(rich.id, shop_item.id, uuid.uuid4().hex)
    with pytest.raises(InvalidInput) as sold_out:
        with unit_of_work():
            buy_shop_item(rich.id, shop_item.id, uuid.uuid4().hex)
    assert sold_out.value.message == "Sorry, all of these coupons have been claimed."
    assert balance(rich.id) == ledger_sum(rich.id) == 1400
    assert len(coupons_of(rich.id)) == 2
    assert db.session.get(CouponTemplate, shop_item.template_id).claimed_count == 2


def test_points_shop_pages(client, shop_item):
    customer = make_customer(points_=500)
    page = client.get("/points-shop").get_data(as_text=True)
    assert "Cookie voucher" in page and "300 points" in page and "Sign in" in page
    sign_in(client, customer)
    page = client.get("/points-shop").get_data(as_text=True)
    assert "You have 500 points." in page
    key = uuid.uuid4().hex
    bought = client.post(f"/points-shop/{shop_item.id}", data={"idempotency_key": key})
    assert bought.status_code == 303 and bought.headers["Location"] == "/me#coupons"
    again = client.post(f"/points-shop/{shop_item.id}", data={"idempotency_key": key})
    assert again.status_code == 303
    assert balance(customer.id) == 200
    short = client.post(f"/points-shop/{shop_item.id}", data={"idempotency_key": uuid.uuid4().hex})
    assert short.headers["Location"] == "/points-shop"
    page = client.get("/points-shop").get_data(as_text=True)
    assert "You need 300 points for this and have 200." in page
    assert balance(customer.id) == 200
    assert db.session.scalar(select(Coupon.source)) == "points_shop"
    me = client.get("/me").get_data(as_text=True)
    assert "Cookie voucher" in me and "Points shop" in me


def test_ledger_verify_catches_a_tampered_points_balance(runner, world):
    customer = make_customer(points_=100)
    pay(buy(world["variant"], world["store"], customer))
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "All ledgers balance." in result.output

    db.session.execute(
        update(Customer).where(Customer.id == customer.id).values(points_balance=5000)
    )
    db.session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert f"BREACH customer {customer.id}: points 5000 but entries sum to 199" in result.output

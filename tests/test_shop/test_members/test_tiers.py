"""Member tiers: progress from paid and refunded orders, upgrades on payment with the benefit
coupon once, the highest tier reached at once, no downgrade on refund, the retention rule."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from shop.customers.models import Customer
from shop.demo.factories import make_product
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.members import tiers as members
from shop.members.models import Coupon, MemberTier, TierTask
from shop.orders import services as orders
from shop.staff.models import AuditLog
from tests.support.members import buy, make_customer, make_template, owner, pay, sign_in
from tests.support.shop import small_catalog


@pytest.fixture
def world(ctx):
    store, _category, tea = small_catalog(stock_qty=50, price=9900)
    gift = make_product("Oolong Gift Box", price=26800, stock_qty=20, store=store)
    benefit = make_template("Silver gift", value=500, claimable=False)
    silver = MemberTier(name="Silver", rank=1, discount_bp=200, benefit_template_id=benefit.id)
    silver.tasks.append(TierTask(kind="spend", amount=15000, days=90))
    gold = MemberTier(name="Gold", rank=2, discount_bp=500, points_multiplier_pct=150)
    gold.tasks.append(TierTask(kind="buy_product", product_id=gift.id))
    gold.tasks.append(TierTask(kind="refer", count=1))
    db.session.add_all([silver, gold])
    db.session.commit()
    return {
        "store": store,
        "tea": tea.variants[0],
        "gift": gift.variants[0],
        "silver": silver,
        "gold": gold,
        "benefit": benefit,
    }


def _tier(customer_id: int) -> str | None:
    db.session.expire_all()
    customer = db.session.get(Customer, customer_id)
    return customer.tier_id and db.session.get(MemberTier, customer.tier_id).name


def _benefits(customer_id: int, template_id: int) -> int:
    return len(
        db.session.scalars(
            select(Coupon).where(
                Coupon.customer_id == customer_id,
                Coupon.template_id == template_id,
                Coupon.source == "tier",
            )
        ).all()
    )


def test_upgrade_after_the_qualifying_spend_with_the_benefit_coupon_once(world):
    customer = make_customer()
    pay(buy(world["tea"], world["store"], customer))
    assert _tier(customer.id) is None  # 99.00 of 150.00
    (step,) = members.tier_progress(customer.id, world["silver"])
    assert (step.done, step.needed, step.met, step.percent) == (9900, 15000, False, 66)
    assert step.label == "Spend ¥150.00 within 90 days"

    before = utcnow()
    pay(buy(world["tea"], world["store"], customer))
    assert _tier(customer.id) == "Silver"
    assert db.session.get(Customer, customer.id).tier_since >= before
    assert _benefits(customer.id, world["benefit"].id) == 1
    with unit_of_work():
        assert members.evaluate_tier(customer.id) is None  # evaluated again: nothing new
    assert _benefits(customer.id, world["benefit"].id) == 1

    third = buy(world["tea"], world["store"], customer)
    assert third.tier_discount == 198  # Silver: 2% off


def test_an_old_spend_does_not_count(world):
    customer = make_customer()
    old = buy(world["tea"], world["store"], customer, quantity=2)
    pay(old)
    assert _tier(customer.id) == "Silver"
    customer_two = make_customer()
    earlier = buy(world["tea"], world["store"], customer_two, quantity=2)
    earlier.status, earlier.paid_at = "paid", utcnow() - timedelta(days=91)
    db.session.commit()
    with unit_of_work():
        assert members.evaluate_tier(customer_two.id) is None
    assert _tier(customer_two.id) is None


def test_gold_needs_the_named_product_and_a_referred_friend_who_paid(world):
    customer = make_customer()
    pay(buy(world["gift"], world["store"], customer))
    assert _tier(customer.id) == "Silver"  # 268.00 spent; Gold still needs a friend
    progress = {p.task.kind: p.met for p in members.tier_progress(customer.id, world["gold"])}
    assert progress == {"buy_product": True, "refer": False}

    friend = make_customer(referrer_id=customer.id)
    order = buy(world["tea"], world["store"], friend)
    assert _tier(customer.id) == "Silver"  # the friend has not paid yet
    pay(order)
    assert _tier(customer.id) == "Gold"  # evaluated when the friend's order was paid


def test_the_highest_tier_met_is_reached_at_once(world):
    customer = make_customer()
    friend = make_customer(referrer_id=customer.id)
    pay(buy(world["tea"], world["store"], friend))
    pay(buy(world["gift"], world["store"], customer))
    assert _tier(customer.id) == "Gold"
    assert _benefits(customer.id, world["benefit"].id) == 0  # Silver's gift is Silver's


def test_a_refund_moves_progress_back_but_never_the_tier(world):
    customer = make_customer()
    order = buy(world["tea"], world["store"], customer, quantity=2)
    pay(order)
    assert _tier(customer.id) == "Silver"
    with unit_of_work():
        orders.refund(
            order.id, {order.lines[0].id: 1}, staff=owner(), idempotency_key=uuid.uuid4().hex
        )
    (step,) = members.tier_progress(customer.id, world["silver"])
    assert (step.done, step.met) == (9900, False)
    assert _tier(customer.id) == "Silver"


def test_a_fully_refunded_purchase_of_the_named_product_does_not_count(world):
    customer = make_customer()
    order = buy(world["gift"], world["store"], customer)
    pay(order)
    with unit_of_work():
        orders.refund(
            order.id, {order.lines[0].id: 1}, staff=owner(), idempotency_key=uuid.uuid4().hex
        )
    assert not members.bought(customer.id, world["gift"].product_id)


def test_retention_moves_members_down_who_did_not_requalify(world, runner):
    world["gold"].retention_days = 30
    db.session.commit()
    customer = make_customer()
    friend = make_customer(referrer_id=customer.id)
    pay(buy(world["tea"], world["store"], friend))
    pay(buy(world["gift"], world["store"], customer))
    assert _tier(customer.id) == "Gold"

    assert members.apply_retention_each_in_own_transaction() == 0  # held for less than the window
    customer = db.session.get(Customer, customer.id)
    customer.tier_since = utcnow() - timedelta(days=31)
    db.session.commit()
    assert (
        members.apply_retention_each_in_own_transaction() == 0
    )  # re-qualified within the last 30 days

    later = utcnow() + timedelta(days=40)
    assert members.apply_retention_each_in_own_transaction(later) == 1
    # Gold's tasks are not met in the 30 days before ``later``; Silver's (150.00 within 90
    # days, no retention window of its own) still are: the gift box was 40 days before.
    assert _tier(customer.id) == "Silver"
    assert members.apply_retention_each_in_own_transaction(later) == 0


def test_retention_sweep_from_the_command_line(world, runner):
    world["silver"].retention_days = 30
    db.session.commit()
    customer = make_customer()
    order = buy(world["tea"], world["store"], customer, quantity=2)
    pay(order)
    assert _tier(customer.id) == "Silver"
    customer = db.session.get(Customer, customer.id)
    customer.tier_since = utcnow() - timedelta(days=60)
    order = db.session.get(type(order), order.id)
    order.paid_at = utcnow() - timedelta(days=45)
    db.session.commit()
    result = runner.invoke(args=["jobs", "tier-retention"])
    assert "1 members moved down a tier." in result.output
    assert _tier(customer.id) is None
    result = runner.invoke(args=["jobs", "tier-retention"])
    assert "0 members moved down a tier." in result.output


def test_staff_set_a_tier_with_a_reason_in_the_audit_log(world):
    customer = make_customer()
    staff = owner()
    with pytest.raises(InvalidInput):
        with unit_of_work():
            members.set_tier(customer.id, world["silver"].id, staff, " ")
    with unit_of_work():
        members.set_tier(customer.id, world["silver"].id, staff, "VIP from the old CRM")
    assert _tier(customer.id) == "Silver"
    assert _benefits(customer.id, world["benefit"].id) == 1
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "member.set_tier"))
    assert entry.staff_id == staff.id
    assert entry.after == {"tier_id": world["silver"].id, "reason": "VIP from the old CRM"}


def test_me_shows_the_tier_and_progress_to_the_next(client, world):
    customer = make_customer()
    pay(buy(world["tea"], world["store"], customer, quantity=2))
    sign_in(client, customer)
    page = client.get("/me").get_data(as_text=True)
    assert "Silver" in page and "2% off every order" in page
    assert "On the way to Gold" in page
    assert "Buy Oolong Gift Box" in page
    assert "Bring 1 friend who pays for an order" in page
    assert "0 of 1" in page

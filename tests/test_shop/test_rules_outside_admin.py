"""The shop's rules hold whoever calls the services (not only the admin): each refusal is a
domain error with its code, and nothing is changed."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import select

from shop.catalog import products, stock
from shop.catalog.models import StockMovement, Variant
from shop.demo.factories import make_staff
from shop.errors import ShopError
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.members import coupons, tiers
from shop.members.models import CouponTemplate, MemberTier, TierTask
from shop.orders import services as orders
from shop.orders.models import Order
from shop.staff import accounts
from shop.staff.models import AuditLog, Role, Staff
from tests.support.shop import order_for, small_catalog


@pytest.fixture
def owner(ctx):
    staff = make_staff("owner@test", "owner-password", Role.OWNER)
    db.session.commit()
    return staff


def refused(code: str):
    """``with refused("out_of_stock"):`` the block raises a domain error with that code."""
    return pytest.raises(ShopError, check=lambda error: error.code == code)


def test_staff_stock_changes_never_go_below_zero(owner):
    _store, _category, product = small_catalog(stock_qty=3)
    variant = product.variants[0]
    with refused("out_of_stock") as caught:
        stock.adjust(variant, -5, "adjust", owner, "count")
    assert caught.value.message == "Only 3 in stock: cannot take away 5."
    db.session.rollback()
    stock.adjust(variant, -2, "adjust", owner, "broken jar")
    db.session.commit()
    assert db.session.get(Variant, variant.id).stock == 1
    movement = db.session.scalar(select(StockMovement).where(StockMovement.reason == "adjust"))
    assert (movement.delta, movement.staff_id, movement.note) == (-2, owner.id, "broken jar")
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "variant.stock_adjust"))
    assert entry.before == {"stock": 3} and entry.after["stock"] == 1


def test_a_limited_time_price_has_a_start_before_its_end(ctx):
    _store, _category, product = small_catalog()
    variant = product.variants[0]
    variant.sale_price = 100
    with refused("invalid_input"):
        products.check_variant(variant)
    variant.sale_starts_at, variant.sale_ends_at = datetime(2026, 2, 1), datetime(2026, 1, 1)
    with refused("invalid_input"):
        products.check_variant(variant)
    variant.sale_ends_at = datetime(2026, 3, 1)
    products.check_variant(variant)
    product.description_html = "<p>Tea<script>alert(1)</script></p>"
    products.tidy_product(product)
    assert "script" not in product.description_html


def test_a_staff_account_keeps_its_rules(owner):
    manager = Staff(email=" Boss@Test ", name="Boss", role=Role.MANAGER)
    with refused("invalid_input") as caught:
        accounts.save_account(manager, "a-long-password", owner)
    assert caught.value.message == "A store manager needs at least one store."
    assert manager.email == "boss@test"
    with refused("invalid_input"):
        accounts.save_account(Staff(email="new@test", role=Role.SUPPORT), "", owner)
    owner.role = Role.FINANCE
    with refused("invalid_input"):
        accounts.save_account(owner, None, owner)
    db.session.rollback()
    accounts.save_account(owner, "another-long-password", owner)
    db.session.commit()
    assert db.session.get(Staff, owner.id).check_password("another-long-password")
    assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "staff.password"))


def test_a_tier_has_its_own_rank_and_complete_tasks(ctx):
    db.session.add(MemberTier(name="Silver", rank=1))
    db.session.commit()
    with refused("already_taken"):
        tiers.check_tier(MemberTier(name="Gold", rank=1))
    gold = MemberTier(name="Gold", rank=2, tasks=[TierTask(kind="spend")])
    with refused("invalid_input") as caught:
        tiers.check_tier(gold)
    assert caught.value.message == "Enter the amount a spend task needs."


def test_a_coupon_template_is_consistent(ctx):
    def template(**values) -> CouponTemplate:
        return CouponTemplate(name="Tea", **{"kind": "fixed", "claimed_count": 0, **values})

    with refused("invalid_input"):
        coupons.check_template(template(value=0))
    with refused("invalid_input"):
        coupons.check_template(template(kind="threshold", value=1000, threshold=1000))
    with refused("invalid_input"):
        coupons.check_template(template(value=500, total_quantity=3, claimed_count=5))
    free = template(kind="free_shipping", value=700, cap=300)
    coupons.check_template(free)
    assert (free.value, free.cap, free.threshold) == (0, None, 0)


def test_a_refund_key_answers_only_for_its_own_order(owner):
    store, _category, product = small_catalog()
    first = order_for(product.variants[0], store)
    second = order_for(product.variants[0], store)
    for order in (first, second):
        with unit_of_work():
            orders.mark_paid_at_store(order.id, owner)
    line = db.session.get(Order, first.id).lines[0]
    key = uuid.uuid4().hex
    with unit_of_work():
        refund = orders.refund(first.id, {line.id: 1}, staff=owner, idempotency_key=key)
    with unit_of_work():
        assert (
            orders.refund(first.id, {line.id: 1}, staff=owner, idempotency_key=key).id == refund.id
        )
    other_line = db.session.get(Order, second.id).lines[0]
    with refused("invalid_input"):
        with unit_of_work():
            orders.refund(second.id, {other_line.id: 1}, staff=owner, idempotency_key=key)
    assert db.session.get(Order, second.id).refunded_amount == 0


def test_a_coupon_for_some_stores_names_stores_that_exist(ctx):
    from shop.members.coupons import check_template
    from shop.members.models import CouponTemplate

    template = CouponTemplate(name="Store only", kind="fixed", value=500, scope="stores")
    with pytest.raises(ShopError, match="Enter the ids"):
        check_template(template)
    template.scope_ids = [999]
    with pytest.raises(ShopError, match="No Stores with the ids 999."):
        check_template(template)

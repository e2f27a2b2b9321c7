"""``ledger verify`` fails on a paid order without its commission or points decision, or a
refund without its reversal; ``ledger reconcile`` writes what is missing, once."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, func, select

from distribution.factories import make_guide
from distribution.models import Attribution, CommissionEntry
from distribution.sharing import link_for, open_link
from shop.checkout.services import place_order
from shop.customers.models import Customer
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.members.models import PointsEntry
from shop.orders import services as orders
from shop.orders.models import Order
from tests.support.shop import details, make_owner, small_catalog


@pytest.fixture
def paid(ctx):
    store, _category, product = small_catalog(stock_qty=20, price=10000)
    guide = make_guide(store, "Li Na")
    db.session.commit()
    visitor = uuid.uuid4().hex
    open_link(link_for(guide, "product", product.id), visitor)
    with unit_of_work():
        order = place_order(
            [(product.variants[0].id, 2)],
            details(store, attribution={"visitor_id": visitor}),
            uuid.uuid4().hex,
        )
    owner = make_owner()
    with unit_of_work():
        assert orders.mark_paid_at_store(order.id, owner)
    return db.session.get(Order, order.id), owner


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _run(runner, *args):
    db.session.remove()
    return runner.invoke(args=list(args))


def test_a_consistent_shop_has_nothing_to_reconcile(paid, runner):
    assert _run(runner, "ledger", "verify").exit_code == 0
    result = _run(runner, "ledger", "reconcile")
    assert result.exit_code == 0 and "Nothing to reconcile." in result.output


def test_a_deleted_accrual_fails_verify_and_reconcile_writes_it_once(paid, runner):
    order, _owner = paid
    number = order.number
    before = [
        (e.sharer_id, e.level, e.amount)
        for e in db.session.scalars(select(CommissionEntry).order_by(CommissionEntry.id))
    ]
    assert before
    db.session.execute(delete(CommissionEntry).where(CommissionEntry.order_id == order.id))
    db.session.commit()

    result = _run(runner, "ledger", "verify")
    assert result.exit_code == 1
    assert f"BREACH order {number}: paid, no commission accrued for its sharer" in result.output

    result = _run(runner, "ledger", "reconcile")
    assert result.exit_code == 0
    assert f"WROTE order {number}: no commission accrued for its sharer" in result.output
    after = [
        (e.sharer_id, e.level, e.amount)
        for e in db.session.scalars(select(CommissionEntry).order_by(CommissionEntry.id))
    ]
    assert after == before
    assert "Nothing to reconcile." in _run(runner, "ledger", "reconcile").output
    assert _count(CommissionEntry) == len(before)
    assert _run(runner, "ledger", "verify").exit_code == 0


def test_a_paid_order_never_attributed_is_a_breach_until_reconciled(paid, runner):
    order, _owner = paid
    order_id = order.id
    db.session.execute(delete(CommissionEntry).where(CommissionEntry.order_id == order_id))
    db.session.execute(delete(Attribution).where(Attribution.order_id == order_id))
    db.session.commit()
    result = _run(runner, "ledger", "verify")
    assert result.exit_code == 1 and "paid, no attribution" in result.output
    assert _run(runner, "ledger", "reconcile").exit_code == 0
    assert _count(Attribution, Attribution.order_id == order_id) == 1
    assert _count(CommissionEntry, CommissionEntry.order_id == order_id) == 1
    assert _run(runner, "ledger", "verify").exit_code == 0


def test_missing_points_are_a_breach_and_credited_once(paid, runner):
    order, _owner = paid
    order_id = order.id
    earned = db.session.scalar(select(PointsEntry.amount).where(PointsEntry.order_id == order_id))
    assert earned > 0
    db.session.execute(delete(PointsEntry).where(PointsEntry.order_id == order_id))
    db.session.get(Customer, order.customer_id).points_balance = 0  # as if never earned
    db.session.commit()
    result = _run(runner, "ledger", "verify")
    assert result.exit_code == 1
    assert "points never credited" in result.output
    result = _run(runner, "ledger", "reconcile")
    assert f"{earned} points credited" in result.output
    assert _count(PointsEntry, PointsEntry.order_id == order_id) == 1
    assert "Nothing to reconcile." in _run(runner, "ledger", "reconcile").output
    assert _run(runner, "ledger", "verify").exit_code == 0


def test_a_refund_without_its_reversal_is_repaired_once(paid, runner):
    order, owner = paid
    line = order.lines[0]
    with unit_of_work():
        refund = orders.refund(
            order.id, {line.id: 1}, staff=owner, idempotency_key=uuid.uuid4().hex
        )
    refund_id = refund.id
    reversals = _count(CommissionEntry, CommissionEntry.refund_id == refund_id)
    assert reversals
    db.session.execute(delete(CommissionEntry).where(CommissionEntry.refund_id == refund_id))
    db.session.commit()
    result = _run(runner, "ledger", "verify")
    assert result.exit_code == 1 and "rate × (paid − refunded)" in result.output
    result = _run(runner, "ledger", "reconcile")
    assert f"refund {refund_id}: {reversals} reversal entries" in result.output
    assert _count(CommissionEntry, CommissionEntry.refund_id == refund_id) == reversals
    assert "Nothing to reconcile." in _run(runner, "ledger", "reconcile").output
    assert _run(runner, "ledger", "verify").exit_code == 0

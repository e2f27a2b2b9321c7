"""The commission ledger: accrue on payment, reverse on refund in proportion, settle after the
return window, pay out, carry a negative balance into the next payout, verify."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from distribution.commission import (
    CommissionError,
    approve_payout,
    balances,
    settle_due_commissions,
    verify_ledger,
)
from distribution.factories import make_guide, make_promoter
from distribution.jobs import accrue_commission
from distribution.models import CommissionEntry, CommissionRule, SharerLevel
from distribution.sharing import link_for, open_link
from shop.checkout.services import place_order
from shop.demo.factories import make_staff
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Order
from shop.staff.models import Role
from tests.support.shop import details, small_catalog


@pytest.fixture
def world(ctx):
    store, _category, product = small_catalog(stock_qty=100, price=10000)
    guide = make_guide(store, "Li Na")
    promoter = make_promoter("Zhao Lei", "13900001111", parent=guide)
    finance = make_staff("finance@test", "finance-password", Role.FINANCE)
    db.session.commit()
    return {
        "store": store,
        "product": product,
        "guide": guide,
        "promoter": promoter,
        "finance": finance,
    }


def paid_order(world, quantity=2, sharer="promoter", visitor=None):
    visitor = visitor or uuid.uuid4().hex
    link = link_for(world[sharer], "product", world["product"].id)
    open_link(link, visitor)
    variant = world["product"].variants[0]
    with unit_of_work():
        order = place_order(
            [(variant.id, quantity)],
            details(world["store"], phone="13812341234", attribution={"visitor_id": visitor}),
            uuid.uuid4().hex,
        )
    with unit_of_work():
        assert orders.mark_paid_at_store(order.id, world["finance"])
    return db.session.get(Order, order.id)


def refund(order, quantity, staff):
    line = order.lines[0]
    with unit_of_work():
        return orders.refund(
            order.id, {line.id: quantity}, staff=staff, idempotency_key=uuid.uuid4().hex
        )


def age(order, days):
    db.session.execute(
        update(Order).where(Order.id == order.id).values(paid_at=utcnow() - timedelta(days=days))
    )
    db.session.commit()


def test_paid_order_accrues_both_levels(world):
    order = paid_order(world)
    assert balances(world["promoter"].id) == {"pending": 2000, "settled": 0, "paid": 0}
    assert balances(world["guide"].id) == {"pending": 1000, "settled": 0, "paid": 0}
    with unit_of_work():
        assert accrue_commission(order.id) == 0  # the same job again writes nothing
    assert db.session.scalar(select(func.count(CommissionEntry.id))) == 2
    assert verify_ledger() == []


def test_partial_refund_reverses_in_proportion(world):
    order = paid_order(world, quantity=3)
    refund(order, 1, world["finance"])
    assert balances(world["promoter"].id)["pending"] == 2000  # 10% of 20000 still paid
    assert balances(world["guide"].id)["pending"] == 1000
    refund(db.session.get(Order, order.id), 2, world["finance"])
    assert balances(world["promoter"].id)["pending"] == 0
    assert verify_ledger() == []


def test_settle_after_return_window_only(world):
    fresh = paid_order(world)
    old = paid_order(world)
    age(old, 8)
    with unit_of_work():
        assert settle_due_commissions() == 2  # two levels of the one old line
    with unit_of_work():
        assert settle_due_commissions() == 0  # running again moves nothing
    promoter = balances(world["promoter"].id)
    assert promoter == {"pending": 2000, "settled": 2000, "paid": 0}
    assert fresh.id != old.id
    assert verify_ledger() == []


def test_payout_then_refund_leaves_a_negative_balance_netted_next_time(world):
    first = paid_order(world, quantity=2)
    age(first, 10)
    with unit_of_work():
        settle_due_commissions()
    with unit_of_work():
        payout = approve_payout(world["promoter"].id, world["finance"], "CNY")
    assert payout.amount == 2000
    assert balances(world["promoter"].id) == {"pending": 0, "settled": 0, "paid": 2000}

    refund(db.session.get(Order, first.id), 1, world["finance"])  # after payout
    assert balances(world["promoter"].id)["settled"] == -1000

    second = paid_order(world, quantity=3)
    age(second, 10)
    with unit_of_work():
        settle_due_commissions()
    assert balances(world["promoter"].id)["settled"] == 3000 - 1000
    with unit_of_work():
        payout = approve_payout(world["promoter"].id, world["finance"], "CNY")
    assert payout.amount == 2000
    assert balances(world["promoter"].id) == {"pending": 0, "settled": 0, "paid": 4000}
    assert verify_ledger() == []


def test_nothing_to_pay_out(world):
    paid_order(world)
    with pytest.raises(CommissionError):
        with unit_of_work():
            approve_payout(world["promoter"].id, world["finance"], "CNY")


def test_most_specific_rule_wins_and_level_multiplier_applies(world):
    product = world["product"]
    db.session.add_all(
        [
            CommissionRule(
                scope="default",
                kind="percent",
                level1_value=800,
                level2_value=300,
                status="published",
            ),
            CommissionRule(
                scope="product",
                scope_id=product.id,
                kind="percent",
                level1_value=1500,
                level2_value=200,
                status="published",
            ),
            CommissionRule(
                scope="sku",
                scope_id=product.variants[0].id,
                kind="fixed",
                level1_value=700,
                level2_value=100,
                status="draft",
            ),
        ]
    )
    level = SharerLevel(name="Gold", multiplier_pct=120)
    db.session.add(level)
    world["promoter"].level = level
    db.session.commit()
    paid_order(world, quantity=2)
    # product rule (the sku rule is only a draft): 15% × 1.2 of 20000; parent 2% of 20000
    assert balances(world["promoter"].id)["pending"] == 3600
    assert balances(world["guide"].id)["pending"] == 400
    assert verify_ledger() == []


def publish_fixed_rule(world) -> None:
    db.session.add(
        CommissionRule(
            scope="sku",
            scope_id=world["product"].variants[0].id,
            kind="fixed",
            level1_value=700,
            level2_value=100,
            status="published",
        )
    )
    db.session.commit()


def test_fixed_rule_per_unit(world):
    publish_fixed_rule(world)  # 7.00 and 1.00 per unit
    order = paid_order(world, quantity=3)
    assert balances(world["promoter"].id)["pending"] == 2100
    refund(order, 1, world["finance"])
    assert balances(world["promoter"].id)["pending"] == 1400
    assert verify_ledger() == []


def test_a_partial_refund_made_in_stripe_takes_back_its_share(world):
    """A refund made in the Stripe dashboard names no items: its money is spread over the
    lines, and each line's commission comes down to rate × (paid − refunded)."""
    order = paid_order(world, quantity=2)  # 20000 paid: promoter 2000, guide 1000
    with unit_of_work():
        assert orders.record_external_refund(order.id, "re_dash_1", 5000, order.currency)
    with unit_of_work():
        assert not orders.record_external_refund(order.id, "re_dash_1", 5000, order.currency)
    assert balances(world["promoter"].id)["pending"] == 1500
    assert balances(world["guide"].id)["pending"] == 750
    assert world["product"].variants[0].stock == 98  # money only: nothing restocked

    refund(db.session.get(Order, order.id), 1, world["finance"])  # half of the 15000 left
    assert balances(world["promoter"].id)["pending"] == 750
    with unit_of_work():
        assert orders.record_external_refund(order.id, "re_dash_2", 7500, order.currency)
    assert balances(world["promoter"].id)["pending"] == 0
    assert balances(world["guide"].id)["pending"] == 0
    assert verify_ledger() == []


def test_a_stripe_partial_refund_scales_a_fixed_commission(world):
    publish_fixed_rule(world)  # 7.00 and 1.00 per unit
    order = paid_order(world, quantity=3)  # 30000 paid: 2100 and 300
    with unit_of_work():
        assert orders.record_external_refund(order.id, "re_dash_fixed", 10000, order.currency)
    assert balances(world["promoter"].id)["pending"] == 1400  # two thirds of the money kept
    assert balances(world["guide"].id)["pending"] == 200
    assert verify_ledger() == []


def test_verify_catches_a_tampered_entry(world, runner):
    paid_order(world)
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0
    db.session.add(
        CommissionEntry(
            entry_key="forged",
            sharer_id=world["promoter"].id,
            order_id=None,
            order_line_id=None,
            kind="settle",
            bucket="settled",
            amount=5000,
            currency="CNY",
        )
    )
    db.session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert "settle entries do not balance" in result.output


def test_publishing_versions_rules_and_backtest_shows_the_difference(world):
    from distribution import rules

    paid_order(world, quantity=2)  # earns 10% + 5% of 20000 under the built-in default
    draft = CommissionRule(scope="default", kind="percent", level1_value=1200, level2_value=500)
    db.session.add(draft)
    db.session.commit()
    test = rules.backtest(draft.id, days=30)
    assert (test.current, test.proposed, test.difference) == (3000, 3400, 400)
    with unit_of_work():
        rules.publish(draft.id, world["finance"])
    assert draft.version == 1 and draft.status == "published"
    second = CommissionRule(scope="default", kind="percent", level1_value=900, level2_value=500)
    db.session.add(second)
    db.session.commit()
    with unit_of_work():
        rules.publish(second.id, world["finance"])
    assert second.version == 2
    assert db.session.get(CommissionRule, draft.id).status == "archived"
    order = paid_order(world, quantity=1)
    entry = db.session.scalar(
        select(CommissionEntry).where(
            CommissionEntry.order_id == order.id, CommissionEntry.level == 1
        )
    )
    assert entry.rule_id == second.id and entry.amount == 900


def test_invalid_rules_are_refused(world):
    from distribution import rules

    bad = CommissionRule(
        scope="product", scope_id=0, kind="percent", level1_value=100, level2_value=0
    )
    db.session.add(bad)
    db.session.commit()
    with pytest.raises(CommissionError):
        with unit_of_work():
            rules.publish(bad.id, world["finance"])
    over = CommissionRule(scope="default", kind="percent", level1_value=20000, level2_value=0)
    db.session.add(over)
    db.session.commit()
    with pytest.raises(CommissionError):
        with unit_of_work():
            rules.publish(over.id, world["finance"])
    assert db.session.get(CommissionRule, bad.id).status == "draft"


def test_commission_is_owed_at_the_rule_in_force_when_the_order_was_paid(world, monkeypatch):
    """The accrual runs later than the payment (a worker down, a backlog): a rule published
    in between does not change what the order earned."""
    from distribution import rules
    from shop.infra import outbox

    def publish_default(level1_bp):
        draft = CommissionRule(
            scope="default", kind="percent", level1_value=level1_bp, level2_value=500
        )
        db.session.add(draft)
        db.session.commit()
        with unit_of_work():
            rules.publish(draft.id, world["finance"])
        return draft.id

    in_force = publish_default(1200)
    monkeypatch.setattr(outbox, "dispatch", lambda *a, **k: None)  # the worker is down
    order = paid_order(world, quantity=1)
    assert balances(world["promoter"].id)["pending"] == 0  # not accrued yet
    publish_default(3000)  # a richer rule, published after the payment
    monkeypatch.undo()
    db.session.execute(update(outbox.OutboxEvent).values(available_at=utcnow()))
    db.session.commit()
    outbox.redispatch_due()  # the worker is back

    entry = db.session.scalar(
        select(CommissionEntry).where(
            CommissionEntry.order_id == order.id, CommissionEntry.level == 1
        )
    )
    assert (entry.rule_id, entry.amount) == (in_force, 1200)  # 12% of 10000, not 30%
    assert verify_ledger() == []

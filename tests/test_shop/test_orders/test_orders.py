"""The order state machine, its signals (after commit), and refunds per line."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from shop.catalog.models import StockMovement, Variant
from shop.checkout.services import place_order
from shop.demo.factories import make_product
from shop.errors import InvalidInput, InvalidTransition
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus, Refund
from shop.payments.models import Payment
from shop.signals import order_paid, order_placed, order_refunded
from shop.staff.models import AuditLog
from tests.support.shop import details, make_owner, order_for, small_catalog

S = OrderStatus


def _status(order_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Order, order_id).status


def _stock(variant_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Variant, variant_id).stock


def _movements(variant_id: int) -> list[tuple[str, int]]:
    return [
        (m.reason, m.delta)
        for m in db.session.scalars(
            select(StockMovement)
            .where(StockMovement.variant_id == variant_id)
            .order_by(StockMovement.id)
        )
    ]


@pytest.fixture
def shop(ctx):
    store, _, product = small_catalog(stock_qty=10, price=1001)
    return store, product.variants[0], make_owner()


def _refund_all(order: Order, staff, restock: bool = False):
    with unit_of_work():
        return orders.refund(
            order.id,
            {line.id: line.quantity - line.refunded_quantity for line in order.lines},
            staff=staff,
            idempotency_key=uuid.uuid4().hex,
            restock=restock,
        )


def test_every_allowed_transition(shop):
    store, variant, staff = shop

    pickup = order_for(variant, store)
    with unit_of_work():
        assert orders.mark_paid_at_store(pickup.id, staff) is True
    assert _status(pickup.id) == S.PAID
    with unit_of_work():
        orders.mark_picked_up(pickup.id, staff)
    assert _status(pickup.id) == S.PICKED_UP
    with unit_of_work():
        orders.complete(pickup.id, staff)
    assert _status(pickup.id) == S.COMPLETED
    _refund_all(db.session.get(Order, pickup.id), staff)
    assert _status(pickup.id) == S.REFUNDED

    delivery = order_for(variant, store, fulfilment="delivery", city="Suzhou", address="8 Canal")
    with unit_of_work():
        orders.mark_paid_at_store(delivery.id, staff)
    with unit_of_work():
        orders.fulfil(delivery.id, staff)
    assert _status(delivery.id) == S.FULFILLED
    with unit_of_work():
        orders.complete(delivery.id, staff)
    assert _status(delivery.id) == S.COMPLETED

    for step in (None, orders.fulfil):
        refunded = order_for(
            variant, store, fulfilment="delivery", city="Suzhou", address="8 Canal"
        )
        with unit_of_work():
            orders.mark_paid_at_store(refunded.id, staff)
        if step:
            step(refunded.id, staff)
        _refund_all(db.session.get(Order, refunded.id), staff)
        assert _status(refunded.id) == S.REFUNDED

    picked = order_for(variant, store)
    with unit_of_work():
        orders.mark_paid_at_store(picked.id, staff)
    with unit_of_work():
        orders.mark_picked_up(picked.id, staff)
    _refund_all(db.session.get(Order, picked.id), staff)
    assert _status(picked.id) == S.REFUNDED

    cancelled = order_for(variant, store)
    with unit_of_work():
        assert orders.cancel(cancelled.id, "customer called", staff=staff) is True
    assert _status(cancelled.id) == S.CANCELLED

    actions = db.session.scalars(
        select(AuditLog.action).where(AuditLog.object_id == str(pickup.id))
    )
    assert list(actions) == [
        "order.mark_paid",
        "order.picked_up",
        "order.complete",
        "order.refund",
    ]


def test_forbidden_transitions_raise_and_change_nothing(shop):
    store, variant, staff = shop
    unpaid = order_for(variant, store, fulfilment="delivery", city="Suzhou", address="8 Canal")
    paid = order_for(variant, store)
    with unit_of_work():
        orders.mark_paid_at_store(paid.id, staff)
    cancelled = order_for(variant, store)
    with unit_of_work():
        orders.cancel(cancelled.id, "test", staff=staff)
    stock_before = _stock(variant.id)
    audit_before = db.session.scalar(select(func.count(AuditLog.id)))

    forbidden = [
        (
            "fulfil an unpaid order",
            lambda: orders.fulfil(unpaid.id, staff),
            unpaid,
            S.AWAITING_PAYMENT,
        ),
        (
            "complete an unpaid order",
            lambda: orders.complete(unpaid.id, staff),
            unpaid,
            S.AWAITING_PAYMENT,
        ),
        ("cancel a paid order", lambda: orders.cancel(paid.id, "no", staff=staff), paid, S.PAID),
        ("refund an unpaid order", lambda: _refund_all(unpaid, staff), unpaid, S.AWAITING_PAYMENT),
        ("refund a cancelled order", lambda: _refund_all(cancelled, staff), cancelled, S.CANCELLED),
        (
            "pay a cancelled order",
            lambda: orders.mark_paid_at_store(cancelled.id, staff),
            cancelled,
            S.CANCELLED,
        ),
        ("ship a pick-up order", lambda: orders.fulfil(paid.id, staff), paid, S.PAID),
        (
            "pick up a delivery",
            lambda: orders.mark_picked_up(unpaid.id, staff),
            unpaid,
            S.AWAITING_PAYMENT,
        ),
        ("complete before handing over", lambda: orders.complete(paid.id, staff), paid, S.PAID),
    ]
    for case, action, order, status in forbidden:
        with pytest.raises(InvalidTransition) as error:
            action()
        assert error.value.message, case
        assert _status(order.id) == status, case

    assert _stock(variant.id) == stock_before
    assert db.session.scalar(select(func.count(AuditLog.id))) == audit_before


def test_cancel_by_a_job_of_a_paid_order_is_a_no_op(shop):
    store, variant, staff = shop
    order = order_for(variant, store)
    with unit_of_work():
        orders.mark_paid_at_store(order.id, staff)

    with unit_of_work():
        assert orders.cancel(order.id, "expired") is False
    assert _status(order.id) == S.PAID
    assert _stock(variant.id) == 9


def test_marking_paid_twice_sends_order_paid_once(shop):
    store, variant, staff = shop
    order = order_for(variant, store)
    sent = []

    with order_paid.connected_to(lambda _app, order_id: sent.append(order_id)):
        with unit_of_work():
            assert orders.mark_paid_at_store(order.id, staff) is True
        with pytest.raises(InvalidTransition):
            with unit_of_work():
                orders.mark_paid_at_store(order.id, staff)

    assert sent == [order.id]
    assert db.session.scalar(select(func.count(Payment.id))) == 1
    order = db.session.get(Order, order.id)
    assert order.paid_at is not None and not order.needs_review


def test_only_pay_at_store_orders_are_marked_paid_by_staff(shop):
    store, variant, staff = shop
    order = order_for(variant, store)
    db.session.get(Order, order.id).payment_method = "stripe"
    db.session.commit()

    with pytest.raises(InvalidTransition):
        with unit_of_work():
            orders.mark_paid_at_store(order.id, staff)
    assert _status(order.id) == S.AWAITING_PAYMENT


@pytest.mark.postgres
def test_two_staff_marking_paid_at_once_pay_once(app, shop):
    store, variant, staff = shop
    order_id, staff_id = order_for(variant, store).id, staff.id
    start = threading.Barrier(2, timeout=30)
    sent = []

    def mark(_n: int):
        with app.app_context():
            clerk = db.session.get(type(staff), staff_id)
            start.wait()
            try:
                with unit_of_work():
                    return orders.mark_paid_at_store(order_id, clerk)
            except InvalidTransition:
                return False

    with order_paid.connected_to(lambda _app, order_id: sent.append(order_id)):
        with ThreadPoolExecutor(2) as pool:
            results = sorted(pool.map(mark, range(2)))

    assert results == [False, True]
    assert sent == [order_id]
    assert _status(order_id) == S.PAID
    assert db.session.scalar(select(func.count(Payment.id))) == 1
    assert not db.session.get(Order, order_id).needs_review


def _committed_status(app, order_id: int) -> str | None:
    """The order's status as another connection sees it: only committed data."""
    with db.engine.connect() as other:
        return other.scalar(select(Order.status).where(Order.id == order_id))


def test_signals_are_sent_after_commit_with_the_order_id(app, shop):
    store, variant, staff = shop
    seen = []

    def on_placed(_app, order_id):
        seen.append(("placed", order_id, _committed_status(app, order_id)))

    def on_paid(_app, order_id):
        seen.append(("paid", order_id, _committed_status(app, order_id)))

    def on_refunded(_app, order_id, refund_id):
        with db.engine.connect() as other:
            amount = other.scalar(select(Refund.amount).where(Refund.id == refund_id))
        seen.append(("refunded", order_id, _committed_status(app, order_id), amount))

    with (
        order_placed.connected_to(on_placed),
        order_paid.connected_to(on_paid),
        order_refunded.connected_to(on_refunded),
    ):
        order = order_for(variant, store, quantity=2)
        with unit_of_work():
            orders.mark_paid_at_store(order.id, staff)
        line = db.session.get(Order, order.id).lines[0]
        with unit_of_work():
            orders.refund(order.id, {line.id: 1}, staff=staff, idempotency_key=uuid.uuid4().hex)

    assert seen == [
        ("placed", order.id, S.AWAITING_PAYMENT),
        ("paid", order.id, S.PAID),
        ("refunded", order.id, S.PAID, 1001),
    ]


def test_refund_per_line_with_and_without_restock(shop):
    store, tea, staff = shop
    cup = make_product("Cup", price=2500, stock_qty=10, store=store).variants[0]
    db.session.commit()

    with unit_of_work():
        order = place_order([(tea.id, 3), (cup.id, 2)], details(store), uuid.uuid4().hex)
    with unit_of_work():
        orders.mark_paid_at_store(order.id, staff)
    order = db.session.get(Order, order.id)
    tea_line, cup_line = sorted(order.lines, key=lambda line: line.variant_id != tea.id)
    assert (_stock(tea.id), _stock(cup.id)) == (7, 8)

    with unit_of_work():
        restocked = orders.refund(
            order.id, {tea_line.id: 2}, staff=staff, idempotency_key=uuid.uuid4().hex, restock=True
        )
    with unit_of_work():
        kept = orders.refund(
            order.id, {cup_line.id: 1}, staff=staff, idempotency_key=uuid.uuid4().hex, restock=False
        )

    assert (restocked.amount, kept.amount) == (2002, 2500)
    assert (_stock(tea.id), _stock(cup.id)) == (9, 8)
    assert _movements(tea.id) == [("initial", 10), ("reserve", -3), ("restock", 2)]
    assert _movements(cup.id) == [("initial", 10), ("reserve", -2)]
    order = db.session.get(Order, order.id)
    assert order.refunded_amount == 4502
    assert order.status == S.PAID and order.refund_state == "partial"
    assert (tea_line.refunded_quantity, cup_line.refunded_quantity) == (2, 1)
    payments = db.session.scalars(select(Payment.amount).order_by(Payment.id)).all()
    assert payments == [order.total, -2002, -2500]


def test_partial_then_full_refund_adds_up_to_the_total(shop):
    store, variant, staff = shop
    order = order_for(
        variant, store, quantity=3, fulfilment="delivery", city="Suzhou", address="8 Canal"
    )
    assert (order.subtotal, order.shipping) == (3003, 1000)
    with unit_of_work():
        orders.mark_paid_at_store(order.id, staff)
    line = db.session.get(Order, order.id).lines[0]

    with unit_of_work():
        first = orders.refund(order.id, {line.id: 1}, staff=staff, idempotency_key=uuid.uuid4().hex)
    with unit_of_work():
        second = orders.refund(
            order.id, {line.id: 2}, staff=staff, idempotency_key=uuid.uuid4().hex
        )

    assert first.amount == 1001
    assert first.amount + second.amount == order.total == 4003
    order = db.session.get(Order, order.id)
    assert order.refunded_amount == order.total
    assert order.status == S.REFUNDED and order.refund_state == "full"
    with pytest.raises(InvalidTransition):
        with unit_of_work():
            orders.refund(order.id, {line.id: 1}, staff=staff, idempotency_key=uuid.uuid4().hex)


def test_refund_replay_and_over_refund(shop):
    store, variant, staff = shop
    order = order_for(variant, store, quantity=2)
    with unit_of_work():
        orders.mark_paid_at_store(order.id, staff)
    line = db.session.get(Order, order.id).lines[0]
    key = uuid.uuid4().hex
    sent = []

    with order_refunded.connected_to(lambda _app, order_id, refund_id: sent.append(refund_id)):
        with unit_of_work():
            first = orders.refund(order.id, {line.id: 1}, staff=staff, idempotency_key=key)
        with unit_of_work():
            again = orders.refund(order.id, {line.id: 1}, staff=staff, idempotency_key=key)

    assert again.id == first.id and sent == [first.id]
    for quantities in ({line.id: 2}, {line.id: -1}, {line.id: 0}, {line.id + 999: 1}):
        with pytest.raises(InvalidInput):
            with unit_of_work():
                orders.refund(order.id, quantities, staff=staff, idempotency_key=uuid.uuid4().hex)
    assert db.session.get(Order, order.id).refunded_amount == 1001
    assert db.session.scalar(select(func.count(Refund.id))) == 1

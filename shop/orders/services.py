"""The order state machine and the verbs that move an order through it.

    awaiting_payment ──> paid ──> fulfilled | picked_up ──> completed
           │               └──────────┴───────────┴──> refunded (when fully refunded)
           └──> cancelled (expired, payment failed, or cancelled by staff; stock released)

Every transition is a conditional ``UPDATE ... WHERE status IN (...)`` whose row count decides
who won, so a webhook delivered five times or a double-clicked admin button has one effect.
What a transition owes elsewhere (commission, points, ...) is published to the outbox in its
transaction (``shop.orders.topics``); signals go out only after the commit, as notifications.

The verbs do not commit: the entry point that calls them (a view, the webhook, a job) owns the
unit of work (``shop.infra.unit_of_work``). The one exception calls the outside world:
``settle_refund`` runs its own transactions around Stripe's refund call, holding no row while
Stripe answers.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from shop.catalog import stock
from shop.catalog.models import StockReason
from shop.errors import InvalidInput, InvalidTransition
from shop.extensions import db
from shop.infra import outbox
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import after_commit, unit_of_work
from shop.members import coupons, points
from shop.orders import refunds
from shop.orders.models import (
    Fulfilment,
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    Refund,
    RefundLine,
    RefundStatus,
)
from shop.orders.topics import OrderTopic
from shop.payments import stripe_gateway
from shop.payments.models import Payment
from shop.signals import announce, order_cancelled, order_paid, order_refunded
from shop.staff import audit

log = logging.getLogger(__name__)

S = OrderStatus
TRANSITIONS: dict[str, set[str]] = {
    S.AWAITING_PAYMENT: {S.PAID, S.CANCELLED},
    S.PAID: {S.FULFILLED, S.PICKED_UP, S.REFUNDED},
    S.FULFILLED: {S.COMPLETED, S.REFUNDED},
    S.PICKED_UP: {S.COMPLETED, S.REFUNDED},
    S.COMPLETED: {S.REFUNDED},
    S.CANCELLED: set(),
    S.REFUNDED: set(),
}
REFUNDABLE = {S.PAID, S.FULFILLED, S.PICKED_UP, S.COMPLETED}
NOTHING_TO_REFUND = _l("Nothing to refund: no money was paid for these items.")
#: how long a refund may stay requested before the sweep asks Stripe again
SETTLE_AFTER = timedelta(seconds=60)
_ANNOUNCED_MOVES = {S.FULFILLED: OrderTopic.FULFILLED, S.PICKED_UP: OrderTopic.PICKED_UP}


def _app():
    return current_app._get_current_object()


def _move(order_id: int, to: str, **values) -> bool:
    """Move the order to ``to`` if its current state allows it; True if this call did."""
    sources = [state for state, targets in TRANSITIONS.items() if to in targets]
    result = db.session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status.in_(sources))
        .values(status=to, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _get(order_id: int) -> Order:
    order = db.session.get(Order, order_id, populate_existing=True)
    if order is None:
        raise InvalidInput(_("That order does not exist."))
    return order


def _quantities(order: Order) -> list[tuple[int, int]]:
    return [(line.variant_id, line.quantity) for line in order.lines]


def confirm_payment(
    order_id: int, *, provider: str, external_id: str, amount: int, currency: str, staff=None
) -> bool:
    """Record money received for an order and mark it paid. True only for the call that paid it.

    An amount or currency that differs from the order's flags it for review and fulfils nothing.
    A payment that arrives after the reservation expired re-reserves the stock if it is still
    there; otherwise the order is flagged for review (the money must go back by hand).
    Does not commit.
    """
    order = _get(order_id)
    before = {"status": order.status}
    if db.session.scalar(select(Payment.id).where(Payment.external_id == external_id)):
        return False
    try:
        # A concurrent recording of the same payment waits, then loses, here; its savepoint
        # keeps the caller's transaction usable.
        with db.session.begin_nested():
            db.session.add(
                Payment(
                    order_id=order.id,
                    provider=provider,
                    external_id=external_id,
                    amount=amount,
                    currency=currency.upper(),
                )
            )
    except IntegrityError:
        return False
    paid = False
    if amount != order.total or currency.upper() != order.currency:
        order.needs_review = True
        order.review_reason = (
            f"Payment {external_id} of {amount} {currency.upper()} does not match the order "
            f"total {order.total} {order.currency}"
        )
    elif order.status == S.CANCELLED:
        try:
            with db.session.begin_nested():
                stock.reserve(order.id, _quantities(order))
                db.session.execute(
                    update(Order)
                    .where(Order.id == order.id, Order.status == S.CANCELLED)
                    .values(status=S.PAID, paid_at=utcnow(), updated_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
            paid = True
        except Exception:
            order.needs_review = True
            order.review_reason = (
                f"Paid by {external_id} after the reservation expired; "
                "stock is gone: refund or fulfil by hand"
            )
    else:
        paid = _move(order.id, S.PAID, paid_at=utcnow())
        if not paid:
            order.needs_review = True
            order.review_reason = (
                f"Second payment {external_id} for an order already {order.status}"
            )
    if staff is not None:
        audit.record(
            staff,
            "order.mark_paid",
            order,
            before=before,
            after={
                "status": S.PAID if paid else order.status,
                "amount": amount,
                # The provider, not the reference: staff read it in the audit log.
                "payment": provider,
            },
        )
    if paid:
        outbox.publish(OrderTopic.PAID, order.id)
        after_commit(announce, order_paid, _app(), order_id=order.id)
    return paid


def store_payment_reference(order: Order) -> str:
    """A pay-at-store payment's reference: the order's number, never its secret link token
    (the reference is shown in the payments list and exports)."""
    return f"store-{order.number}"


def mark_paid_at_store(order_id: int, staff) -> bool:
    """Staff took the money at the counter (or on delivery) for a pay-at-store order. Does not
    commit."""
    order = _get(order_id)
    if order.payment_method != PaymentMethod.STORE:
        raise InvalidTransition(_("Only pay-at-store orders can be marked paid by staff."))
    if order.status != S.AWAITING_PAYMENT:
        raise InvalidTransition(
            _("Order %(n)s is %(s)s, not awaiting payment.", n=order.number, s=order.status)
        )
    return confirm_payment(
        order.id,
        provider=PaymentMethod.STORE,
        external_id=store_payment_reference(order),
        amount=order.total,
        currency=order.currency,
        staff=staff,
    )


def cancel(order_id: int, reason: str, staff=None) -> bool:
    """Cancel an unpaid order and give its stock back. True if this call cancelled it. Does not
    commit."""
    order = _get(order_id)
    if order.needs_review and staff is None:
        return False  # a flagged order waits for a person
    if not _move(order.id, S.CANCELLED):
        if staff is not None:
            raise InvalidTransition(_("Only orders awaiting payment can be cancelled."))
        return False
    stock.release(order.id, _quantities(order))
    coupons.give_back(order.id)
    points.return_spent(order)
    if staff is not None:
        audit.record(
            staff,
            "order.cancel",
            order,
            before={"status": S.AWAITING_PAYMENT},
            after={"status": S.CANCELLED, "reason": reason},
        )
    outbox.publish(OrderTopic.CANCELLED, order.id)
    after_commit(announce, order_cancelled, _app(), order_id=order.id, reason=reason)
    return True


def expire(order_id: int) -> bool:
    """Cancel an order whose reservation ran out unpaid (the expiry job; safe to run twice).
    Does not commit."""
    order = db.session.get(Order, order_id)
    if order is None or order.status != S.AWAITING_PAYMENT or order.expires_at is None:
        return False
    if order.expires_at > utcnow():
        return False
    return cancel(order_id, "expired")


def expire_due_each_in_own_transaction() -> int:
    """Sweep: cancel every order whose reservation has run out, each in its own transaction
    (one that fails is logged and left for the next run); returns how many."""
    due = db.session.scalars(
        select(Order.id).where(
            Order.status == S.AWAITING_PAYMENT,
            Order.expires_at <= utcnow(),
            Order.needs_review.is_(False),
        )
    ).all()
    db.session.rollback()
    expired = 0
    for order_id in due:
        try:
            with unit_of_work():
                expired += expire(order_id)
        except Exception:
            log.exception("order %s could not be expired; the next sweep tries again", order_id)
    return expired


def _staff_move(order_id: int, to: str, staff, action: str) -> None:
    order = _get(order_id)
    before = order.status
    if not _move(order_id, to):
        raise InvalidTransition(
            _("Order %(n)s is %(s)s and cannot become %(t)s.", n=order.number, s=before, t=to)
        )
    audit.record(staff, action, order, before={"status": before}, after={"status": to})
    if to in _ANNOUNCED_MOVES:
        outbox.publish(_ANNOUNCED_MOVES[to], order_id)


def fulfil(order_id: int, staff) -> None:
    """A delivery order was handed to the courier."""
    order = _get(order_id)
    if order.fulfilment != Fulfilment.DELIVERY:
        raise InvalidTransition(_("Pick-up orders are marked picked up, not shipped."))
    _staff_move(order_id, S.FULFILLED, staff, "order.fulfil")


def mark_picked_up(order_id: int, staff) -> None:
    order = _get(order_id)
    if order.fulfilment != Fulfilment.PICKUP:
        raise InvalidTransition(_("Only pick-up orders can be marked picked up."))
    _staff_move(order_id, S.PICKED_UP, staff, "order.picked_up")


def complete(order_id: int, staff) -> None:
    _staff_move(order_id, S.COMPLETED, staff, "order.complete")


def refund(
    order_id: int,
    quantities: dict[int, int],
    *,
    staff,
    idempotency_key: str,
    restock: bool = False,
    reason: str = "",
) -> Refund:
    """Refund some or all lines of a paid order. Does not commit.

    The refunded quantities and amount are taken from the order at once (conditional updates
    guard them against a concurrent refund), so no money can be refunded twice. Money Stripe
    took goes back through Stripe, which is called outside this transaction: such a refund is
    ``requested`` until ``settle_refund`` (the entry point's, after its commit, or the sweep's)
    has Stripe's answer. Any other refund is done here. The same key returns the first refund;
    a key already used for another order is refused (``InvalidInput``).
    """
    existing = _refund_by_key(order_id, idempotency_key)
    if existing is not None:
        return existing
    order = _get(order_id)
    if order.status not in REFUNDABLE:
        raise InvalidTransition(
            _("Order %(n)s is %(s)s and cannot be refunded.", n=order.number, s=order.status)
        )
    amount, per_line = refunds.refund_amounts(order, quantities)
    if amount <= 0:
        raise InvalidInput(NOTHING_TO_REFUND)
    through_stripe = order.payment_method == PaymentMethod.STRIPE and order.stripe_payment_intent
    record = Refund(
        order_id=order.id,
        idempotency_key=idempotency_key,
        amount=amount,
        currency=order.currency,
        reason=(reason or "")[:255],
        restock=restock,
        staff_id=getattr(staff, "id", None),
        status=RefundStatus.REQUESTED if through_stripe else RefundStatus.SUCCEEDED,
    )
    try:
        with db.session.begin_nested():  # the same key submitted concurrently waits, then loses
            db.session.add(record)
    except IntegrityError:
        existing = _refund_by_key(order_id, idempotency_key)
        if existing is None:
            raise
        return existing
    for line_id, line_amount in per_line.items():
        quantity = quantities[line_id]
        if not _take_from_line(line_id, quantity, line_amount):
            raise InvalidInput(_("This item was refunded in the meantime; reload the order."))
        record.lines.append(
            RefundLine(order_line_id=line_id, quantity=quantity, amount=line_amount)
        )
    if not _add_refunded(order, amount):
        raise InvalidInput(_("This order was refunded in the meantime; reload the order."))
    db.session.flush()
    if not through_stripe:
        _refunded(order, record, f"refund-{idempotency_key}", staff)
    return record


def _refund_by_key(order_id: int, idempotency_key: str) -> Refund | None:
    existing = db.session.scalar(select(Refund).where(Refund.idempotency_key == idempotency_key))
    if existing is not None and existing.order_id != order_id:
        raise InvalidInput(_("This refund key belongs to another order."))
    return existing


def settle_refund(refund_id: int) -> Refund | None:
    """Have Stripe refund a ``requested`` refund and apply its answer. Its own transactions.

    Nothing is held while Stripe is called: the request was committed before (its amount is
    already taken from the order), Stripe gets the refund's own idempotency key, so calling
    this again (the sweep after a crash, a second worker) makes no second refund, and the answer
    is applied in a second transaction only by the call that moves the refund out of
    ``requested``. If Stripe refuses for good, the refund fails and gives the order its amount
    back; if it could not be asked or did not decide, the refund stays requested for the sweep.
    Returns the refund as it now stands (None if there is no such refund).
    """
    record = db.session.get(Refund, refund_id, populate_existing=True)
    if record is None or record.status != RefundStatus.REQUESTED:
        return record
    order = record.order
    call = {
        "payment_intent": order.stripe_payment_intent,
        "amount": record.amount,
        "order_id": order.id,
        "idempotency_key": record.idempotency_key,
    }
    db.session.rollback()  # end the read: no transaction is open while Stripe answers
    try:
        stripe_refund_id = stripe_gateway.create_refund(**call)
    except stripe_gateway.GatewayError as exc:
        log.warning("Stripe refund %s for order %s: %s", refund_id, call["order_id"], exc)
        if exc.retryable:
            return db.session.get(Refund, refund_id)
        with unit_of_work():
            _refund_failed(refund_id, exc.message)
        return db.session.get(Refund, refund_id)
    with unit_of_work():
        if _leave_requested(refund_id, RefundStatus.SUCCEEDED, stripe_refund_id=stripe_refund_id):
            record = db.session.get(Refund, refund_id, populate_existing=True)
            _refunded(record.order, record, stripe_refund_id, record.staff)
    return db.session.get(Refund, refund_id, populate_existing=True)


def settle_requested_refunds_each_in_own_transaction(older_than: timedelta = SETTLE_AFTER) -> int:
    """Sweep: settle every refund still requested after ``older_than`` (a crash or a network
    error came between the request and Stripe's answer), each in its own transactions.
    Returns how many it settled (succeeded or failed)."""
    due = db.session.scalars(
        select(Refund.id).where(
            Refund.status == RefundStatus.REQUESTED, Refund.created_at <= utcnow() - older_than
        )
    ).all()
    db.session.rollback()
    settled = 0
    for refund_id in due:
        try:
            record = settle_refund(refund_id)
        except Exception:
            db.session.rollback()
            log.exception("refund %s not settled; the next sweep tries again", refund_id)
            continue
        settled += record is not None and record.status != RefundStatus.REQUESTED
    return settled


def _take_from_line(line_id: int, quantity: int, amount: int) -> bool:
    """Count ``quantity`` and ``amount`` of a line as refunded unless more than it holds."""
    return (
        db.session.execute(
            update(OrderLine)
            .where(
                OrderLine.id == line_id,
                OrderLine.refunded_quantity + quantity <= OrderLine.quantity,
            )
            .values(
                refunded_quantity=OrderLine.refunded_quantity + quantity,
                refunded_amount=OrderLine.refunded_amount + amount,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def _leave_requested(refund_id: int, to: str, **values) -> bool:
    """Move a refund out of ``requested``; True only for the call that did."""
    done = db.session.execute(
        update(Refund)
        .where(Refund.id == refund_id, Refund.status == RefundStatus.REQUESTED)
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    return done == 1


def _refunded(order: Order, record: Refund, external_id: str, staff) -> None:
    """The money went back: restock, the payment's negative row, the order's state, the audit
    entry and the work owed elsewhere (commission reversal, points taken back)."""
    if record.restock:
        variants = {line.id: line.variant_id for line in order.lines}
        for refund_line in record.lines:
            stock.change_stock(
                variants[refund_line.order_line_id],
                refund_line.quantity,
                StockReason.RESTOCK,
                order_id=order.id,
                staff_id=record.staff_id,
            )
    db.session.add(
        Payment(
            order_id=order.id,
            provider=order.payment_method,
            external_id=external_id,
            amount=-record.amount,
            currency=order.currency,
        )
    )
    db.session.refresh(order, ["refunded_amount", "total", "status"])
    before = {"status": order.status, "refunded_amount": order.refunded_amount - record.amount}
    if order.refunded_amount >= order.total:
        _move(order.id, S.REFUNDED)
        db.session.refresh(order, ["status"])
    audit.record(
        staff,
        "order.refund",
        order,
        before=before,
        after={
            "refunded_amount": order.refunded_amount + 0,
            "refund": record.amount,
            "lines": {str(line.order_line_id): line.quantity for line in record.lines},
            "restock": record.restock,
            "reason": record.reason,
        },
    )
    db.session.flush()
    outbox.publish(OrderTopic.REFUNDED, order.id, record.id)
    after_commit(announce, order_refunded, _app(), order_id=order.id, refund_id=record.id)


def _refund_failed(refund_id: int, message: str) -> None:
    """Stripe refused the refund for good: it fails and the order gets its amount back."""
    if not _leave_requested(refund_id, RefundStatus.FAILED, failure=message[:255]):
        return
    record = db.session.get(Refund, refund_id, populate_existing=True)
    for refund_line in record.lines:
        db.session.execute(
            update(OrderLine)
            .where(OrderLine.id == refund_line.order_line_id)
            .values(
                refunded_quantity=OrderLine.refunded_quantity - refund_line.quantity,
                refunded_amount=OrderLine.refunded_amount - refund_line.amount,
            )
            .execution_options(synchronize_session=False)
        )
    db.session.execute(
        update(Order)
        .where(Order.id == record.order_id)
        .values(refunded_amount=Order.refunded_amount - record.amount, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    audit.record(
        record.staff,
        "order.refund_failed",
        record.order,
        after={"refund": record.amount, "error": message[:255]},
    )


def _add_refunded(order: Order, amount: int) -> bool:
    """Add ``amount`` to the order's refunded total unless that would pass its total."""
    done = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.refunded_amount + amount <= Order.total)
        .values(refunded_amount=Order.refunded_amount + amount, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        return False
    db.session.refresh(order, ["refunded_amount", "total", "status"])
    return True


def record_external_refund(
    order_id: int, stripe_refund_id: str, amount: int, currency: str
) -> bool:
    """A refund made outside Siyu (the Stripe dashboard), reported by webhook. Idempotent.
    Does not commit.

    It names no items: a partial one is spread over the lines (``refunds.allocate_money_only``), the
    one that empties the order refunds every line in full. Nothing is restocked.
    """
    if db.session.scalar(select(Refund.id).where(Refund.stripe_refund_id == stripe_refund_id)):
        return False
    order = _get(order_id)
    if currency.upper() != order.currency or not _add_refunded(order, amount):
        if db.session.scalar(select(Refund.id).where(Refund.stripe_refund_id == stripe_refund_id)):
            return False  # a concurrent delivery recorded it while we waited for the order row
        order.needs_review = True
        order.review_reason = f"Stripe refund {stripe_refund_id} of {amount} does not fit the order"
        return False
    if order.refunded_amount >= order.total:
        _move(order.id, S.REFUNDED)
        db.session.refresh(order, ["status"])
    record = Refund(
        order_id=order.id,
        idempotency_key=f"stripe-{stripe_refund_id}",
        amount=amount,
        currency=order.currency,
        reason="Refunded in Stripe",
        stripe_refund_id=stripe_refund_id,
    )
    db.session.add(record)
    if order.refunded_amount < order.total:
        refunds.allocate_money_only(order, record, amount)
    else:
        # All of the order's money went back, so all of every line did: commission (which
        # follows the lines) is reversed in full.
        for line in order.lines:
            left = line.quantity - line.refunded_quantity
            if not left:
                continue
            paid = order.paid_for(line)
            line_amount = paid - line.refunded_amount
            line.refunded_quantity = line.quantity
            line.refunded_amount = paid
            record.lines.append(
                RefundLine(order_line_id=line.id, quantity=left, amount=line_amount)
            )
    db.session.add(
        Payment(
            order_id=order.id,
            provider=PaymentMethod.STRIPE,
            external_id=stripe_refund_id,
            amount=-amount,
            currency=order.currency,
        )
    )
    try:
        with db.session.begin_nested():  # a concurrent delivery of the same refund loses here
            db.session.flush()
    except IntegrityError:
        return False
    outbox.publish(OrderTopic.REFUNDED, order.id, record.id)
    after_commit(announce, order_refunded, _app(), order_id=order.id, refund_id=record.id)
    return True


def just_placed(order_id: int | None, items: list[tuple[int, int]], within: timedelta):
    """Order ``order_id`` when it was placed in the last ``within`` for exactly ``items``
    (``(variant_id, quantity)`` pairs) and is not cancelled; else None."""
    if order_id is None:
        return None
    order = db.session.scalar(
        select(Order)
        .options(selectinload(Order.lines))
        .where(
            Order.id == order_id,
            Order.created_at >= utcnow() - within,
            Order.status != OrderStatus.CANCELLED,
        )
    )
    if order is None or [(line.variant_id, line.quantity) for line in order.lines] != items:
        return None
    return order

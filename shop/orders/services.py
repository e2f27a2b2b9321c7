"""The order state machine and the verbs that move an order through it.

    awaiting_payment ──> paid ──> fulfilled | picked_up ──> completed
           │               └──────────┴───────────┴──> refunded (when fully refunded)
           └──> cancelled (expired, payment failed, or cancelled by staff; stock released)

Every transition is a conditional ``UPDATE ... WHERE status IN (...)`` whose row count decides
who won, so a webhook delivered five times or a double-clicked admin button has one effect.
What a transition owes elsewhere (commission, points, ...) is published to the outbox in its
transaction (``shop.orders.topics``); signals go out only after the commit, as notifications.
"""

from __future__ import annotations

import logging

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shop.catalog import stock
from shop.catalog.models import StockReason
from shop.errors import InvalidInput, InvalidTransition, PaymentError
from shop.extensions import db
from shop.infra import outbox
from shop.infra.clock import utcnow
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
    """
    order = _get(order_id)
    before = {"status": order.status}
    if db.session.scalar(select(Payment.id).where(Payment.external_id == external_id)):
        return False
    db.session.add(
        Payment(
            order_id=order.id,
            provider=provider,
            external_id=external_id,
            amount=amount,
            currency=currency.upper(),
        )
    )
    try:
        db.session.flush()  # a concurrent recording of the same payment waits, then loses, here
    except IntegrityError:
        db.session.rollback()
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
    try:
        db.session.commit()
    except IntegrityError:  # the same payment recorded concurrently
        db.session.rollback()
        return False
    if paid:
        announce(order_paid, _app(), order_id=order.id)
    return paid


def store_payment_reference(order: Order) -> str:
    """A pay-at-store payment's reference: the order's number, never its secret link token
    (the reference is shown in the payments list and exports)."""
    return f"store-{order.number}"


def mark_paid_at_store(order_id: int, staff) -> bool:
    """Staff took the money at the counter (or on delivery) for a pay-at-store order."""
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
    """Cancel an unpaid order and give its stock back. True if this call cancelled it."""
    order = _get(order_id)
    if order.needs_review and staff is None:
        return False  # a flagged order waits for a person
    if not _move(order.id, S.CANCELLED):
        db.session.rollback()
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
    db.session.commit()
    announce(order_cancelled, _app(), order_id=order.id, reason=reason)
    return True


def expire(order_id: int) -> bool:
    """Cancel an order whose reservation ran out unpaid (the expiry job; safe to run twice)."""
    order = db.session.get(Order, order_id)
    if order is None or order.status != S.AWAITING_PAYMENT or order.expires_at is None:
        return False
    if order.expires_at > utcnow():
        return False
    return cancel(order_id, "expired")


def expire_due() -> int:
    """Cancel every order whose reservation has run out; returns how many."""
    due = db.session.scalars(
        select(Order.id).where(
            Order.status == S.AWAITING_PAYMENT,
            Order.expires_at <= utcnow(),
            Order.needs_review.is_(False),
        )
    ).all()
    return sum(1 for order_id in due if expire(order_id))


def _staff_move(order_id: int, to: str, staff, action: str) -> None:
    order = _get(order_id)
    before = order.status
    if not _move(order_id, to):
        db.session.rollback()
        raise InvalidTransition(
            _("Order %(n)s is %(s)s and cannot become %(t)s.", n=order.number, s=before, t=to)
        )
    audit.record(staff, action, order, before={"status": before}, after={"status": to})
    db.session.commit()


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
    """Refund some or all lines of a paid order, through Stripe where Stripe took the money.

    One transaction: conditional updates guard the refunded quantities and amount against a
    concurrent refund; the Stripe refund is created with our idempotency key before commit, so
    a retry after a failed commit cannot refund twice. The same key returns the first refund;
    a key already used for another order is refused (``InvalidInput``).
    """
    existing = db.session.scalar(select(Refund).where(Refund.idempotency_key == idempotency_key))
    if existing is not None:
        if existing.order_id != order_id:
            raise InvalidInput(_("This refund key belongs to another order."))
        return existing
    order = _get(order_id)
    if order.status not in REFUNDABLE:
        raise InvalidTransition(
            _("Order %(n)s is %(s)s and cannot be refunded.", n=order.number, s=order.status)
        )
    amount, per_line = refunds.refund_amounts(order, quantities)
    before = {"status": order.status, "refunded_amount": order.refunded_amount}
    record = Refund(
        order_id=order.id,
        idempotency_key=idempotency_key,
        amount=amount,
        currency=order.currency,
        reason=(reason or "")[:255],
        restock=restock,
        staff_id=getattr(staff, "id", None),
    )
    db.session.add(record)
    lines = {line.id: line for line in order.lines}
    for line_id, line_amount in per_line.items():
        quantity = quantities[line_id]
        done = db.session.execute(
            update(OrderLine)
            .where(
                OrderLine.id == line_id,
                OrderLine.refunded_quantity + quantity <= OrderLine.quantity,
            )
            .values(
                refunded_quantity=OrderLine.refunded_quantity + quantity,
                refunded_amount=OrderLine.refunded_amount + line_amount,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if done != 1:
            db.session.rollback()
            raise InvalidInput(_("This item was refunded in the meantime; reload the order."))
        record.lines.append(
            RefundLine(order_line_id=line_id, quantity=quantity, amount=line_amount)
        )
        if restock:
            stock.change_stock(
                lines[line_id].variant_id,
                quantity,
                StockReason.RESTOCK,
                order_id=order.id,
                staff_id=getattr(staff, "id", None),
            )
    if not _add_refunded(order, amount):
        db.session.rollback()
        raise InvalidInput(_("This order was refunded in the meantime; reload the order."))
    db.session.flush()
    if order.payment_method == PaymentMethod.STRIPE and order.stripe_payment_intent:
        try:
            record.stripe_refund_id = stripe_gateway.create_refund(
                payment_intent=order.stripe_payment_intent,
                amount=amount,
                order_id=order.id,
                idempotency_key=idempotency_key,
            )
        except stripe_gateway.GatewayError as exc:
            db.session.rollback()
            log.warning("Stripe refund for order %s failed: %s", order_id, exc)
            raise PaymentError(_("Stripe refused the refund: %(msg)s", msg=exc.message)) from exc
        except Exception:
            db.session.rollback()
            raise
        external_id = record.stripe_refund_id
    else:
        external_id = f"refund-{idempotency_key}"
    db.session.add(
        Payment(
            order_id=order.id,
            provider=order.payment_method,
            external_id=external_id,
            amount=-amount,
            currency=order.currency,
        )
    )
    audit.record(
        staff,
        "order.refund",
        order,
        before=before,
        after={
            "refunded_amount": order.refunded_amount + 0,
            "refund": amount,
            "lines": {str(k): v for k, v in quantities.items() if v},
            "restock": restock,
            "reason": reason,
        },
    )
    db.session.flush()
    outbox.publish(OrderTopic.REFUNDED, order.id, record.id)
    db.session.commit()
    announce(order_refunded, _app(), order_id=order.id, refund_id=record.id)
    return record


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
    if order.refunded_amount >= order.total:
        _move(order.id, S.REFUNDED)
        db.session.refresh(order, ["status"])
    return True


def record_external_refund(
    order_id: int, stripe_refund_id: str, amount: int, currency: str
) -> bool:
    """A refund made outside Siyu (the Stripe dashboard), reported by webhook. Idempotent.

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
        db.session.commit()
        return False
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
        db.session.flush()
        outbox.publish(OrderTopic.REFUNDED, order.id, record.id)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    announce(order_refunded, _app(), order_id=order.id, refund_id=record.id)
    return True

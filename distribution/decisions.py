"""Every paid order has a commission decision, and every refund its reversal.

A decision is the order's ``Attribution`` (who gets credit, or nobody and why, in its
``rule`` and ``facts``) and, when it names a sharer, the order's accrual entries. Refunds are
checked by ``commission.verify_ledger`` (each line's net against rate × (paid − refunded)).
``ledger verify`` reports what is missing; ``ledger reconcile`` writes it, once: the accrual
and reversal entries carry keys, so a second run writes nothing.
"""

from __future__ import annotations

from sqlalchemy import exists, select

from distribution import jobs
from distribution.commission import preview
from distribution.models import Attribution, CommissionEntry, EntryKind
from shop.extensions import db
from shop.orders.models import Order, OrderStatus, Refund, RefundStatus

PAID_STATES = (
    OrderStatus.PAID,
    OrderStatus.FULFILLED,
    OrderStatus.PICKED_UP,
    OrderStatus.COMPLETED,
)


def _undecided() -> list[tuple[Order, str]]:
    accrued = exists().where(
        CommissionEntry.order_id == Order.id, CommissionEntry.kind == EntryKind.ACCRUE
    )
    rows = db.session.execute(
        select(Order, Attribution)
        .outerjoin(Attribution, Attribution.order_id == Order.id)
        .where(
            Order.status.in_(PAID_STATES),
            ~accrued,
            (Attribution.order_id.is_(None)) | (Attribution.sharer_id.is_not(None)),
        )
        .order_by(Order.id)
    ).all()
    missing = []
    for order, attribution in rows:
        if attribution is None:
            missing.append((order, "no attribution"))
        elif preview(order, attribution, at=order.paid_at):
            missing.append((order, "no commission accrued for its sharer"))
    return missing


def missing_decisions() -> list[str]:
    """A ledger check: paid orders with no commission decision."""
    return [f"order {order.number}: paid, {why}" for order, why in _undecided()]


def reconcile() -> list[str]:
    """Write the missing decisions (attribution, accrual) and reversals; one line per order
    it changed. Each job commits its own work."""
    done = []
    for order, why in _undecided():
        written = jobs.accrue_commission(order.id)
        done.append(f"order {order.number}: {why}: attributed, {written} commission entries")
    refunds = db.session.execute(
        select(Refund.order_id, Refund.id)
        .where(
            Refund.status == RefundStatus.SUCCEEDED,
            exists().where(
                CommissionEntry.order_id == Refund.order_id,
                CommissionEntry.kind == EntryKind.ACCRUE,
            ),
        )
        .order_by(Refund.id)
    ).all()
    for order_id, refund_id in refunds:
        written = jobs.reverse_commission(order_id, refund_id)
        if written:
            done.append(f"order {order_id} refund {refund_id}: {written} reversal entries")
    return done

"""Every paid order has a points decision: its earn entry, or nothing to earn.

An order earns when it is paid (or once the settle period has passed, when the shop credits
points on settlement). ``ledger verify`` reports a paid order that should have earned and has
no earn entry; ``ledger reconcile`` credits it, once (the entry's key is the order's). Points
given back or taken back for refunds are checked by replaying the lots (``points``).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, select

from shop.extensions import db
from shop.infra.clock import utcnow
from shop.members import points
from shop.members.models import CreditOn, PointsEntry, PointsKind
from shop.orders.models import Order


def _undecided() -> list[tuple[Order, int]]:
    """Paid orders without an earn entry, with the points each earns (those earning some)."""
    rules = points.settings()
    earned = exists().where(PointsEntry.order_id == Order.id, PointsEntry.kind == PointsKind.EARN)
    query = select(Order).where(Order.status.in_(points.EARNING), ~earned).order_by(Order.id)
    if rules.credit_on == CreditOn.SETTLED:
        query = query.where(Order.paid_at <= utcnow() - timedelta(days=rules.settle_days))
    owed = ((order, points.earned_for(order)) for order in db.session.scalars(query))
    return [(order, amount) for order, amount in owed if amount > 0]


def missing_decisions() -> list[str]:
    """A ledger check: paid orders that earn points and were never credited."""
    return [
        f"order {order.number}: paid, {amount} points never credited"
        for order, amount in _undecided()
    ]


def reconcile() -> list[str]:
    done = []
    for order, _amount in _undecided():
        number = order.number
        credited = points.earn_for_order(order.id)
        done.append(f"order {number}: {credited} points credited")
    return done

"""What the order page shows besides the order's columns: who was credited and why (the
attribution sentence ``distribution.attribution.explain`` words), and the order's timeline.

The timeline is read from what is already recorded, nothing new is written: the order's own
times, its payments and refunds, and the audit log's entries for the order (who marked it paid,
shipped, picked up, completed or cancelled it). Times are shown in the shop's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from distribution.attribution import explain
from distribution.models import Attribution, Sharer
from shop.catalog.models import Store
from shop.extensions import db
from shop.money import format_money
from shop.orders.models import Order, OrderStatus, PaymentMethod
from shop.payments.models import Payment
from shop.staff.models import AuditLog, Staff

#: the audit log's order actions, as the timeline words them
STAFF_STEPS = {
    "order.mark_paid": _l("Marked paid"),
    "order.fulfil": _l("Shipped"),
    "order.picked_up": _l("Picked up"),
    "order.complete": _l("Completed"),
    "order.cancel": _l("Cancelled"),
}


@dataclass(frozen=True)
class Step:
    """One moment of an order's life: when, what happened, by whom (empty: the customer or the
    shop itself), and a detail (an amount, a reason)."""

    at: datetime
    what: str
    who: str = ""
    detail: str = ""
    tone: str = "secondary"


@dataclass(frozen=True)
class Credit:
    """Who an order credits (store, sharer, the sharer's recruiter) and the sentence why."""

    sentence: str
    store: str = ""
    sharer: str = ""
    parent: str = ""


def credit(order: Order) -> Credit | None:
    """The order's attribution in plain words; None when it has none (placed before the
    distribution programme, or by a test)."""
    attribution = db.session.get(Attribution, order.id)
    if attribution is None:
        return None

    def name(model, key):
        found = db.session.get(model, key) if key else None
        return found.name if found is not None else ""

    return Credit(
        sentence=explain(attribution),
        store=name(Store, attribution.store_id),
        sharer=name(Sharer, attribution.sharer_id),
        parent=name(Sharer, attribution.parent_sharer_id),
    )


def timeline(order: Order) -> list[Step]:
    """The order's steps, oldest first."""
    steps = [
        Step(
            order.created_at,
            _("Order placed"),
            order.contact_name,
            format_money(order.total, order.currency),
        )
    ]
    methods = PaymentMethod.labels()
    payments = db.session.scalars(
        select(Payment).where(Payment.order_id == order.id, Payment.amount > 0)
    ).all()
    for payment in payments:
        steps.append(
            Step(
                payment.created_at,
                _("Payment received"),
                detail=f"{format_money(payment.amount, payment.currency)} · "
                f"{methods.get(payment.provider, payment.provider)}",
                tone="primary",
            )
        )
    for refund in order.refunds:
        staff = db.session.get(Staff, refund.staff_id) if refund.staff_id else None
        detail = format_money(refund.amount, refund.currency)
        if refund.reason:
            detail += f" · {refund.reason}"
        steps.append(Step(refund.created_at, _("Refunded"), str(staff or ""), detail, "danger"))
    entries = db.session.scalars(
        select(AuditLog)
        .where(
            AuditLog.object_type == "Order",
            AuditLog.object_id == str(order.id),
            AuditLog.action.in_(STAFF_STEPS),
        )
        .order_by(AuditLog.id)
    ).all()
    for entry in entries:
        staff = db.session.get(Staff, entry.staff_id) if entry.staff_id else None
        reason = (entry.after or {}).get("reason", "") if entry.action == "order.cancel" else ""
        steps.append(
            Step(entry.created_at, str(STAFF_STEPS[entry.action]), str(staff or ""), reason, "info")
        )
    cancelled_by_staff = any(entry.action == "order.cancel" for entry in entries)
    if order.status == OrderStatus.CANCELLED and not cancelled_by_staff:
        steps.append(Step(order.updated_at, _("Cancelled: not paid in time")))
    return sorted(steps, key=lambda step: step.at)

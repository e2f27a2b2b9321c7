"""Guide and promoter levels: a sharer moves up when a higher level's tasks are met.

Tasks: invite N promoters (active sharers they recruited) and team sales ≥ X (paid, less
refunded, of orders credited to them or to those recruits). Levels only go up on their own;
staff move people down in the admin. Evaluated when an order is paid and when someone joins.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select

from distribution.models import Attribution, Sharer, SharerLevel, SharerStatus
from shop.catalog.queries import PAID_STATES
from shop.extensions import db
from shop.orders.models import Order, OrderStatus

COUNTED = (*PAID_STATES, OrderStatus.REFUNDED)


def invites(sharer_id: int) -> int:
    return db.session.scalar(
        select(func.count(Sharer.id)).where(
            Sharer.parent_id == sharer_id, Sharer.status == SharerStatus.ACTIVE
        )
    )


def team_sales(sharer_id: int) -> int:
    """Paid less refunded, of orders credited to the sharer or to anyone they recruited."""
    return db.session.scalar(
        select(func.coalesce(func.sum(Order.total - Order.refunded_amount), 0))
        .join(Attribution, Attribution.order_id == Order.id)
        .where(
            Order.status.in_(COUNTED),
            or_(Attribution.sharer_id == sharer_id, Attribution.parent_sharer_id == sharer_id),
        )
    )


def evaluate_level(sharer_id: int) -> SharerLevel | None:
    """Move the sharer up to the highest level whose tasks are met; returns the new level.
    Does not commit."""
    sharer = db.session.get(Sharer, sharer_id)
    if sharer is None or sharer.status != SharerStatus.ACTIVE or sharer.level is None:
        return None  # a sharer staff left without a level is outside the level programme
    current_rank = sharer.level.rank
    candidates = db.session.scalars(
        select(SharerLevel).where(SharerLevel.rank > current_rank).order_by(SharerLevel.rank.desc())
    ).all()
    if not candidates:
        return None
    invited, sales = invites(sharer.id), team_sales(sharer.id)
    for level in candidates:
        if invited >= level.invites_needed and sales >= level.team_sales_needed:
            sharer.level = level
            return level
    return None


def evaluate_for_order(order_id: int) -> None:
    """After a payment: the credited sharer and their parent may have reached a new level."""
    attribution = db.session.get(Attribution, order_id)
    if attribution is None:
        return
    for sharer_id in (attribution.sharer_id, attribution.parent_sharer_id):
        if sharer_id:
            evaluate_level(sharer_id)

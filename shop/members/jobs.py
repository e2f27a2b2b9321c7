"""Member jobs: plain functions taking ids, safe to run twice (see ``shop.infra.queue``)."""

from shop.extensions import db
from shop.hooks import register_sweep
from shop.members import points, referrals
from shop.members import tiers as members
from shop.members.models import CreditOn
from shop.orders.models import Order


def earn_points(order_id: int) -> int:
    """Points for a paid order, when the shop credits them on payment (else ``settle_points``)."""
    if points.settings().credit_on != CreditOn.PAID:
        return 0
    return points.earn_for_order(order_id)


def settle_points() -> int:
    """Sweep: credit points for orders past the settle period (when credited on settlement)."""
    return points.settle_due_each_in_own_transaction()


def points_after_refund(order_id: int, refund_id: int) -> None:
    points.after_refund(order_id, refund_id)


def expire_points() -> int:
    """Sweep: expire points past their date, oldest first."""
    return points.expire_due_each_in_own_transaction()


def evaluate_tiers(order_id: int, _refund_id: int | None = None) -> None:
    """An order was paid or refunded: the tier of its customer, and of whoever referred them
    (their "refer N members" task may just have been met), is evaluated again."""
    order = db.session.get(Order, order_id)
    if order is None:
        return
    members.evaluate_tier(order.customer_id)
    if order.customer.referrer_id:
        members.evaluate_tier(order.customer.referrer_id)


def reward_referral(order_id: int) -> None:
    """Bring a friend: reward the referrer of a friend whose first order is paid (once)."""
    referrals.reward(order_id)


def apply_tier_retention() -> int:
    """Sweep: move down members who did not re-qualify for their tier within its window."""
    return members.apply_retention_each_in_own_transaction()


def init_app(app) -> None:
    register_sweep(app, "shop.members.jobs.settle_points", 3600)
    register_sweep(app, "shop.members.jobs.expire_points", 24 * 3600)
    register_sweep(app, "shop.members.jobs.apply_tier_retention", 24 * 3600)

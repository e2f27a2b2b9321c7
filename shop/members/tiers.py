"""Member tiers: progress on each tier's tasks, upgrades on payment, the optional retention
rule; the welcome coupon; buying coupons in the points shop.

Progress is never stored: it is read from orders, so a refund moves it back by itself. A
customer reaches a tier when every task of it is met; ``evaluate_tier`` only ever moves a
customer up (a conditional update, so two payments at once upgrade once), and only
``apply_retention`` moves one down. Every move (those and staff's ``set_tier``) is announced
as ``member.tier_changed`` in its transaction.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from shop.catalog.models import Product
from shop.customers.models import Customer, LoginCode
from shop.errors import AlreadyTaken, InvalidInput
from shop.extensions import db
from shop.infra import outbox
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.members import coupons, points
from shop.members.models import (
    Coupon,
    CouponSource,
    MemberTier,
    PointsKind,
    PointsShopItem,
    ReferralReward,
    ReferralStatus,
    TaskKind,
    TierTask,
)
from shop.members.points import EARNING
from shop.members.referrals import welcome_given
from shop.members.topics import MemberTopic, TierChange
from shop.money import format_money
from shop.orders.models import Order, OrderLine
from shop.staff import audit

log = logging.getLogger(__name__)

_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass
class TaskProgress:
    task: TierTask
    done: int  # spend: minor units; buy_product: 0 or 1; refer: friends
    needed: int
    label: str

    @property
    def met(self) -> bool:
        return self.done >= self.needed

    @property
    def percent(self) -> int:
        return 100 if self.met else self.done * 100 // max(self.needed, 1)


def check_tier(tier: MemberTier) -> None:
    """Check a tier being made or changed, with its tasks: each rank is one tier's
    (``AlreadyTaken``), and each task names what it needs (``InvalidInput``). Empty amounts and
    counts are 0. Does not commit."""
    with db.session.no_autoflush:
        taken = db.session.scalar(
            select(MemberTier.id).where(
                MemberTier.rank == tier.rank, MemberTier.id != (tier.id or 0)
            )
        )
    if taken:
        raise AlreadyTaken(_("Another tier has rank %(rank)s.", rank=tier.rank))
    for task in tier.tasks:
        task.amount = task.amount or 0
        task.count = task.count or 0
        if task.kind == TaskKind.BUY_PRODUCT and not task.product_id:
            raise InvalidInput(_("Choose the product a buy-a-product task needs."))
        if task.kind == TaskKind.SPEND and task.amount <= 0:
            raise InvalidInput(_("Enter the amount a spend task needs."))
        if task.kind == TaskKind.REFER and task.count <= 0:
            raise InvalidInput(_("Enter how many friends a bring-friends task needs."))


def tiers() -> list[MemberTier]:
    """Every tier, lowest first."""
    return list(db.session.scalars(select(MemberTier).order_by(MemberTier.rank)))


def _later(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def _kept_orders(customer_id, since: datetime | None):
    """Paid orders of a customer not refunded in full, paid since ``since`` (if given)."""
    conditions = [Order.customer_id == customer_id, Order.status.in_(EARNING)]
    if since is not None:
        conditions.append(Order.paid_at >= since)
    return and_(*conditions)


def bought(customer_id: int, product_id: int, since: datetime | None = None) -> bool:
    """A paid order line of the product that was not refunded in full."""
    return bool(
        db.session.scalar(
            select(OrderLine.id)
            .join(Order, OrderLine.order_id == Order.id)
            .where(
                _kept_orders(customer_id, since),
                OrderLine.product_id == product_id,
                OrderLine.refunded_quantity < OrderLine.quantity,
            )
            .limit(1)
        )
    )


def spent(customer_id: int, since: datetime | None = None) -> int:
    """What the customer paid, less refunds, on orders paid since ``since``."""
    return db.session.scalar(
        select(func.coalesce(func.sum(Order.total - Order.refunded_amount), 0)).where(
            _kept_orders(customer_id, since)
        )
    )


def referred(customer_id: int, since: datetime | None = None) -> int:
    """Friends this customer brought who have a paid order (not refunded in full), leaving out
    those found to be the customer themselves."""
    friend = Customer.id
    has_paid = select(Order.id).where(_kept_orders(friend, since)).exists()
    refused = (
        select(ReferralReward.id)
        .where(ReferralReward.friend_id == friend, ReferralReward.status == ReferralStatus.REFUSED)
        .exists()
    )
    return db.session.scalar(
        select(func.count(friend)).where(Customer.referrer_id == customer_id, has_paid, ~refused)
    )


def task_progress(
    customer_id: int, task: TierTask, now: datetime | None = None, since: datetime | None = None
) -> TaskProgress:
    """How far the customer is with one task; ``since`` narrows it (the retention window)."""
    now = now or utcnow()
    if task.kind == TaskKind.BUY_PRODUCT:
        name = db.session.scalar(select(Product.name).where(Product.id == task.product_id))
        done = int(bought(customer_id, task.product_id, since)) if task.product_id else 0
        return TaskProgress(task, done, 1, _("Buy %(product)s", product=name or "?"))
    if task.kind == TaskKind.SPEND:
        window = now - timedelta(days=task.days) if task.days else None
        amount = format_money(task.amount)
        label = (
            _("Spend %(amount)s within %(days)d days", amount=amount, days=task.days)
            if task.days
            else _("Spend %(amount)s", amount=amount)
        )
        return TaskProgress(task, spent(customer_id, _later(window, since)), task.amount, label)
    label = ngettext(
        "Bring %(num)d friend who pays for an order",
        "Bring %(num)d friends who pay for an order",
        task.count,
    )
    return TaskProgress(task, referred(customer_id, since), task.count, label)


def tier_progress(
    customer_id: int, tier: MemberTier, now: datetime | None = None, since=None
) -> list[TaskProgress]:
    return [task_progress(customer_id, task, now, since) for task in tier.tasks]


def qualifies(customer_id: int, tier: MemberTier, now=None, since=None) -> bool:
    return all(p.met for p in tier_progress(customer_id, tier, now, since))


def next_tier(customer: Customer) -> MemberTier | None:
    """The lowest tier above the customer's."""
    current = customer.tier_id and db.session.get(MemberTier, customer.tier_id)
    rank = current.rank if current else None
    return next((t for t in tiers() if rank is None or t.rank > rank), None)


def evaluate_tier(customer_id: int, now: datetime | None = None) -> MemberTier | None:
    """Move the customer up to the highest tier whose tasks are all met; never down.

    Returns the tier reached by this call, or None. The move is a conditional update from a
    lower tier, so two evaluations at once upgrade once. The benefit coupon of the tier the
    customer holds is then granted if it never was (also repairing one lost to a crash).
    Does not commit.
    """
    now = now or utcnow()
    customer = db.session.get(Customer, customer_id, populate_existing=True)
    if customer is None:
        return None
    ladder = tiers()
    current = next((t for t in ladder if t.id == customer.tier_id), None)
    reached = None
    for tier in reversed(ladder):
        if current is not None and tier.rank <= current.rank:
            break
        if qualifies(customer_id, tier, now):
            lower = [t.id for t in ladder if t.rank < tier.rank]
            moved = db.session.execute(
                update(Customer)
                .where(
                    Customer.id == customer_id,
                    or_(Customer.tier_id.is_(None), Customer.tier_id.in_(lower)),
                )
                .values(tier_id=tier.id, tier_since=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            reached = tier if moved else None
            if moved:
                announce_tier_change(customer_id, customer.tier_id, tier.id, TierChange.EARNED, now)
            break
    grant_tier_benefit(customer_id)
    return reached


def grant_tier_benefit(customer_id: int) -> Coupon | None:
    """The benefit coupon of the customer's tier, once per customer (source "tier")."""
    customer = db.session.get(Customer, customer_id, populate_existing=True)
    tier = customer and customer.tier_id and db.session.get(MemberTier, customer.tier_id)
    if not tier or not tier.benefit_template_id:
        return None
    given = db.session.scalar(
        select(Coupon.id).where(
            Coupon.customer_id == customer_id,
            Coupon.template_id == tier.benefit_template_id,
            Coupon.source == CouponSource.TIER,
        )
    )
    if given:
        return None
    try:
        return coupons.issue(tier.benefit_template_id, customer_id, source=CouponSource.TIER)
    except InvalidInput as exc:
        log.warning("tier benefit for customer %s not granted: %s", customer_id, exc.message)
        return None


def set_tier(customer_id: int, tier_id: int | None, staff, reason: str) -> None:
    """Staff put a customer in a tier (or none) by hand, with a reason, in the audit log. Does
    not commit."""
    if not (reason or "").strip():
        raise InvalidInput(_("Give a reason for the change."))
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise InvalidInput(_("That customer does not exist."))
    if tier_id is not None and db.session.get(MemberTier, tier_id) is None:
        raise InvalidInput(_("That tier does not exist."))
    before = {"tier_id": customer.tier_id}
    now = utcnow()
    if customer.tier_id != tier_id:
        announce_tier_change(customer_id, customer.tier_id, tier_id, TierChange.STAFF, now)
    customer.tier_id = tier_id
    customer.tier_since = now if tier_id is not None else None
    audit.record(
        staff,
        "member.set_tier",
        customer,
        before=before,
        after={"tier_id": tier_id, "reason": reason.strip()[:255]},
    )
    db.session.flush()
    grant_tier_benefit(customer_id)


def apply_retention_each_in_own_transaction(now: datetime | None = None) -> int:
    """Sweep: move members down whose tier asks them to re-qualify within ``retention_days``
    and who did not: to the highest lower tier they meet (each judged in its own window), or
    none; each member in their own transaction.

    Only members who have held the tier for a whole window are judged. The move is a
    conditional update from the tier judged, so running twice (or beside an upgrade) is safe.
    Returns how many members moved down.
    """
    now = now or utcnow()
    ladder = tiers()
    moved = 0
    for tier in ladder:
        if not tier.retention_days:
            continue
        window = now - timedelta(days=tier.retention_days)
        members = db.session.scalars(
            select(Customer.id).where(Customer.tier_id == tier.id, Customer.tier_since <= window)
        ).all()
        for customer_id in members:
            if qualifies(customer_id, tier, now, since=window):
                continue
            lower = next(
                (
                    t
                    for t in reversed(ladder)
                    if t.rank < tier.rank
                    and qualifies(
                        customer_id,
                        t,
                        now,
                        since=now - timedelta(days=t.retention_days) if t.retention_days else None,
                    )
                ),
                None,
            )
            with unit_of_work():
                down = db.session.execute(
                    update(Customer)
                    .where(Customer.id == customer_id, Customer.tier_id == tier.id)
                    .values(tier_id=lower.id if lower else None, tier_since=now)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if down:
                    announce_tier_change(
                        customer_id, tier.id, lower.id if lower else None, TierChange.RETENTION, now
                    )
                moved += down
    return moved


def announce_tier_change(
    customer_id: int, previous: int | None, tier_id: int | None, why: str, at: datetime
) -> None:
    """Publish ``member.tier_changed`` in the transaction that moves the customer. Does not
    commit."""
    outbox.publish(
        MemberTopic.TIER_CHANGED, customer_id, previous, tier_id, str(why), at.isoformat()
    )


def is_first_sign_in(phone: str) -> bool:
    used = db.session.scalar(
        select(func.count(LoginCode.id)).where(
            LoginCode.phone == phone, LoginCode.used_at.is_not(None)
        )
    )
    return used <= 1


def grant_welcome(customer_id: int) -> Coupon | None:
    """The welcome coupon (LoyaltySettings.welcome_template_id), once per customer: on the
    first sign-in, or as a referred friend's reward, whichever comes first."""
    template_id = points.settings().welcome_template_id
    if not template_id or welcome_given(customer_id, template_id):
        return None
    try:
        return coupons.issue(template_id, customer_id, source=CouponSource.WELCOME)
    except InvalidInput as exc:
        log.warning("welcome coupon for customer %s not granted: %s", customer_id, exc.message)
        return None


def shop_items() -> list[PointsShopItem]:
    return list(
        db.session.scalars(
            select(PointsShopItem)
            .where(PointsShopItem.active.is_(True))
            .order_by(PointsShopItem.points_price, PointsShopItem.id)
        )
    )


def buy_shop_item(customer_id: int, item_id: int, idempotency_key: str) -> Coupon | None:
    """Buy a points-shop coupon: the points and the coupon change together, or nothing does
    (InvalidInput with the reason). Returns None when this purchase (the same form, by its key)
    was made already. Does not commit."""
    if not idempotency_key or not _KEY.match(idempotency_key):
        raise InvalidInput(_("This form has expired. Please reload the page and try again."))
    item = db.session.get(PointsShopItem, item_id)
    if item is None or not item.active or not item.template.active:
        raise InvalidInput(_("This item is no longer in the points shop."))
    reason = coupons.refusal(item.template, customer_id, source=CouponSource.POINTS_SHOP)
    if reason:
        raise InvalidInput(reason)
    have = points.balance(customer_id)
    if have < item.points_price:
        raise InvalidInput(
            _(
                "You need %(price)d points for this and have %(have)d.",
                price=item.points_price,
                have=have,
            )
        )
    try:
        with db.session.begin_nested():  # a concurrent submission of the same form fails here
            posted = points.post(
                customer_id,
                -item.points_price,
                PointsKind.SHOP,
                f"shop:{customer_id}:{idempotency_key}",
                note=item.template.name[:255],
            )
    except IntegrityError:
        return None
    if not posted:
        return None
    return coupons.grant(item.template_id, customer_id, source=CouponSource.POINTS_SHOP)

"""Points: a ledger per customer whose balance never goes below zero, under any concurrency.

Every change is one conditional ``UPDATE customers SET points_balance = points_balance + :n
WHERE id = :id AND points_balance + :n >= 0`` plus one ``PointsEntry`` with a unique key naming
the event, in the same transaction: ten simultaneous orders spending the same 100 points
cannot all pass, and a replayed webhook cannot earn twice.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from shop.catalog.models import Product
from shop.customers.models import Customer
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra import outbox
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.members.models import CreditOn, LoyaltySettings, MemberTier, PointsEntry, PointsKind
from shop.members.topics import MemberTopic
from shop.money import exponent, prorate
from shop.orders.models import Order, OrderStatus
from shop.staff import audit

# Orders that earn points: paid and not refunded in full.
EARNING = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.PICKED_UP, OrderStatus.COMPLETED)

log = logging.getLogger(__name__)


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` calendar months later (the last day when that month is short)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(
        year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1])
    )


def expiry_date(now: datetime | None = None) -> datetime | None:
    """When points earned now expire (None: never)."""
    months = settings().expiry_months
    return add_months(now or utcnow(), months) if months else None


def settings() -> LoyaltySettings:
    row = db.session.scalar(select(LoyaltySettings).order_by(LoyaltySettings.id))
    if row is None:
        row = LoyaltySettings()
        db.session.add(row)
        db.session.flush()
    return row


def post(
    customer_id: int,
    amount: int,
    kind: str,
    entry_key: str,
    *,
    order_id: int | None = None,
    expires_at: datetime | None = None,
    note: str = "",
    staff_id: int | None = None,
) -> bool:
    """Add ``amount`` (negative to take) to a customer's points, once per ``entry_key``.

    Returns False, changing nothing, if the key was used before. Raises InvalidInput when the
    balance would go below zero. Every entry is announced (``points.changed``), in the same
    transaction: one event per change, whatever made it (earned, taken back, spent, given
    back, adjusted, expired). Does not commit.
    """
    if db.session.scalar(select(PointsEntry.id).where(PointsEntry.entry_key == entry_key)):
        return False
    changed = db.session.execute(
        update(Customer)
        .where(Customer.id == customer_id, Customer.points_balance + amount >= 0)
        .values(points_balance=Customer.points_balance + amount)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise InvalidInput(_("You do not have enough points."))
    entry = PointsEntry(
        entry_key=entry_key,
        customer_id=customer_id,
        amount=amount,
        kind=kind,
        order_id=order_id,
        expires_at=expires_at,
        note=note,
        staff_id=staff_id,
    )
    db.session.add(entry)
    db.session.flush()
    outbox.publish(MemberTopic.POINTS_CHANGED, entry.id)
    return True


def balance(customer_id: int) -> int:
    return db.session.scalar(select(Customer.points_balance).where(Customer.id == customer_id)) or 0


def value_of(points: int) -> int:
    """What ``points`` take off an order, in minor units."""
    return points * settings().point_value


def spendable(customer_id: int, subtotal: int, have: int | None = None) -> int:
    """The most points one order may use: the balance (``have``, when already read), capped by
    % of subtotal and absolutely."""
    rules = settings()
    if rules.point_value <= 0:
        return 0
    by_share = subtotal * rules.redeem_cap_pct // 100 // rules.point_value
    have = balance(customer_id) if have is None else have
    return max(0, min(have, by_share, rules.redeem_cap_points))


def check_spend(customer_id: int | None, points: int, subtotal: int) -> int:
    """Validate a number of points a customer asked to spend; returns it. Raises InvalidInput."""
    if points == 0:
        return 0
    if customer_id is None:
        raise InvalidInput(_("Sign in to use your points."))
    if points < 0:
        raise InvalidInput(_("Points must be a positive whole number."))
    have = balance(customer_id)  # read once: a spend committed meanwhile must not change it
    if points > have:
        raise InvalidInput(_("You do not have enough points."))
    most = spendable(customer_id, subtotal, have)
    if points > most:
        raise InvalidInput(_("You can use at most %(n)d points on this order.", n=most))
    return points


def earned_for(order: Order) -> int:
    """Points an order earns: per currency unit paid (after discounts), × the tier's
    multiplier; a product with its own points per unit uses that instead."""
    rules = settings()
    unit = 10 ** exponent(order.currency)
    multiplier = 100
    customer = db.session.get(Customer, order.customer_id)
    if customer and customer.tier_id:
        tier = db.session.get(MemberTier, customer.tier_id)
        multiplier = tier.points_multiplier_pct if tier else 100
    overrides = dict(
        db.session.execute(
            select(Product.id, Product.points_per_unit).where(
                Product.id.in_([line.product_id for line in order.lines]),
                Product.points_per_unit.is_not(None),
            )
        ).all()
    )
    total = 0
    for line in order.lines:
        if line.product_id in overrides:
            total += overrides[line.product_id] * line.quantity * 100
        else:
            paid = order.paid_for(line)
            total += paid * rules.points_per_unit * 100 // unit
    return total * multiplier // 10000


def earn_for_order(order_id: int) -> int:
    """Credit the points an order earns (idempotent); returns how many were credited.

    Only a paid order that is not refunded in full earns. When part of it was refunded before
    the points were credited (credit on settlement, or a slow job), the refunded share is taken
    back right away, by the same rule as a later refund. Does not commit.
    """
    order = db.session.get(Order, order_id, populate_existing=True)
    if order is None or order.status not in EARNING:
        return 0
    amount = earned_for(order)
    if amount <= 0:
        return 0
    expires = expiry_date()
    if not post(
        order.customer_id,
        amount,
        PointsKind.EARN,
        f"earn:{order.id}",
        order_id=order.id,
        expires_at=expires,
        note=order.number,
    ):
        return 0
    if order.refunds:
        after_refund(order.id, order.refunds[-1].id)
    return amount


def settle_due_each_in_own_transaction(now: datetime | None = None) -> int:
    """Sweep: credit on settlement every order paid more than ``settle_days`` ago, not refunded
    in full and not credited yet, each in its own transaction. Safe to run twice (each order's
    credit has its own key)."""
    rules = settings()
    if rules.credit_on != CreditOn.SETTLED:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=rules.settle_days)
    credited = select(PointsEntry.id).where(
        PointsEntry.order_id == Order.id, PointsEntry.kind == PointsKind.EARN
    )
    due = db.session.scalars(
        select(Order.id)
        .where(Order.status.in_(EARNING), Order.paid_at <= cutoff, ~credited.exists())
        .order_by(Order.id)
    ).all()
    db.session.rollback()
    credited_now = 0
    for order_id in due:
        try:
            with unit_of_work():
                credited_now += bool(earn_for_order(order_id))
        except Exception:
            log.exception("points for order %s not credited; the next run tries again", order_id)
    return credited_now


def _sum(order_id: int, kinds) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
            PointsEntry.order_id == order_id, PointsEntry.kind.in_(kinds)
        )
    )


def after_refund(order_id: int, refund_id: int) -> None:
    """Take back earned points and give back spent ones, in proportion to what is refunded.

    If the customer already spent the points to take back, the balance stops at zero: the
    shortfall is noted on the entry (points never go below zero). Does not commit.
    """
    order = db.session.get(Order, order_id)
    if order is None or order.total <= 0:
        return
    kept = order.total - order.refunded_amount
    earned = _sum(order.id, (PointsKind.EARN,))
    if earned:
        target = prorate(earned, kept, order.total)
        delta = target - (earned + _sum(order.id, (PointsKind.TAKE_BACK,)))
        if delta < 0:
            take = -min(-delta, balance(order.customer_id))
            note = "" if take == delta else f"{-delta + take} points already spent"
            if take:
                post(
                    order.customer_id,
                    take,
                    PointsKind.TAKE_BACK,
                    f"take_back:{refund_id}",
                    order_id=order.id,
                    note=note,
                )
    if order.points_spent:
        target_spent = prorate(order.points_spent, kept, order.total)
        returned = _sum(order.id, (PointsKind.SPEND_RETURN,))
        give = order.points_spent - target_spent - returned
        if give > 0:
            post(
                order.customer_id,
                give,
                PointsKind.SPEND_RETURN,
                f"spend_return:{refund_id}",
                order_id=order.id,
            )


def return_spent(order: Order) -> None:
    """An unpaid order was cancelled: its points come back (does not commit)."""
    if order.points_spent:
        post(
            order.customer_id,
            order.points_spent,
            PointsKind.SPEND_RETURN,
            f"unspend:{order.id}",
            order_id=order.id,
        )


def adjust(customer_id: int, amount: int, reason: str, staff, key: str | None = None) -> bool:
    """A manual adjustment by staff, with a reason, in the audit log.

    ``key`` (the admin form's idempotency key) makes a replayed form change nothing: the
    second call returns False. Without one, every call is a new adjustment. Does not commit.
    """
    if not reason.strip():
        raise InvalidInput(_("Give a reason for the adjustment."))
    if amount == 0:
        raise InvalidInput(_("The adjustment is zero."))
    before = balance(customer_id)
    try:
        with db.session.begin_nested():  # the same form submitted twice at once: one stands
            posted = post(
                customer_id,
                amount,
                PointsKind.ADJUST if amount > 0 else PointsKind.ADJUST_DOWN,
                f"adjust:{key}" if key else f"adjust:{customer_id}:{utcnow().isoformat()}:{amount}",
                note=reason[:255],
                staff_id=getattr(staff, "id", None),
            )
    except IntegrityError:
        return False
    if not posted:
        return False
    audit.record(
        staff,
        "points.adjust",
        object_type="Customer",
        object_id=customer_id,
        before={"points": before},
        after={"points": before + amount, "reason": reason},
    )
    return True


@dataclass
class Lot:
    """What is left of one credit to a customer's points, as the ledger replay sees it."""

    entry_id: int
    expires_at: datetime | None
    left: int
    order_id: int | None


def _spending_order(lots: list[Lot], first_order: int | None = None) -> list[Lot]:
    """The lots a debit takes from, in order: those of ``first_order`` first (a take-back
    takes the points its own order earned), then the soonest to expire, undated ones last."""
    alive = [lot for lot in lots if lot.left > 0]
    return sorted(
        alive,
        key=lambda lot: (
            first_order is None or lot.order_id != first_order,
            lot.expires_at is None,
            lot.expires_at or datetime.max,
            lot.entry_id,
        ),
    )


def lots(customer_id: int) -> list[Lot]:
    """Replay a customer's ledger in order and return what is left of every credit.

    The rule, the same for the expiry job and for what ``/me`` shows:

    - every credit (earned, rewarded, adjusted) starts a lot with its own expiry date, or none;
    - every debit (spending, the points shop, a staff adjustment, an expiry) takes from the lots
      that exist at that moment, soonest to expire first, undated lots last; a take-back after a
      refund takes first from the points its own order earned;
    - points given back for a refunded or cancelled order go back to the lots that order's
      spending took them from, keeping their expiry dates (the last taken comes back first).

    The lots left always sum to the balance when the ledger is sound (``ledger verify``).
    """
    replayed: list[Lot] = []
    taken_by_order: dict[int, list[tuple[Lot, int]]] = {}
    entries = db.session.execute(
        select(
            PointsEntry.id,
            PointsEntry.amount,
            PointsEntry.kind,
            PointsEntry.order_id,
            PointsEntry.expires_at,
        )
        .where(PointsEntry.customer_id == customer_id)
        .order_by(PointsEntry.id)
    )
    for entry_id, amount, kind, order_id, expires_at in entries:
        if amount > 0 and kind == PointsKind.SPEND_RETURN and order_id in taken_by_order:
            taken = taken_by_order[order_id]
            while amount > 0 and taken:
                lot, count = taken.pop()
                back = min(count, amount)
                lot.left += back
                amount -= back
                if count > back:
                    taken.append((lot, count - back))
        if amount > 0:
            replayed.append(Lot(entry_id, expires_at, amount, order_id))
            continue
        owed = -amount
        first = order_id if kind == PointsKind.TAKE_BACK else None
        for lot in _spending_order(replayed, first):
            if owed == 0:
                break
            used = min(lot.left, owed)
            lot.left -= used
            owed -= used
            if kind == PointsKind.SPEND and order_id is not None:
                taken_by_order.setdefault(order_id, []).append((lot, used))
    return [lot for lot in replayed if lot.left > 0]


def expire_due_each_in_own_transaction(now: datetime | None = None) -> int:
    """Sweep: expire what is left of every lot past its date (see ``lots`` for the rule), each
    customer in their own transaction.

    Only customers holding points with a lot past its date are replayed. The entry's key names
    the last entry replayed, so two runs that saw the same ledger expire once: the second one's
    insert fails on the unique key and is rolled back. Safe to run twice.
    """
    now = now or utcnow()
    e = PointsEntry
    candidates = db.session.scalars(
        select(e.customer_id)
        .join(Customer, Customer.id == e.customer_id)
        .where(
            e.amount > 0,
            e.expires_at.is_not(None),
            e.expires_at <= now,
            Customer.points_balance > 0,
        )
        .distinct()
        .order_by(e.customer_id)
    ).all()
    expired = 0
    for customer_id in candidates:
        held = lots(customer_id)
        lapsed = [lot for lot in held if lot.expires_at is not None and lot.expires_at <= now]
        amount = min(sum(lot.left for lot in lapsed), balance(customer_id))
        if amount <= 0:
            continue
        last = db.session.scalar(select(func.max(e.id)).where(e.customer_id == customer_id))
        try:
            with unit_of_work():
                if post(
                    customer_id,
                    -amount,
                    PointsKind.EXPIRE,
                    f"expire:{customer_id}:{last}",
                    note=", ".join(sorted({lot.expires_at.date().isoformat() for lot in lapsed}))[
                        :255
                    ],
                ):
                    expired += amount
        except (IntegrityError, InvalidInput):
            pass  # a concurrent run expired them first
    return expired


def history(customer_id: int, limit: int = 100) -> list[PointsEntry]:
    """The customer's ledger entries, newest first."""
    return list(
        db.session.scalars(
            select(PointsEntry)
            .where(PointsEntry.customer_id == customer_id)
            .order_by(PointsEntry.created_at.desc(), PointsEntry.id.desc())
            .limit(limit)
        )
    )


def expiring(customer_id: int, now: datetime | None = None) -> list[tuple[datetime, int]]:
    """``[(date, points), ...]``: what of the balance expires when, soonest first (the rule
    is ``lots``'s). Lots already past their date are left out: the next expiry run takes them."""
    now = now or utcnow()
    dated: dict[datetime, int] = {}
    for lot in lots(customer_id):
        if lot.expires_at is not None and lot.expires_at > now:
            dated[lot.expires_at] = dated.get(lot.expires_at, 0) + lot.left
    return sorted(dated.items())


def ledger_breaches() -> list[str]:
    sums = dict(
        db.session.execute(
            select(PointsEntry.customer_id, func.sum(PointsEntry.amount)).group_by(
                PointsEntry.customer_id
            )
        ).all()
    )
    breaches = []
    for customer_id, held in db.session.execute(select(Customer.id, Customer.points_balance)):
        if (sums.get(customer_id) or 0) != held:
            breaches.append(
                f"customer {customer_id}: points {held} but entries sum to "
                f"{sums.get(customer_id) or 0}"
            )
    return breaches

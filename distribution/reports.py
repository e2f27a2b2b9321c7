"""What a sharer's workbench shows: their links, customers, orders, funnel and the store
leaderboard. Read-only queries, each limited to one sharer (or, for the leaderboard, to the
guides of one store): nothing here takes an id from the request.

The leaderboard, the funnel and the sales figures count the same orders (``counted``): paid
and not refunded in full (``PAID_STATES``), dated by their payment, each worth what the
customer paid less what was refunded (``Order.total − Order.refunded_amount``). "This month"
begins on the 1st at midnight in the shop's time zone (``SHOP_TIMEZONE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, func, or_, select

from distribution.attribution import explain
from distribution.commission import preview
from distribution.models import (
    Attribution,
    Binding,
    BindingState,
    Channel,
    CommissionEntry,
    EntryKind,
    LinkTarget,
    Payout,
    ShareLink,
    Sharer,
    SharerKind,
    SharerStatus,
    Visit,
)
from shop.catalog.models import Category, Product
from shop.catalog.queries import PAID_STATES
from shop.customers.models import Customer
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.members.models import CouponTemplate
from shop.orders.models import Order, OrderStatus

MAX_ROWS = 50

# Read by the admin (the ShareLink and Visit views) until it takes Channel.labels() itself.
CHANNEL_LABELS = Channel.labels()


@dataclass
class LinkRow:
    link: ShareLink
    target: str
    visits: int


def target_names(links: list[ShareLink]) -> dict[tuple[str, int], str]:
    """What each link points at, in words: a product, category or coupon name (others: home
    page)."""
    names: dict[tuple[str, int], str] = {}
    for kind, model in (
        (LinkTarget.PRODUCT, Product),
        (LinkTarget.CATEGORY, Category),
        (LinkTarget.COUPON, CouponTemplate),
    ):
        ids = {link.target_id for link in links if link.target_type == kind}
        if ids:
            rows = db.session.execute(select(model.id, model.name).where(model.id.in_(ids)))
            names.update({(kind, row_id): name for row_id, name in rows})
    return names


def my_links(sharer: Sharer, target_type: str | None = None, target_id: int = 0) -> list[LinkRow]:
    """The sharer's links, newest first, with how often each was opened."""
    visits = (
        select(Visit.link_id, func.count(Visit.id).label("n"))
        .where(Visit.sharer_id == sharer.id)
        .group_by(Visit.link_id)
        .subquery()
    )
    query = (
        select(ShareLink, func.coalesce(visits.c.n, 0))
        .outerjoin(visits, visits.c.link_id == ShareLink.id)
        .where(ShareLink.sharer_id == sharer.id)
        .order_by(ShareLink.created_at.desc(), ShareLink.id.desc())
    )
    if target_type is not None:
        query = query.where(ShareLink.target_type == target_type, ShareLink.target_id == target_id)
    rows = db.session.execute(query.limit(MAX_ROWS)).all()
    names = target_names([link for link, _n in rows])
    return [
        LinkRow(
            link,
            names.get((link.target_type, link.target_id))
            or LinkTarget.label_of(link.target_type),  # the home page, a live session ...
            int(n),
        )
        for link, n in rows
    ]


@dataclass
class CustomerRow:
    customer: Customer | None
    binding: Binding
    status: str  # a BindingState ("ended" for an ended binding that says not how)


def binding_status(binding: Binding, now: datetime) -> str:
    if not binding.active:
        return binding.ended_reason or "ended"
    if binding.valid_until is not None and binding.valid_until <= now:
        return BindingState.EXPIRED
    if binding.protected_until is not None and binding.protected_until > now:
        return BindingState.PROTECTED
    return BindingState.ACTIVE


def my_customers(sharer: Sharer) -> tuple[list[CustomerRow], int]:
    """The customers bound to the sharer (latest bindings first), and how many visitors are
    bound who have not ordered yet (they have no customer record to show)."""
    now = utcnow()
    bindings = db.session.scalars(
        select(Binding)
        .where(Binding.sharer_id == sharer.id, Binding.customer_id.is_not(None))
        .order_by(Binding.bound_at.desc(), Binding.id.desc())
        .limit(MAX_ROWS)
    )
    rows = [CustomerRow(b.customer, b, binding_status(b, now)) for b in bindings]
    visitors = db.session.scalar(
        select(func.count(Binding.id)).where(
            Binding.sharer_id == sharer.id,
            Binding.customer_id.is_(None),
            Binding.active.is_(True),
            or_(Binding.valid_until.is_(None), Binding.valid_until > now),
        )
    )
    return rows, int(visitors or 0)


@dataclass
class OrderRow:
    order: Order
    attribution: Attribution
    level: int  # 1: the sharer's own sale; 2: a sale of someone they recruited
    explanation: str
    commission: int | None  # None: nothing written yet (the order is not paid)
    expected: int | None = None  # an unpaid order: what it would earn the sharer once paid

    @property
    def cancelled(self) -> bool:
        """Cancelled (or released unpaid): it earns nothing, now or later."""
        return self.order.status == OrderStatus.CANCELLED


def my_orders(sharer: Sharer) -> list[OrderRow]:
    """Orders credited to the sharer or to someone they recruited, newest first, each with
    the attribution in words and what it earned the sharer (accruals less reversals)."""
    rows = db.session.execute(
        select(Order, Attribution)
        .join(Attribution, Attribution.order_id == Order.id)
        .where(or_(Attribution.sharer_id == sharer.id, Attribution.parent_sharer_id == sharer.id))
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(MAX_ROWS)
    ).all()
    order_ids = [order.id for order, _a in rows]
    earned = dict(
        db.session.execute(
            select(CommissionEntry.order_id, func.sum(CommissionEntry.amount))
            .where(
                CommissionEntry.sharer_id == sharer.id,
                CommissionEntry.order_id.in_(order_ids or [0]),
                CommissionEntry.kind.in_((EntryKind.ACCRUE, EntryKind.REVERSE)),
            )
            .group_by(CommissionEntry.order_id)
        ).all()
    )
    return [
        OrderRow(
            order,
            attribution,
            1 if attribution.sharer_id == sharer.id else 2,
            explain(attribution),
            int(earned[order.id]) if order.id in earned else None,
            _expected(order, attribution, sharer)
            if order.status == OrderStatus.AWAITING_PAYMENT
            else None,
        )
        for order, attribution in rows
    ]


def _expected(order: Order, attribution: Attribution, sharer: Sharer) -> int:
    """What an unpaid order would earn the sharer by today's rules (the preview the ledger
    uses when the payment comes in)."""
    return sum(
        row["amount"]
        for row in preview(order, attribution, at=order.paid_at)
        if row["sharer"] == sharer
    )


def my_payouts(sharer: Sharer) -> list[Payout]:
    return list(
        db.session.scalars(
            select(Payout)
            .where(Payout.sharer_id == sharer.id)
            .order_by(Payout.created_at.desc(), Payout.id.desc())
            .limit(MAX_ROWS)
        )
    )


def counted(since: datetime):
    """The condition on ``Order`` of the orders the workbench counts since a moment (paid,
    not refunded in full, paid since then), and what each is worth (paid less refunds)."""
    condition = and_(Order.status.in_(PAID_STATES), Order.paid_at >= since)
    return condition, Order.total - Order.refunded_amount


def _sales(since: datetime):
    """Counted orders and their net value per level-1 sharer since a moment."""
    condition, net = counted(since)
    return (
        select(
            Attribution.sharer_id,
            func.count(Order.id).label("orders"),
            func.coalesce(func.sum(net), 0).label("gmv"),
        )
        .join(Order, Order.id == Attribution.order_id)
        .where(condition)
        .group_by(Attribution.sharer_id)
    )


@dataclass
class BoardRow:
    rank: int
    sharer: Sharer
    orders: int
    gmv: int


def month_start(now: datetime | None = None) -> datetime:
    """When this month began in the shop's time zone, as naive UTC (like the columns)."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    local = (now or utcnow()).replace(tzinfo=UTC).astimezone(zone)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return first.astimezone(UTC).replace(tzinfo=None)


def leaderboard(store_id: int, now: datetime | None = None) -> list[BoardRow]:
    """This month's paid orders and their value per guide of the store, best first (guides
    with none included, after the others); the guides who left are not listed."""
    sales = _sales(month_start(now)).subquery()
    rows = db.session.execute(
        select(Sharer, func.coalesce(sales.c.orders, 0), func.coalesce(sales.c.gmv, 0))
        .outerjoin(sales, sales.c.sharer_id == Sharer.id)
        .where(
            Sharer.kind == SharerKind.GUIDE,
            Sharer.store_id == store_id,
            Sharer.status == SharerStatus.ACTIVE,
        )
        .order_by(
            func.coalesce(sales.c.gmv, 0).desc(),
            func.coalesce(sales.c.orders, 0).desc(),
            Sharer.name,
            Sharer.id,
        )
    ).all()
    return [
        BoardRow(rank, sharer, int(orders), int(gmv))
        for rank, (sharer, orders, gmv) in enumerate(rows, start=1)
    ]


@dataclass
class Funnel:
    since: datetime
    visits: int
    visitors: int
    orders: int
    paid_orders: int
    gmv: int

    @property
    def conversion_pct(self) -> int | None:
        """Paid orders per hundred visitors, rounded half up; None without visitors."""
        if not self.visitors:
            return None
        return (self.paid_orders * 200 + self.visitors) // (self.visitors * 2)


def funnel(sharer: Sharer, now: datetime | None = None) -> Funnel:
    """This month: visits of the sharer's links → orders credited to them → the counted ones
    (``counted``: the orders and sales the leaderboard shows for them)."""
    since = month_start(now)
    visits, visitors = db.session.execute(
        select(func.count(Visit.id), func.count(func.distinct(Visit.visitor_id))).where(
            Visit.sharer_id == sharer.id, Visit.created_at >= since
        )
    ).one()
    orders = db.session.scalar(
        select(func.count(Order.id))
        .join(Attribution, Attribution.order_id == Order.id)
        .where(Attribution.sharer_id == sharer.id, Order.created_at >= since)
    )
    condition, net = counted(since)
    paid_orders, gmv = db.session.execute(
        select(func.count(Order.id), func.coalesce(func.sum(net), 0))
        .join(Attribution, Attribution.order_id == Order.id)
        .where(Attribution.sharer_id == sharer.id, condition)
    ).one()
    return Funnel(since, int(visits), int(visitors), int(orders or 0), int(paid_orders), int(gmv))

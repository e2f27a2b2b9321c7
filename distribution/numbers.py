"""Numbers for dashboards: by store, guide (sharer) or channel, over a period.

visits → orders → paid orders funnel (conversion: the paid orders a share link brought, per
visit; by store its other orders count too, but not in that ratio), GMV (paid totals) and net
(less refunds), commission (accruals less reversals; by sharer what each earned, at either
level), repurchase rate (customers with two or more paid orders among customers with one) and
customer lifetime value: what the customers paid, less refunds, less their acquisition cost
where staff entered it, averaged per customer (rounded half up to the minor unit). A customer
bought for 60 who pays 120 then 220 has a lifetime value of 280.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select, true
from sqlalchemy.orm import aliased

from distribution.models import (
    AcquisitionCost,
    Attribution,
    CommissionEntry,
    EntryKind,
    ShareLink,
    Sharer,
    Visit,
)
from shop.catalog.models import Store
from shop.catalog.queries import PAID_STATES
from shop.extensions import db
from shop.money import prorate
from shop.orders.models import Order, OrderStatus

GROUPS = ("store", "sharer", "channel")
COUNTED = (*PAID_STATES, OrderStatus.REFUNDED)


@dataclass
class Row:
    key: object
    label: str
    visits: int = 0
    orders: int = 0
    paid_orders: int = 0
    linked_paid_orders: int = 0  # of the paid orders, those a share link brought (a sharer's)
    gmv: int = 0
    refunded: int = 0
    commission: int = 0
    customers: int = 0
    repeat_customers: int = 0
    acquisition_cost: int = 0

    @property
    def conversion(self) -> float | None:
        """Paid orders a share link brought, per visit (a display ratio, not money): a store's
        walk-in orders have no visit, so they are not in it."""
        return self.linked_paid_orders / self.visits if self.visits else None

    @property
    def net(self) -> int:
        return self.gmv - self.refunded

    @property
    def repurchase_rate(self) -> float | None:
        return self.repeat_customers / self.customers if self.customers else None

    @property
    def lifetime_value(self) -> int | None:
        """Average per customer, in minor units rounded half up."""
        if not self.customers:
            return None
        return prorate(self.net - self.acquisition_cost, 1, self.customers)


def _group_column(group: str):
    if group == "store":
        return Attribution.store_id
    if group == "sharer":
        return Attribution.sharer_id
    if group == "channel":
        return ShareLink.channel
    raise ValueError(f"unknown group {group!r}")


def _labels(group: str, keys) -> dict:
    keys = [k for k in keys if k is not None]
    if group == "store":
        return dict(
            db.session.execute(select(Store.id, Store.name).where(Store.id.in_(keys))).all()
        )
    if group == "sharer":
        return dict(
            db.session.execute(select(Sharer.id, Sharer.name).where(Sharer.id.in_(keys))).all()
        )
    return {k: k or "—" for k in keys}


def dashboard(
    group: str, since: datetime, until: datetime, store_ids: list[int] | None = None
) -> list[Row]:
    """One row per store, sharer or channel; ``store_ids`` limits to a manager's stores.

    By store counts every order (each belongs to a store: the pick-up store, the sharer's, or
    the default one), so the stores add up to the shop's total; by sharer and channel only the
    orders a share link brought."""
    column = _group_column(group)
    credited = Attribution.sharer_id.is_not(None) if group != "store" else true()
    rows: dict = {}

    def row(key) -> Row:
        if key not in rows:
            rows[key] = Row(key=key, label="")
        return rows[key]

    # A visit counts for the store its sharer credits: a guide's, or a promoter's recruiting
    # guide's (as ``attribution.sharer_store_id`` credits their orders).
    recruiter = aliased(Sharer)
    visit_store = func.coalesce(Sharer.store_id, recruiter.store_id)
    visit_key = {"store": visit_store, "sharer": Visit.sharer_id, "channel": Visit.channel}[group]
    visits = (
        select(visit_key, func.count(Visit.id))
        .join(Sharer, Sharer.id == Visit.sharer_id)
        .outerjoin(recruiter, recruiter.id == Sharer.parent_id)
        .where(Visit.created_at >= since, Visit.created_at < until)
        .group_by(visit_key)
    )
    if store_ids is not None:
        visits = visits.where(visit_store.in_(store_ids))
    for key, count in db.session.execute(visits).all():
        row(key).visits = count

    paid = case((Order.status.in_(COUNTED), 1), else_=0)
    linked_paid = case(
        (and_(Order.status.in_(COUNTED), Attribution.sharer_id.is_not(None)), 1), else_=0
    )
    stmt = (
        select(
            column,
            func.count(Order.id),
            func.sum(paid),
            func.sum(linked_paid),
            func.coalesce(func.sum(case((Order.status.in_(COUNTED), Order.total), else_=0)), 0),
            func.coalesce(func.sum(Order.refunded_amount), 0),
        )
        .select_from(Order)
        .join(Attribution, Attribution.order_id == Order.id)
        .outerjoin(ShareLink, ShareLink.id == Attribution.link_id)
        .where(Order.created_at >= since, Order.created_at < until, credited)
        .group_by(column)
    )
    if store_ids is not None:
        stmt = stmt.where(Attribution.store_id.in_(store_ids))
    for key, count, paid_count, linked, gmv, refunded in db.session.execute(stmt).all():
        r = row(key)
        r.orders, r.paid_orders, r.linked_paid_orders = (
            count,
            int(paid_count or 0),
            int(linked or 0),
        )
        r.gmv, r.refunded = int(gmv), int(refunded)

    # By sharer, each entry counts for the sharer who earns it (a recruiter's second-level
    # entry is theirs, not the promoter's whose link brought the order).
    earner = CommissionEntry.sharer_id if group == "sharer" else column
    commission = (
        select(earner, func.coalesce(func.sum(CommissionEntry.amount), 0))
        .select_from(CommissionEntry)
        .join(Order, Order.id == CommissionEntry.order_id)
        .join(Attribution, Attribution.order_id == Order.id)
        .outerjoin(ShareLink, ShareLink.id == Attribution.link_id)
        .where(
            CommissionEntry.kind.in_((EntryKind.ACCRUE, EntryKind.REVERSE)),
            Order.created_at >= since,
            Order.created_at < until,
        )
        .group_by(earner)
    )
    if store_ids is not None:
        commission = commission.where(Attribution.store_id.in_(store_ids))
    for key, amount in db.session.execute(commission).all():
        row(key).commission = int(amount)

    per_customer = (
        select(column.label("k"), Order.customer_id.label("c"), func.count(Order.id).label("n"))
        .select_from(Order)
        .join(Attribution, Attribution.order_id == Order.id)
        .outerjoin(ShareLink, ShareLink.id == Attribution.link_id)
        .where(
            Order.created_at >= since,
            Order.created_at < until,
            Order.status.in_(COUNTED),
            credited,
        )
        .group_by(column, Order.customer_id)
    )
    if store_ids is not None:
        per_customer = per_customer.where(Attribution.store_id.in_(store_ids))
    sub = per_customer.subquery()
    customers = (
        select(
            sub.c.k,
            func.count(sub.c.c),
            func.sum(case((sub.c.n >= 2, 1), else_=0)),
            func.coalesce(func.sum(AcquisitionCost.amount), 0),
        )
        .select_from(sub)
        .outerjoin(AcquisitionCost, AcquisitionCost.customer_id == sub.c.c)
        .group_by(sub.c.k)
    )
    for key, count, repeat, cost in db.session.execute(customers).all():
        r = row(key)
        r.customers, r.repeat_customers, r.acquisition_cost = count, int(repeat or 0), int(cost)

    labels = _labels(group, rows)
    for key, r in rows.items():
        r.label = labels.get(key, "—") if key is not None else "—"
    return sorted(rows.values(), key=lambda r: (-r.gmv, r.label))

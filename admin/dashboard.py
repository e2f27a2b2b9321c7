"""The admin home page (today's numbers, limited to a manager's stores), with sign-in."""

from __future__ import annotations

from datetime import datetime

from flask_admin import AdminIndexView, expose
from sqlalchemy import func, select

from admin.auth import SignInMixin
from admin.base import SecuredView
from admin.permissions import may, store_clause, store_scope
from admin.shop.order_tabs import today_range
from shop.api import webhooks
from shop.catalog.models import Review
from shop.extensions import db
from shop.money import format_money
from shop.orders.models import Order, OrderStatus

GMV_STATES = (
    OrderStatus.PAID,
    OrderStatus.FULFILLED,
    OrderStatus.PICKED_UP,
    OrderStatus.COMPLETED,
    OrderStatus.REFUNDED,
)


def _scoped(stmt, model):
    ids = store_scope()
    if ids is None:
        return stmt
    return stmt.where(store_clause(model, ids))


def _count(model, *conditions) -> int:
    return db.session.scalar(
        _scoped(select(func.count()).select_from(model).where(*conditions), model)
    )


def figures(now: datetime | None = None) -> dict:
    """Orders placed today, GMV of orders paid today (the shop's day, in its time zone), and
    what is waiting."""
    start, end = today_range(now)
    gmv_rows = db.session.execute(
        _scoped(
            select(Order.currency, func.sum(Order.total))
            .where(Order.paid_at >= start, Order.paid_at < end, Order.status.in_(GMV_STATES))
            .group_by(Order.currency)
            .order_by(Order.currency),
            Order,
        )
    ).all()
    return {
        "orders_today": _count(Order, Order.created_at >= start, Order.created_at < end),
        "gmv_today": [format_money(int(total or 0), currency) for currency, total in gmv_rows],
        "awaiting_payment": _count(Order, Order.status == OrderStatus.AWAITING_PAYMENT),
        "needs_review": _count(Order, Order.needs_review.is_(True)),
        "reviews_pending": (
            _count(Review, Review.status == "pending") if may("reviews.moderate") else None
        ),
        "webhooks_disabled": (len(webhooks.disabled_endpoints()) if may("api.manage") else None),
    }


class DashboardView(SignInMixin, SecuredView, AdminIndexView):
    permission = "dashboard"

    @expose("/")
    def index(self):
        return self.render("admin/siyu/dashboard.html", figures=figures())

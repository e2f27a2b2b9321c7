"""The order list's tabs (all, today, each status, with their counts) and its coloured status
chips.

A tab is the query argument ``tab``: ``today`` (placed since midnight in the shop's time zone,
``SHOP_TIMEZONE``) or a status. It narrows the list, its count, its pages and its export alike
(Flask-Admin keeps unknown query arguments in every link it makes). The counts are one grouped
query over what the signed-in staff member may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import request, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import func

from admin.kit.times import days_range, local_today
from shop.extensions import db
from shop.orders.models import Order, OrderStatus

S = OrderStatus
TODAY = "today"

#: the chip colour (a Bootstrap badge) of each status
STATUS_TONES = {
    S.AWAITING_PAYMENT: "warning",
    S.PAID: "primary",
    S.FULFILLED: "info",
    S.PICKED_UP: "info",
    S.COMPLETED: "success",
    S.CANCELLED: "secondary",
    S.REFUNDED: "danger",
}


def status_chip(status: str) -> Markup:
    label = OrderStatus.labels().get(status, status)
    tone = STATUS_TONES.get(status, "light")
    return Markup('<span class="badge badge-pill badge-{} siyu-chip">{}</span>').format(tone, label)


def status_formatter(view, context, model, name):
    """The status as a coloured chip; an order refunded in part says so beside it."""
    chip = status_chip(model.status)
    if model.refunded_amount and model.status != S.REFUNDED:
        chip += Markup(' <span class="badge badge-pill badge-outline-danger">{}</span>').format(
            _l("Partly refunded")
        )
    return chip


def today_range(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Today in the shop's time zone, from midnight to the next, as stored (naive UTC) times."""
    today = local_today(now)
    return days_range(today, today)


def placed_today():
    start, end = today_range()
    return Order.created_at >= start, Order.created_at < end


def current_tab() -> str:
    """The tab of the list or export being served ("" for all; other pages have none)."""
    if (request.endpoint or "").rpartition(".")[2] not in ("index_view", "export"):
        return ""
    tab = request.args.get("tab", "")
    return tab if tab == TODAY or tab in OrderStatus.labels() else ""


def narrow(query):
    """The list's query narrowed to the current tab."""
    tab = current_tab()
    if tab == TODAY:
        return query.filter(*placed_today())
    if tab:
        return query.filter(Order.status == tab)
    return query


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    count: int
    url: str
    active: bool
    tone: str = ""


def tabs(scope) -> list[Tab]:
    """Every tab with its count; ``scope`` narrows a query to the staff member's stores."""
    by_status = dict(
        scope(db.session.query(Order.status, func.count(Order.id)).group_by(Order.status)).all()
    )
    today = scope(db.session.query(func.count(Order.id)).filter(*placed_today())).scalar()
    active = current_tab()
    shown = [
        Tab("", str(_l("All")), sum(by_status.values()), url_for(".index_view"), active == ""),
        Tab(TODAY, str(_l("Today")), today, url_for(".index_view", tab=TODAY), active == TODAY),
    ]
    for status, label in OrderStatus.labels().items():
        shown.append(
            Tab(
                status,
                str(label),
                by_status.get(status, 0),
                url_for(".index_view", tab=status),
                active == status,
                STATUS_TONES.get(status, ""),
            )
        )
    return shown

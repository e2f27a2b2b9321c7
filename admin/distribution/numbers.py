"""The numbers: the distribution dashboard by store, guide or channel."""

from __future__ import annotations

from datetime import date, timedelta

from flask import current_app, flash, request
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from admin.base import SecuredView
from admin.kit.times import days_range, local_today
from admin.permissions import store_scope
from distribution import numbers
from distribution.reports import CHANNEL_LABELS

GROUP_LABELS = {"store": _l("By store"), "sharer": _l("By guide"), "channel": _l("By channel")}
GROUP_HEADERS = {"store": _l("Store"), "sharer": _l("Guide or promoter"), "channel": _l("Channel")}


def _day(text: str | None) -> date | None:
    """A YYYY-MM-DD date typed in the page, or None when empty or not a date."""
    try:
        return date.fromisoformat(text.strip()) if text else None
    except ValueError:
        return None


class NumbersView(SecuredView, BaseView):
    """``numbers.dashboard`` by store, guide or channel over a range of the shop's days (its
    time zone), limited to a manager's stores."""

    permission = "numbers.view"

    @expose("/")
    def index(self):
        group = request.args.get("by", "store")
        if group not in numbers.GROUPS:
            group = "store"
        typed = {key: request.args.get(key) for key in ("since", "until")}
        until = _day(typed["until"]) or local_today()
        since = _day(typed["since"]) or until - timedelta(days=29)
        if any(text and _day(text) is None for text in typed.values()):
            flash(_("Dates look like 2026-01-31."), "warning")
        if since > until:
            since, until = until, since
        rows = numbers.dashboard(group, *days_range(since, until), store_ids=store_scope())
        if group == "channel":
            for row in rows:
                row.label = str(CHANNEL_LABELS.get(row.key, row.key or "—"))
        return self.render(
            "admin/siyu/numbers.html",
            rows=rows,
            group=group,
            groups=GROUP_LABELS,
            header=GROUP_HEADERS[group],
            since=since,
            until=until,
            currency=current_app.config["SHOP_CURRENCY"],
            percent=percent,
        )


def percent(value: float | None) -> str:
    """A display ratio as a percentage with one decimal (not money)."""
    return "—" if value is None else f"{value * 100:.1f}%"

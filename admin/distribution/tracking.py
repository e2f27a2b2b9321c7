"""Share links, visits, bindings and attributions: what the sharers' links did, read only."""

from __future__ import annotations

from datetime import datetime

from flask import abort, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import func, select

from admin.base import StoreFilter, parse_pk
from admin.distribution.cells import link_code_formatter, sharer_formatter, sharer_store_formatter
from admin.distribution.scoping import DistributionView, SharerFilter
from admin.kit.formatters import (
    choice_formatter,
    customer_cell,
    customer_formatter,
    order_formatter,
)
from admin.kit.times import admin_time
from distribution.attribution import explain
from distribution.models import Attribution, AttributionRule, Binding, LinkTarget, ShareLink, Visit
from distribution.qr import link_url
from distribution.reports import CHANNEL_LABELS, target_names
from shop.catalog.models import Store
from shop.customers.models import Customer
from shop.extensions import db

RULE_LABELS = AttributionRule.labels()


TARGET_LABELS = LinkTarget.labels()


def _target(view, context, model, name):
    label = str(TARGET_LABELS.get(model.target_type, model.target_type))
    named = target_names([model]).get((model.target_type, model.target_id))
    return f"{label}: {named}" if named else label


def _pictures(view, context, model, name):
    links = [
        (url_for("distribution.qr_png_view", code=model.code), _("QR code")),
        (url_for("distribution.qr_svg_view", code=model.code), _("SVG")),
        (url_for("distribution.poster_view", code=model.code), _("Poster")),
    ]
    return Markup(" · ").join(
        Markup('<a href="{}" target="_blank" rel="noopener">{}</a>').format(url, label)
        for url, label in links
    )


def _visit_count(view, context, model, name):
    return db.session.scalar(select(func.count(Visit.id)).where(Visit.link_id == model.id))


class ShareLinkView(DistributionView):
    permission = "distribution.view"
    column_list = [
        "code",
        "sharer",
        "store",
        "target",
        "channel",
        "visits",
        "created_at",
        "pictures",
    ]
    column_details_list = [
        "code",
        "url",
        "sharer",
        "store",
        "target",
        "channel",
        "visits",
        "created_at",
        "pictures",
    ]
    column_labels = {
        "code": _l("Code"),
        "url": _l("Link"),
        "sharer": _l("Sharer"),
        "sharer.name": _l("Sharer"),
        "store": _l("Store"),
        "target": _l("Leads to"),
        "target_type": _l("Leads to"),
        "channel": _l("Channel"),
        "visits": _l("Visits"),
        "created_at": _l("Made"),
        "pictures": _l("QR code and poster"),
    }
    column_formatters = {
        "url": lambda v, c, m, n: link_url(m),
        "sharer": sharer_formatter,
        "store": sharer_store_formatter,
        "target": _target,
        "channel": choice_formatter(CHANNEL_LABELS),
        "visits": _visit_count,
        "pictures": _pictures,
    }
    column_searchable_list = ["code", "sharer.name"]
    column_filters = [SharerFilter(ShareLink.sharer_id, _l("Sharer")), "channel", "target_type"]
    column_sortable_list = ["code", "channel", "created_at"]
    column_default_sort = ("id", True)

    def search_placeholder(self) -> str:
        return str(_l("Code or sharer"))


class VisitView(DistributionView):
    permission = "distribution.view"
    can_view_details = False
    column_display_actions = False
    column_list = ["created_at", "link", "sharer", "channel", "customer", "visitor_id"]
    column_labels = {
        "created_at": _l("When"),
        "link": _l("Link"),
        "sharer": _l("Sharer"),
        "channel": _l("Channel"),
        "customer": _l("Customer"),
        "visitor_id": _l("Visitor"),
    }
    column_formatters = {
        "link": lambda v, c, m, n: m.link.code,
        "sharer": sharer_formatter,
        "channel": choice_formatter(CHANNEL_LABELS),
        "customer": lambda v, c, m, n: (
            customer_cell(db.session.get(Customer, m.customer_id)) if m.customer_id else ""
        ),
    }
    column_filters = [SharerFilter(Visit.sharer_id, _l("Sharer")), "channel", "created_at"]
    column_sortable_list = ["created_at", "channel"]
    column_default_sort = ("id", True)


class BindingView(DistributionView):
    permission = "distribution.view"
    can_view_details = False
    column_display_actions = False
    column_list = [
        "customer",
        "visitor_id",
        "sharer",
        "link",
        "bound_at",
        "touched_at",
        "protected_until",
        "valid_until",
        "active",
        "ended_reason",
    ]
    column_labels = {
        "customer": _l("Customer"),
        "visitor_id": _l("Visitor"),
        "sharer": _l("Sharer"),
        "link": _l("Link"),
        "bound_at": _l("Bound"),
        "touched_at": _l("Last touch"),
        "protected_until": _l("Protected until"),
        "valid_until": _l("Valid until"),
        "active": _l("Active"),
        "ended_reason": _l("Ended"),
    }
    column_formatters = {
        "customer": customer_formatter,
        "sharer": sharer_formatter,
        "link": link_code_formatter,
        "ended_reason": choice_formatter(
            {"": "", "replaced": _l("Replaced"), "transferred": _l("Moved")}
        ),
    }
    column_filters = [
        SharerFilter(Binding.sharer_id, _l("Sharer")),
        "active",
        "ended_reason",
        "bound_at",
    ]
    column_sortable_list = ["bound_at", "touched_at", "protected_until", "active"]
    column_default_sort = ("id", True)


def _store_name(view, context, model, name):
    if not model.store_id:
        return ""
    return db.session.scalar(select(Store.name).where(Store.id == model.store_id))


def _touches(view, context, model, name):
    return "; ".join(
        f"{touch['sharer']} ({touch['link']}, {admin_time(datetime.fromisoformat(touch['at']))})"
        for touch in model.touches or []
    )


class AttributionView(DistributionView):
    """Attributions are keyed by their order."""

    permission = "distribution.view"
    column_list = [
        "order",
        "decided_at",
        "store",
        "sharer",
        "parent_sharer",
        "rule",
        "explanation",
    ]
    column_details_list = [
        "order",
        "decided_at",
        "store",
        "sharer",
        "parent_sharer",
        "link",
        "live_session_id",
        "rule",
        "explanation",
        "touches",
    ]
    column_labels = {
        "order": _l("Order"),
        "decided_at": _l("Decided"),
        "store": _l("Store"),
        "sharer": _l("Credited to"),
        "parent_sharer": _l("Second level"),
        "link": _l("Link"),
        "live_session_id": _l("Live session"),
        "rule": _l("Rule"),
        "explanation": _l("Why"),
        "touches": _l("Links opened before the order"),
    }
    column_formatters = {
        "order": order_formatter,
        "store": _store_name,
        "sharer": sharer_formatter,
        "parent_sharer": sharer_formatter,
        "link": link_code_formatter,
        "rule": choice_formatter(RULE_LABELS),
        "explanation": lambda v, c, m, n: explain(m),
        "touches": _touches,
    }
    column_filters = [
        StoreFilter(Attribution.store_id, _l("Store")),
        SharerFilter(Attribution.sharer_id, _l("Credited to")),
        "rule",
        "decided_at",
    ]
    column_sortable_list = [("order", "order_id"), "decided_at", "rule"]
    column_default_sort = ("order_id", True)

    def get_one(self, id):
        found = self.get_query().filter(Attribution.order_id == parse_pk(id)).one_or_none()
        if found is None:
            abort(404)
        return found

    def get_scoped(self, ids) -> list:
        wanted = {parse_pk(i) for i in ids}
        rows = self.get_query().filter(Attribution.order_id.in_(wanted)).all() if wanted else []
        if len(rows) != len(wanted):
            abort(404)
        return rows

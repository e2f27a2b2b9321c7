"""The points ledger (and adjusting a customer's points) and the points shop."""

from __future__ import annotations

import uuid

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from admin.base import StaffModelView
from admin.kit.formatters import customer_cell, staff_formatter
from admin.kit.forms import AdminForm
from admin.kit.pages import FormPage, ToolsListView
from admin.members.pickers import find_customer
from admin.permissions import current_staff, may
from shop.extensions import db
from shop.members import coupons, points
from shop.members.models import CouponTemplate
from shop.orders.numbers import order_number


class AdjustForm(AdminForm):
    idempotency_key = HiddenField(validators=[DataRequired(), Length(min=16, max=64)])
    customer = StringField(
        _l("Customer"),
        validators=[DataRequired(), Length(max=32)],
        description=_l("Their phone number, or their customer number."),
    )
    amount = IntegerField(
        _l("Points"),
        validators=[InputRequired(), NumberRange(min=-(10**7), max=10**7)],
        description=_l("Points to add; a negative number takes points away."),
    )
    reason = StringField(_l("Reason"), validators=[Length(max=255)])


# Points ledger -------------------------------------------------------------------------------


def _points_customer(view, context, model, name):
    cell = customer_cell(model.customer)
    if not may("points.adjust"):
        return cell
    return Markup('{} <a class="small" href="{}">{}</a>').format(
        cell, url_for("admin_points.adjust_view", customer=model.customer_id), _("adjust")
    )


class AdjustPoints(FormPage):
    """Add or take points by hand, with a reason (``points.adjust`` refuses none and audits the
    change); the form's idempotency key makes a second submit of it change nothing."""

    permission = "points.adjust"
    form_class = AdjustForm
    template = "admin/siyu/points_adjust.html"
    incomplete = _l("Enter the customer, a whole number of points and a reason.")
    customer = None

    def blank_form(self):
        form = AdjustForm(idempotency_key=uuid.uuid4().hex)
        form.customer.data = request.args.get("customer", "")
        return form

    def fill(self, form):
        self.customer = find_customer(form.customer.data or "")
        if self.customer is not None and request.method == "GET":
            form.customer.data = str(self.customer.id)

    def context(self):
        return {"customer": self.customer}

    def submit(self, form):
        if self.customer is None:
            return _(
                "No customer has the phone number or number %(text)s.", text=form.customer.data
            )
        done = points.adjust(
            self.customer.id,
            form.amount.data,
            form.reason.data or "",
            current_staff(),
            key=form.idempotency_key.data,
        )
        if not done:
            flash(_("This adjustment was already made."), "info")
            return None
        flash(
            _(
                "%(customer)s now has %(points)d points.",
                customer=customer_cell(self.customer),
                points=points.balance(self.customer.id),
            ),
            "success",
        )
        return None


class PointsEntryView(ToolsListView):
    """The append-only points ledger: read only; staff adjust with the custom page."""

    permission = "points.view"
    can_view_details = False
    column_display_actions = False
    column_list = [
        "created_at",
        "customer",
        "amount",
        "kind",
        "order_id",
        "expires_at",
        "note",
        "staff",
    ]
    column_labels = {
        "created_at": _l("When"),
        "customer": _l("Customer"),
        "customer.phone": _l("Phone"),
        "customer.name": _l("Name"),
        "amount": _l("Points"),
        "kind": _l("Entry"),
        "order_id": _l("Order"),
        "expires_at": _l("Expires"),
        "note": _l("Note"),
        "staff": _l("Staff"),
    }
    column_formatters = {
        "customer": _points_customer,
        "order_id": lambda v, c, m, n: order_number(m.order_id),
        "staff": staff_formatter,
    }
    column_searchable_list = ["customer.phone", "customer.name"]
    column_filters = ["kind", "created_at", "expires_at"]
    column_sortable_list = ["created_at", "amount", "kind"]
    column_default_sort = ("id", True)
    tools = ((_l("Adjust points…"), ".adjust_view", AdjustPoints.permission),)
    adjust_view = AdjustPoints.route("/adjust/")

    def search_placeholder(self) -> str:
        return str(_l("Phone or name"))


# Points shop ---------------------------------------------------------------------------------


class PointsShopItemView(StaffModelView):
    permission = "members.view"
    edit_permission = "members.edit"
    audit_name = "points_shop_item"
    can_view_details = False
    column_list = ["template", "offer", "points_price", "active"]
    column_labels = {
        "template": _l("Coupon"),
        "offer": _l("Offer"),
        "points_price": _l("Price in points"),
        "active": _l("In the shop"),
    }
    column_formatters = {"offer": lambda v, c, m, n: coupons.describe(m.template)}
    column_default_sort = "points_price"
    form_columns = ["template", "points_price", "active"]
    form_args = {
        "template": {
            "validators": [InputRequired()],
            "query_factory": lambda: db.session.query(CouponTemplate).order_by(CouponTemplate.name),
        },
        "points_price": {"validators": [InputRequired(), NumberRange(min=1, max=10**8)]},
    }

"""Coupon templates, the coupons customers hold, and granting one to a customer."""

from __future__ import annotations

from flask import flash, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from admin.base import StaffModelView
from admin.kit.bilingual import bilingual_labels, english_field_args
from admin.kit.fields import KindValueField, MoneyField
from admin.kit.formatters import customer_cell, customer_formatter, order_cell
from admin.kit.forms import AdminForm
from admin.kit.lookup import LookupListField
from admin.kit.pages import FormPage, ToolsListView
from admin.members.pickers import find_customer
from admin.permissions import current_staff
from shop.catalog.models import Category, Product, Store
from shop.extensions import db
from shop.members import coupons
from shop.members.models import CouponKind, CouponScope, CouponTemplate

COUPON_KIND_LABELS = CouponKind.labels()


COUPON_SCOPE_LABELS = CouponScope.labels()
SCOPE_MODELS = {"categories": Category, "products": Product, "stores": Store}


# Coupon templates ----------------------------------------------------------------------------


def _offer(view, context, model, name):
    return coupons.describe(model)


def _claimed(view, context, model, name):
    if model.total_quantity is None:
        return str(model.claimed_count)
    return f"{model.claimed_count} / {model.total_quantity}"


def _scope(view, context, model, name):
    label = str(COUPON_SCOPE_LABELS.get(model.scope, model.scope))
    target = SCOPE_MODELS.get(model.scope)
    if target is None or not model.scope_ids:
        return label
    names = db.session.scalars(select(target.name).where(target.id.in_(model.scope_ids))).all()
    return f"{label}: {', '.join(sorted(names))}"


class CouponTemplateView(StaffModelView):
    permission = "members.view"
    edit_permission = "members.edit"
    audit_name = "coupon_template"
    column_list = [
        "name",
        "kind",
        "offer",
        "scope",
        "claimed",
        "valid_until",
        "valid_days",
        "claimable",
        "active",
    ]
    column_details_list = [
        "name",
        "name_en",
        "kind",
        "offer",
        "scope",
        "claimed",
        "valid_from",
        "valid_until",
        "valid_days",
        "per_customer_limit",
        "new_customers_only",
        "combinable_with_points",
        "claimable",
        "active",
        "created_at",
    ]
    column_labels = {
        **bilingual_labels("name", "name_en"),
        "kind": _l("Kind"),
        "offer": _l("Offer"),
        "value_text": _l("Value"),
        "cap": _l("At most (percent off)"),
        "threshold": _l("Minimum spend"),
        "scope": _l("Applies to"),
        "scope_ids": _l("Which ones"),
        "claimed": _l("Claimed"),
        "valid_from": _l("Valid from"),
        "valid_until": _l("Valid until"),
        "valid_days": _l("Valid days after claim"),
        "total_quantity": _l("Total quantity"),
        "per_customer_limit": _l("Per customer"),
        "new_customers_only": _l("New customers only"),
        "combinable_with_points": _l("Combinable with points"),
        "claimable": _l("Customers may claim it"),
        "active": _l("Active"),
        "created_at": _l("Made"),
    }
    column_formatters = {"offer": _offer, "claimed": _claimed, "scope": _scope}
    column_searchable_list = ["name"]
    column_filters = ["kind", "active", "claimable"]
    column_default_sort = ("id", True)
    form_columns = [
        "name",
        "name_en",
        "kind",
        "value_text",
        "cap",
        "threshold",
        "scope",
        "scope_ids",
        "valid_from",
        "valid_until",
        "valid_days",
        "total_quantity",
        "per_customer_limit",
        "new_customers_only",
        "combinable_with_points",
        "claimable",
        "active",
    ]
    form_choices = {
        "kind": list(COUPON_KIND_LABELS.items()),
        "scope": list(COUPON_SCOPE_LABELS.items()),
    }
    form_overrides = {"cap": MoneyField, "threshold": MoneyField, "scope_ids": LookupListField}
    form_extra_fields = {
        "value_text": KindValueField(
            _l("Value"),
            description=_l(
                "Amount off such as 10.00; for percent off a percentage such as 15; "
                "free delivery: 0."
            ),
        )
    }
    form_args = {
        "name": {"validators": [DataRequired(), Length(max=120)]},
        "name_en": {
            **english_field_args("name_en")["name_en"],
            "validators": [Length(max=120)],
        },
        "threshold": {"description": _l("The basket must reach this, such as 100.00; empty: 0.")},
        "cap": {"description": _l("The most a percent-off coupon takes off; empty: no cap.")},
        "scope_ids": {
            "kind_from": "scope",
            "kinds": {
                "all": None,
                "categories": "category",
                "products": "product",
                "stores": "store",
            },
            "description": _l("The categories, products or stores it applies to."),
        },
        "valid_days": {"validators": [Optional(), NumberRange(min=1, max=3650)]},
        "total_quantity": {
            "validators": [Optional(), NumberRange(min=0, max=10**8)],
            "description": _l("Empty: unlimited."),
        },
        "per_customer_limit": {"validators": [InputRequired(), NumberRange(min=1, max=1000)]},
    }

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if obj is not None and request.method == "GET":
            form.value_text.show(obj.value, obj.kind == "percent")
        return form

    def on_model_change(self, form, model, is_created):
        if model.kind != "free_shipping":
            try:
                model.value = form.value_text.to_stored(model.kind == "percent")
            except ValueError as exc:
                raise ValidationError(str(exc)) from None
        coupons.check_template(model)
        super().on_model_change(form, model, is_created)


# Issued coupons ------------------------------------------------------------------------------


class GrantForm(AdminForm):
    template = SelectField(_l("Coupon"), coerce=int, choices=[], validators=[InputRequired()])
    customer = StringField(
        _l("Customer"),
        validators=[DataRequired(), Length(max=32)],
        description=_l("Their phone number, or their customer number."),
    )


class GrantCoupon(FormPage):
    """Give a customer a coupon (``coupons.issue`` with the staff member, which audits it)."""

    permission = "coupons.grant"
    form_class = GrantForm
    template = "admin/siyu/coupon_grant.html"
    incomplete = _l("Choose a coupon and enter the customer.")

    def blank_form(self):
        form = GrantForm()
        form.customer.data = request.args.get("customer", "")
        return form

    def fill(self, form):
        form.template.choices = [
            (t.id, f"{t.name} — {coupons.describe(t)}")
            for t in db.session.scalars(
                select(CouponTemplate)
                .where(CouponTemplate.active.is_(True))
                .order_by(CouponTemplate.name)
            )
        ]

    def submit(self, form):
        customer = find_customer(form.customer.data)
        if customer is None:
            return _(
                "No customer has the phone number or number %(text)s.", text=form.customer.data
            )
        coupon = coupons.issue(
            form.template.data, customer.id, source="admin", staff=current_staff()
        )
        flash(
            _(
                "%(coupon)s granted to %(customer)s.",
                coupon=coupon.template.name,
                customer=customer_cell(customer),
            ),
            "success",
        )
        return None


class CouponView(ToolsListView):
    """Coupons customers hold: read only; staff grant one with the custom page."""

    permission = "coupons.view"
    can_view_details = False
    column_display_actions = False
    column_list = [
        "claimed_at",
        "template",
        "customer",
        "source",
        "share_code",
        "expires_at",
        "used_order_id",
        "used_at",
    ]
    column_labels = {
        "claimed_at": _l("Given"),
        "template": _l("Coupon"),
        "template.name": _l("Coupon"),
        "customer": _l("Customer"),
        "customer.phone": _l("Phone"),
        "source": _l("How"),
        "share_code": _l("Share link"),
        "expires_at": _l("Expires"),
        "used_order_id": _l("Used on"),
        "used_at": _l("Used"),
    }
    column_formatters = {
        "customer": customer_formatter,
        "used_order_id": lambda v, c, m, n: order_cell(m.used_order_id),
    }
    column_searchable_list = ["customer.phone", "customer.name", "template.name"]
    column_filters = ["source", "template.name", "claimed_at", "used_at"]
    column_sortable_list = ["claimed_at", "expires_at", "used_at"]
    column_default_sort = ("id", True)
    tools = ((_l("Grant a coupon…"), ".grant_view", GrantCoupon.permission),)
    grant_view = GrantCoupon.route("/grant/")

    def search_placeholder(self) -> str:
        return str(_l("Phone, name or coupon"))

"""Members in the admin panel: loyalty settings, member tiers with their tasks, coupon templates,
issued coupons (and granting one to a customer), the points ledger (and adjusting a customer's
points), and the points shop.

Amounts are typed in major units and stored in minor units (``shop.money.parse_money``);
percentages are typed as "12.5" and stored in basis points. Settings, tiers (with their
tasks), templates and points shop items are audited by the base view's hook, before and
after; a coupon grant (``coupons.issue`` with the staff member) and a points adjustment
(``points.adjust``, which refuses one without a reason) write their own audit entries. The
adjustment form carries an idempotency key, so a double click or a replayed form adjusts once.
Customers' phone numbers are masked unless the role holds ``phones.full``.

Who may do what (the permission names are in ``admin.permissions``):

=================================  =====  =======  =======
page, action                       owner  finance  support
=================================  =====  =======  =======
Loyalty settings, tiers and tasks  edit   read
Coupon templates, points shop      edit   read
Issued coupons                     read   read     read
- grant a coupon to a customer     yes
Points ledger                      read   read     read
- adjust a customer's points       yes    yes
=================================  =====  =======  =======

Store managers have none of these: customers and their memberships are the whole shop's.
"""

from __future__ import annotations

import uuid

from flask import current_app, flash, request, url_for
from flask_admin.model.form import InlineFormAdmin
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext, ngettext
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from admin.base import StaffModelView, money_formatter, staff_formatter
from admin.kit.forms import AdminForm, MoneyField
from admin.kit.pages import (
    FormPage,
    IdListField,
    IdSelectField,
    KindValueField,
    PercentField,
    SingleRowView,
    ToolsListView,
    choice_formatter,
    customer_cell,
    customer_formatter,
    order_cell,
    order_number,
)
from admin.permissions import current_staff, may
from shop.catalog.models import Category, Product, Store
from shop.customers.models import Customer
from shop.customers.phones import normalize_phone
from shop.errors import InvalidInput
from shop.extensions import db
from shop.members import coupons, points
from shop.members.models import CouponTemplate, TierTask
from shop.money import format_money

CREDIT_LABELS = {"paid": _l("When the order is paid"), "settled": _l("When the order settles")}
TASK_LABELS = {
    "buy_product": _l("Buy a product"),
    "spend": _l("Spend an amount"),
    "refer": _l("Bring friends who pay"),
}
COUPON_KIND_LABELS = {
    "fixed": _l("Amount off"),
    "percent": _l("Percent off"),
    "threshold": _l("Spend X, save Y"),
    "free_shipping": _l("Free delivery"),
}
COUPON_SCOPE_LABELS = {
    "all": _l("Everything"),
    "categories": _l("Categories"),
    "products": _l("Products"),
    "stores": _l("Stores"),
}
SCOPE_MODELS = {"categories": Category, "products": Product, "stores": Store}
SOURCE_LABELS = {
    "claim": _l("Claimed"),
    "admin": _l("Granted by staff"),
    "welcome": _l("Welcome"),
    "tier": _l("Tier benefit"),
    "points_shop": _l("Points shop"),
    "referral": _l("Bring a friend"),
}
POINTS_KIND_LABELS = {
    "earn": _l("Earned"),
    "spend": _l("Spent"),
    "spend_return": _l("Spent, given back"),
    "take_back": _l("Taken back (refund)"),
    "adjust": _l("Added by staff"),
    "adjust_down": _l("Taken by staff"),
    "expire": _l("Expired"),
    "reward": _l("Bring-a-friend reward"),
    "shop": _l("Points shop"),
}


def _templates():
    return db.session.execute(
        select(CouponTemplate.id, CouponTemplate.name).order_by(CouponTemplate.name)
    ).all()


def _products():
    return db.session.execute(select(Product.id, Product.name).order_by(Product.name)).all()


def _template_name(view, context, model, name):
    template_id = getattr(model, name)
    if not template_id:
        return ""
    return db.session.scalar(select(CouponTemplate.name).where(CouponTemplate.id == template_id))


# Loyalty settings ----------------------------------------------------------------------------


class LoyaltySettingsView(SingleRowView):
    permission = "members.view"
    edit_permission = "members.edit"
    audit_name = "loyalty_settings"
    column_details_list = form_columns = [
        "points_per_unit",
        "credit_on",
        "settle_days",
        "point_value",
        "redeem_cap_pct",
        "redeem_cap_points",
        "expiry_months",
        "referral_reward_points",
        "referral_reward_template_id",
        "referral_friend_template_id",
        "welcome_template_id",
    ]
    column_labels = {
        "points_per_unit": _l("Points per currency unit paid"),
        "credit_on": _l("Points are credited"),
        "settle_days": _l("Days until an order settles"),
        "point_value": _l("What one point is worth"),
        "redeem_cap_pct": _l("Points may pay at most (percent of the order)"),
        "redeem_cap_points": _l("Points one order may use at most"),
        "expiry_months": _l("Points expire after (months)"),
        "referral_reward_points": _l("Bring a friend: points for the referrer"),
        "referral_reward_template_id": _l("Bring a friend: coupon for the referrer"),
        "referral_friend_template_id": _l("Bring a friend: coupon for the friend"),
        "welcome_template_id": _l("Welcome coupon"),
    }
    column_formatters = {
        "credit_on": choice_formatter(CREDIT_LABELS),
        "point_value": money_formatter(),
        "referral_reward_template_id": _template_name,
        "referral_friend_template_id": _template_name,
        "welcome_template_id": _template_name,
    }
    form_choices = {"credit_on": list(CREDIT_LABELS.items())}
    form_overrides = {
        "point_value": MoneyField,
        "referral_reward_template_id": IdSelectField,
        "referral_friend_template_id": IdSelectField,
        "welcome_template_id": IdSelectField,
    }
    form_args = {
        "points_per_unit": {"validators": [InputRequired(), NumberRange(min=0, max=10000)]},
        "settle_days": {
            "validators": [InputRequired(), NumberRange(min=0, max=365)],
            "description": _l("Used when points are credited once the order settles."),
        },
        "point_value": {
            "validators": [InputRequired()],
            "description": _l("Taken off an order per point spent, such as 0.01."),
        },
        "redeem_cap_pct": {"validators": [InputRequired(), NumberRange(min=0, max=100)]},
        "redeem_cap_points": {"validators": [InputRequired(), NumberRange(min=0, max=10**9)]},
        "expiry_months": {
            "validators": [InputRequired(), NumberRange(min=0, max=120)],
            "description": _l("0: points never expire."),
        },
        "referral_reward_points": {"validators": [InputRequired(), NumberRange(min=0, max=10**7)]},
        "referral_reward_template_id": {"choices": _templates},
        "referral_friend_template_id": {
            "choices": _templates,
            "description": _l(
                "Given to a referred friend when their first order is paid. None: the welcome "
                "coupon, if they have not had it yet."
            ),
        },
        "welcome_template_id": {
            "choices": _templates,
            "description": _l("Given on a customer's first sign-in."),
        },
    }

    def load_row(self):
        return points.settings()


# Tiers and their tasks -----------------------------------------------------------------------


class TierTaskInline(InlineFormAdmin):
    form_columns = ["id", "kind", "product_id", "amount", "days", "count"]
    form_label = _l("Task")
    form_overrides = {"product_id": IdSelectField, "amount": MoneyField}
    form_choices = {"kind": list(TASK_LABELS.items())}
    form_args = {
        "kind": {"label": _l("Task")},
        "product_id": {"label": _l("Product (buy a product)"), "choices": _products},
        "amount": {"label": _l("Amount (spend)")},
        "days": {
            "label": _l("Within days (spend; empty: ever)"),
            "validators": [Optional(), NumberRange(min=1, max=3650)],
        },
        "count": {
            "label": _l("Friends (bring friends)"),
            "validators": [Optional(), NumberRange(min=0, max=100000)],
        },
    }


def task_label(task: TierTask) -> str:
    if task.kind == "buy_product":
        name = db.session.scalar(select(Product.name).where(Product.id == task.product_id))
        return _("Buy %(product)s", product=name or "?")
    if task.kind == "spend":
        amount = format_money(task.amount, current_app.config["SHOP_CURRENCY"])
        if task.days:
            return _("Spend %(amount)s within %(days)d days", amount=amount, days=task.days)
        return _("Spend %(amount)s", amount=amount)
    return ngettext(
        "Bring %(num)d friend who pays for an order",
        "Bring %(num)d friends who pay for an order",
        task.count,
    )


def _tasks(view, context, model, name):
    return "; ".join(task_label(task) for task in model.tasks)


class MemberTierView(StaffModelView):
    permission = "members.view"
    edit_permission = "members.edit"
    audit_name = "member_tier"
    column_list = [
        "rank",
        "name",
        "discount_bp",
        "points_multiplier_pct",
        "free_shipping_from",
        "benefit_template_id",
        "retention_days",
        "tasks",
    ]
    column_details_list = column_list
    column_labels = {
        "rank": _l("Rank"),
        "name": lazy_pgettext("not a person", "Name"),
        "discount_bp": _l("Member discount (%)"),
        "points_multiplier_pct": _l("Points multiplier (%)"),
        "free_shipping_from": _l("Free delivery from"),
        "benefit_template_id": _l("Benefit coupon"),
        "retention_days": _l("Re-qualify within (days)"),
        "tasks": _l("Tasks (all needed)"),
    }
    column_formatters = {
        "discount_bp": lambda v, c, m, n: f"{coupons.hundredths(m.discount_bp)}%",
        "points_multiplier_pct": lambda v, c, m, n: (
            f"×{coupons.hundredths(m.points_multiplier_pct)}"
        ),
        "free_shipping_from": money_formatter(),
        "benefit_template_id": _template_name,
        "tasks": _tasks,
    }
    column_default_sort = "rank"
    form_columns = [
        "name",
        "rank",
        "discount_bp",
        "points_multiplier_pct",
        "free_shipping_from",
        "benefit_template_id",
        "retention_days",
        "tasks",
    ]
    form_overrides = {
        "discount_bp": PercentField,
        "free_shipping_from": MoneyField,
        "benefit_template_id": IdSelectField,
    }
    form_args = {
        "rank": {
            "validators": [InputRequired(), NumberRange(min=0, max=1000)],
            "description": _l("Higher ranks are higher tiers; each rank is used once."),
        },
        "discount_bp": {"validators": [InputRequired()], "description": _l("Such as 5 or 2.5.")},
        "points_multiplier_pct": {
            "validators": [InputRequired(), NumberRange(min=0, max=1000)],
            "description": _l("100 earns the usual points; 150 earns 1.5 times."),
        },
        "free_shipping_from": {"description": _l("Empty: no free delivery benefit.")},
        "benefit_template_id": {
            "choices": _templates,
            "description": _l("Given once to each member who reaches the tier."),
        },
        "retention_days": {
            "validators": [Optional(), NumberRange(min=1, max=3650)],
            "description": _l("Empty: members keep the tier."),
        },
    }
    inline_models = [TierTaskInline(TierTask)]

    def audit_snapshot(self, model) -> dict:
        data = super().audit_snapshot(model)
        data["tasks"] = [
            {
                "kind": t.kind,
                "product_id": t.product_id,
                "amount": t.amount,
                "days": t.days,
                "count": t.count,
            }
            for t in model.tasks
        ]
        return data

    def on_model_change(self, form, model, is_created):
        with db.session.no_autoflush:
            taken = db.session.scalar(
                select(type(model).id).where(
                    type(model).rank == model.rank, type(model).id != (model.id or 0)
                )
            )
        if taken:
            raise ValidationError(_("Another tier has rank %(rank)s.", rank=model.rank))
        for task in model.tasks:
            task.amount = task.amount or 0
            task.count = task.count or 0
            if task.kind == "buy_product" and not task.product_id:
                raise ValidationError(_("Choose the product a buy-a-product task needs."))
            if task.kind == "spend" and task.amount <= 0:
                raise ValidationError(_("Enter the amount a spend task needs."))
            if task.kind == "refer" and task.count <= 0:
                raise ValidationError(_("Enter how many friends a bring-friends task needs."))
        super().on_model_change(form, model, is_created)


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
        "name": lazy_pgettext("not a person", "Name"),
        "kind": _l("Kind"),
        "offer": _l("Offer"),
        "value_text": _l("Value"),
        "cap": _l("At most (percent off)"),
        "threshold": _l("Minimum spend"),
        "scope": _l("Applies to"),
        "scope_ids": _l("Ids it applies to"),
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
    column_choices = {"kind": list(COUPON_KIND_LABELS.items())}
    column_formatters = {"offer": _offer, "claimed": _claimed, "scope": _scope}
    column_searchable_list = ["name"]
    column_filters = ["kind", "active", "claimable"]
    column_default_sort = ("id", True)
    form_columns = [
        "name",
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
    form_overrides = {"cap": MoneyField, "threshold": MoneyField, "scope_ids": IdListField}
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
        "threshold": {"description": _l("The basket must reach this, such as 100.00; empty: 0.")},
        "cap": {"description": _l("The most a percent-off coupon takes off; empty: no cap.")},
        "scope_ids": {
            "description": _l(
                "The ids of the categories, products or stores (such as 3, 5); empty for "
                "everything."
            )
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
        if model.kind == "free_shipping":
            model.value = 0
        else:
            try:
                model.value = form.value_text.to_stored(model.kind == "percent")
            except ValueError as exc:
                raise ValidationError(str(exc)) from None
            if model.value <= 0:
                raise ValidationError(_("A coupon needs a value above 0."))
        if model.kind != "percent":
            model.cap = None
        model.threshold = model.threshold or 0
        if model.kind == "threshold" and model.threshold <= model.value:
            raise ValidationError(_("The minimum spend must be more than the amount off."))
        if model.valid_from and model.valid_until and model.valid_from >= model.valid_until:
            raise ValidationError(_("A coupon's validity starts before it ends."))
        if model.total_quantity is not None and model.total_quantity < model.claimed_count:
            raise ValidationError(
                _("%(n)d were claimed already: the total cannot be less.", n=model.claimed_count)
            )
        self._check_scope(model)
        super().on_model_change(form, model, is_created)

    def _check_scope(self, model) -> None:
        target = SCOPE_MODELS.get(model.scope)
        if target is None:
            model.scope_ids = None
            return
        if not model.scope_ids:
            raise ValidationError(_("Enter the ids the coupon applies to."))
        with db.session.no_autoflush:
            found = set(db.session.scalars(select(target.id).where(target.id.in_(model.scope_ids))))
        missing = [str(i) for i in model.scope_ids if i not in found]
        if missing:
            raise ValidationError(
                _(
                    "No %(scope)s with the ids %(ids)s.",
                    scope=COUPON_SCOPE_LABELS[model.scope],
                    ids=", ".join(missing),
                )
            )


# Issued coupons ------------------------------------------------------------------------------


class GrantForm(AdminForm):
    template = SelectField(_l("Coupon"), coerce=int, choices=[], validators=[InputRequired()])
    customer = StringField(
        _l("Customer"),
        validators=[DataRequired(), Length(max=32)],
        description=_l("Their phone number, or their customer number."),
    )


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


def find_customer(text: str) -> Customer | None:
    """The customer a staff member typed: a phone number, or a customer number (the id)."""
    text = (text or "").strip()
    if text.isdigit() and len(text) < 10:
        found = db.session.get(Customer, int(text))
        if found is not None:
            return found
    try:
        phone = normalize_phone(text)
    except InvalidInput:
        return None
    return db.session.scalar(select(Customer).where(Customer.phone == phone))


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
    column_choices = {"source": list(SOURCE_LABELS.items())}
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
        try:
            done = points.adjust(
                self.customer.id,
                form.amount.data,
                form.reason.data or "",
                current_staff(),
                key=form.idempotency_key.data,
            )
        except IntegrityError:  # the same form, submitted twice at once: the first one stands
            db.session.rollback()
            done = False
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
    column_choices = {"kind": list(POINTS_KIND_LABELS.items())}
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

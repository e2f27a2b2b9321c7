"""Guides and promoters (adding a guide with their sign-in, approving promoters, a guide
leaving) and their levels."""

from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_admin.actions import action
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext, ngettext
from markupsafe import Markup
from sqlalchemy import func, select
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from admin.base import StaffModelView, StoreFilter
from admin.distribution.cells import sharer_formatter
from admin.distribution.scoping import DistributionView
from admin.kit.fields import MoneyField, NotStored, password_field
from admin.kit.formatters import money_formatter, phone_formatter
from admin.kit.forms import IdForm
from admin.kit.pages import FormPage
from admin.permissions import current_staff, may
from distribution import commission, guides, promoters
from distribution.models import Binding, Sharer
from shop.catalog.models import Store
from shop.extensions import db
from shop.members.coupons import hundredths
from shop.money import format_money


class EmailField(NotStored, StringField):
    pass


class GuideLeavesForm(IdForm):
    heir = SelectField(_l("Move their customers to"), validators=[DataRequired()], choices=[])


def _balances(view, context, model, name):
    if not may("commission.view"):
        return ""
    money = commission.balances(model.id)
    currency = current_app.config["SHOP_CURRENCY"]
    shown = {key: format_money(money[key], currency) for key in ("pending", "settled", "paid")}
    return _("Pending %(pending)s · settled %(settled)s · paid %(paid)s", **shown)


def _manage(view, context, model, name):
    if view.may_leave(model):
        return Markup('<a class="btn btn-sm btn-outline-secondary" href="{}">{}</a>').format(
            url_for("admin_sharers.leave_view", id=model.id), _("Guide leaves…")
        )
    return ""


class GuideLeaves(FormPage):
    """A guide leaves: their customers and open bindings go to another guide of the store, or
    round-robin over all of them (``guides.transfer_customers``, audited); their sign-in
    stops."""

    permission = "sharers.manage"
    form_class = GuideLeavesForm
    template = "admin/siyu/guide_leaves.html"
    error_status = 200

    def load(self):
        self.guide = self.view.get_one(request.values.get("id"))
        if self.guide.kind != "guide" or self.guide.status != "active":
            flash(_("%(name)s is not an active guide.", name=self.guide.name), "warning")
            return redirect(self.done_url())
        self.heirs = list(
            db.session.scalars(
                select(Sharer)
                .where(
                    Sharer.kind == "guide",
                    Sharer.status == "active",
                    Sharer.store_id == self.guide.store_id,
                    Sharer.id != self.guide.id,
                )
                .order_by(Sharer.name, Sharer.id)
            )
        )
        return None

    def fill(self, form):
        form.id.data = str(self.guide.id)
        form.heir.choices = [("all", _("Share them round-robin among all the store's guides"))] + [
            (str(heir.id), heir.name) for heir in self.heirs
        ]

    def may_submit(self):
        return bool(self.heirs)

    def submit(self, form):
        chosen = self.heirs if form.heir.data == "all" else []
        chosen = chosen or [h for h in self.heirs if str(h.id) == form.heir.data]
        moved = guides.transfer_customers(self.guide, chosen, staff=current_staff())
        flash(
            ngettext(
                "%(name)s has left; %(num)d customer moved to %(to)s.",
                "%(name)s has left; %(num)d customers moved to %(to)s.",
                moved,
                name=self.guide.name,
                to=", ".join(h.name for h in chosen),
            ),
            "success",
        )
        return None

    def done_url(self):
        return url_for(".details_view", id=self.guide.id)

    def context(self):
        open_bindings = db.session.scalar(
            select(func.count(Binding.id)).where(
                Binding.sharer_id == self.guide.id, Binding.active.is_(True)
            )
        )
        return {"guide": self.guide, "heirs": self.heirs, "open_bindings": open_bindings}


class SharerView(DistributionView):
    """Guides and promoters. An owner adds a guide here with their sign-in (a staff login of
    role guide for the guide's store)."""

    permission = "distribution.view"
    edit_permission = "sharers.edit"
    action_permission = "sharers.manage"
    export_permission = "distribution.view"
    column_list = [
        "name",
        "kind",
        "store",
        "parent",
        "level",
        "status",
        "phone",
        "created_at",
        "manage",
    ]
    column_details_list = [
        "name",
        "kind",
        "store",
        "parent",
        "level",
        "status",
        "phone",
        "staff",
        "created_at",
        "balances",
    ]
    column_export_list = [
        "name",
        "kind",
        "store",
        "parent",
        "level",
        "status",
        "phone",
        "created_at",
    ]
    column_labels = {
        "name": _l("Name"),
        "kind": _l("Kind"),
        "store": _l("Store"),
        "parent": _l("Recruited by"),
        "level": _l("Level"),
        "status": _l("Status"),
        "phone": _l("Phone"),
        "staff": _l("Sign-in"),
        "created_at": _l("Since"),
        "balances": _l("Commission"),
        "manage": "",
        "email": _l("E-mail (to sign in at /guide)"),
        "password": _l("Password"),
    }
    column_formatters = {
        "phone": phone_formatter,
        "parent": sharer_formatter,
        "staff": lambda v, c, m, n: m.staff.email if m.staff else "",
        "balances": _balances,
        "manage": _manage,
    }
    column_formatters_export = {"phone": phone_formatter}
    column_searchable_list = ["name", "phone"]
    column_filters = [StoreFilter(Sharer.store_id, _l("Store")), "kind", "status", "created_at"]
    column_sortable_list = ["name", "kind", ("store", "store.name"), "status", "created_at"]
    column_default_sort = ("id", True)
    form_columns = ["name", "store", "phone", "level", "email", "password"]
    form_args = {
        "phone": {"validators": [Length(max=32)]},
        "store": {"query_factory": lambda: db.session.query(Store).order_by(Store.name)},
    }
    form_extra_fields = {
        "email": EmailField(_l("E-mail"), validators=[Length(max=255)]),
        "password": password_field(),
    }
    scoped_fields = {"store": Store}

    details_template = "admin/siyu/sharer_details.html"
    leave_view = GuideLeaves.route("/leave/")

    def search_placeholder(self) -> str:
        return str(_l("Name or phone"))

    def may_leave(self, sharer: Sharer) -> bool:
        return sharer.kind == "guide" and sharer.status == "active" and may("sharers.manage")

    def create_form(self, obj=None):
        form = super().create_form(obj)
        form.password.description = _("At least 10 characters.")
        return form

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        for name in ("email", "password", "store"):
            del form[name]
        return form

    def on_model_change(self, form, model, is_created):
        if is_created:
            guides.add_guide(model, form.email.data, form.password.data, current_staff())
        else:
            guides.tidy_sharer(model)
        super().on_model_change(form, model, is_created)

    @action("approve", _l("Approve promoters"), _l("Let the selected promoters share and earn?"))
    def action_approve(self, ids):
        approved = self.each(
            self.get_scoped(ids),
            lambda sharer: promoters.approve_promoter(sharer, current_staff()),
            named=lambda sharer: sharer.name,
            category="warning",
        )
        if approved:
            flash(
                ngettext("%(num)d promoter approved.", "%(num)d promoters approved.", approved),
                "success",
            )


class SharerLevelView(StaffModelView):
    """Levels are the programme's, shared by every store."""

    permission = "distribution.view"
    edit_permission = "sharers.edit"
    can_view_details = False
    column_list = form_columns = [
        "name",
        "rank",
        "multiplier_pct",
        "invites_needed",
        "team_sales_needed",
    ]
    column_labels = {
        "name": lazy_pgettext("not a person", "Name"),
        "rank": _l("Rank"),
        "multiplier_pct": _l("Commission multiplier"),  # ×1.2 in lists; the form asks %
        "invites_needed": _l("Promoters to invite"),
        "team_sales_needed": _l("Team sales needed"),
    }
    column_formatters = {
        "multiplier_pct": lambda v, c, m, n: f"×{hundredths(m.multiplier_pct)}",
        "team_sales_needed": money_formatter(),
    }
    column_default_sort = "rank"
    form_overrides = {"team_sales_needed": MoneyField}
    form_args = {
        "multiplier_pct": {
            "label": _l("Commission multiplier (%)"),
            "validators": [InputRequired(), NumberRange(min=0, max=1000)],
            "description": _l("100 pays the rule's rate; 120 pays 1.2 times it."),
        },
        "invites_needed": {"validators": [InputRequired(), NumberRange(min=0, max=100000)]},
        "rank": {"validators": [InputRequired(), NumberRange(min=0, max=1000)]},
    }

    def on_model_change(self, form, model, is_created):
        model.team_sales_needed = model.team_sales_needed or 0
        super().on_model_change(form, model, is_created)

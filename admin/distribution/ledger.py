"""The commission ledger, each sharer's balances and payouts, and acquisition costs."""

from __future__ import annotations

from flask import abort, current_app, flash, request, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from wtforms.validators import InputRequired, Length

from admin.base import SecuredView, StaffModelView, parse_pk
from admin.distribution.cells import (
    name_formatter,
    order_number_formatter,
    sharer_formatter,
    sharer_store_formatter,
)
from admin.distribution.rules import SCOPE_LABELS
from admin.distribution.scoping import DistributionView, SharerFilter, scoped_sharers
from admin.kit.fields import MoneyField
from admin.kit.formatters import customer_formatter, money_formatter, order_formatter, plain_amount
from admin.kit.forms import IdForm
from admin.kit.pages import ActionButton
from admin.permissions import current_staff, may
from distribution import acquisition, commission
from distribution.models import CommissionEntry, CommissionRule, Payout, Sharer
from shop.customers.phones import mask_phone
from shop.extensions import db
from shop.money import format_money
from shop.staff.models import Staff

# Commission ledger, balances, payouts --------------------------------------------------------


def _rule_version(view, context, model, name):
    if not model.rule_id:
        return _("built-in default") if model.kind == "accrue" else ""
    rule = db.session.get(CommissionRule, model.rule_id)
    return _("v%(version)s %(scope)s", version=rule.version, scope=SCOPE_LABELS[rule.scope])


def _entry_note(view, context, model, name):
    """Why the entry was written, in the reader's language, from the entry's own fields (the
    stored note was worded once, in the language of whoever caused it)."""
    if model.kind == "accrue" and model.rate_ppm is not None:
        return _("%(rate)s of the amount paid", rate=f"{model.rate_ppm / 10000:g}%")
    if model.kind == "accrue" and model.per_unit_x100 is not None:
        return _(
            "%(amount)s per unit",
            amount=format_money(round(model.per_unit_x100 / 100), model.currency),
        )
    if model.kind == "reverse" and model.refund_id:
        return _("Refund %(id)s", id=model.refund_id)
    if model.kind == "payout" and model.payout_id:
        return _("Payout %(id)s", id=model.payout_id)
    return model.note


class CommissionEntryView(DistributionView):
    """The append-only ledger: read only, exported as CSV."""

    permission = "commission.view"
    export_permission = "commission.export"
    can_view_details = False
    column_display_actions = False
    column_list = [
        "created_at",
        "sharer",
        "order",
        "level",
        "kind",
        "bucket",
        "amount",
        "rule",
        "note",
        "payout_id",
    ]
    column_export_list = [
        "created_at",
        "sharer",
        "store",
        "order",
        "level",
        "kind",
        "bucket",
        "amount",
        "currency",
        "rule",
        "note",
        "payout_id",
    ]
    column_labels = {
        "created_at": _l("When"),
        "sharer": _l("Sharer"),
        "store": _l("Store"),
        "order": _l("Order"),
        "level": _l("Level"),
        "kind": _l("Entry"),
        "bucket": _l("Bucket"),
        "amount": _l("Amount"),
        "currency": _l("Currency"),
        "rule": _l("Rule"),
        "note": _l("Note"),
        "payout_id": _l("Payout"),
    }
    column_formatters = {
        "sharer": sharer_formatter,
        "order": order_formatter,
        "amount": money_formatter("currency"),
        "rule": _rule_version,
        "note": _entry_note,
    }
    column_formatters_export = {
        "sharer": name_formatter,
        "store": sharer_store_formatter,
        "order": order_number_formatter,
        "amount": plain_amount,
        "rule": _rule_version,
        "note": _entry_note,
    }
    column_filters = [
        SharerFilter(CommissionEntry.sharer_id, _l("Sharer")),
        "kind",
        "bucket",
        "level",
        "created_at",
    ]
    column_sortable_list = ["created_at", "kind", "bucket", "amount"]
    column_default_sort = ("id", True)
    tools = ((_l("Balances and payouts…"), "admin_balances.index", None),)


class ApprovePayout(ActionButton):
    """A sharer's "Approve payout" button: ``commission.approve_payout`` pays the settled
    balance (and audits it)."""

    permission = "payouts.approve"

    def load(self, form):
        sharer = db.session.scalar(scoped_sharers().where(Sharer.id == parse_pk(form.id.data)))
        if sharer is None:
            abort(404)
        return sharer

    def run(self, sharer):
        payout = commission.approve_payout(
            sharer.id, current_staff(), current_app.config["SHOP_CURRENCY"]
        )
        flash(
            _(
                "Payout of %(amount)s to %(name)s approved.",
                amount=format_money(payout.amount, payout.currency),
                name=sharer.name,
            ),
            "success",
        )

    def back_url(self, sharer):
        return url_for(".index")

    def expired_url(self):
        return url_for(".index")


class BalancesView(SecuredView, BaseView):
    """Each sharer's pending, settled and paid commission (``commission.balances``), with
    "approve payout" for finance: ``commission.approve_payout`` pays the settled balance."""

    permission = "commission.view"
    page_size = 50
    approve = ApprovePayout.route("/approve/")

    @expose("/")
    def index(self):
        text = request.args.get("page", "1")
        page = int(text) if text.isdigit() and 0 < len(text) < 7 else 1
        stmt = scoped_sharers().where(
            Sharer.id.in_(select(CommissionEntry.sharer_id).correlate(None))
        )
        total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
        sharers = db.session.scalars(
            stmt.order_by(Sharer.name, Sharer.id)
            .offset((page - 1) * self.page_size)
            .limit(self.page_size)
        ).all()
        rows = []
        for sharer in sharers:
            form = IdForm()
            form.id.data = str(sharer.id)
            rows.append((sharer, commission.balances(sharer.id), form))
        return self.render(
            "admin/siyu/balances.html",
            rows=rows,
            page=page,
            pages=max(1, -(-total // self.page_size)),
            page_url=lambda p: url_for(".index", page=p + 1),
            may_pay=may("payouts.approve"),
        )


def _payee_phone(view, context, model, name):
    """The sharer's phone in the payout export: in full for the roles that pay them out
    (``payouts.phones``), masked for the others."""
    phone = model.sharer.phone if model.sharer is not None else ""
    return phone if may("payouts.phones") else mask_phone(phone)


class PayoutView(DistributionView):
    permission = "commission.view"
    export_permission = "commission.export"
    can_view_details = False
    column_display_actions = False
    column_list = ["created_at", "sharer", "store", "amount", "status", "approved_by"]
    column_export_list = [
        "sharer_id",
        "sharer",
        "phone",
        "amount",
        "currency",
        "created_at",
        "approved_by",
    ]
    column_labels = {
        "created_at": _l("Date"),
        "sharer_id": _l("Sharer id"),
        "sharer": _l("Sharer"),
        "phone": _l("Phone"),
        "store": _l("Store"),
        "amount": _l("Amount"),
        "currency": _l("Currency"),
        "status": _l("Status"),
        "approved_by": _l("Approved by"),
    }
    column_formatters = {
        "sharer": sharer_formatter,
        "store": sharer_store_formatter,
        "amount": money_formatter("currency"),
        "approved_by": lambda v, c, m, n: _approver(m),
    }
    column_formatters_export = {
        "sharer": name_formatter,
        "phone": _payee_phone,
        "amount": plain_amount,
        "approved_by": lambda v, c, m, n: _approver(m),
    }
    column_filters = [SharerFilter(Payout.sharer_id, _l("Sharer")), "created_at"]
    column_sortable_list = ["created_at", "amount"]
    column_default_sort = ("id", True)
    tools = ((_l("Balances and payouts…"), "admin_balances.index", None),)


def _approver(payout: Payout) -> str:
    staff = db.session.get(Staff, payout.approved_by) if payout.approved_by else None
    return str(staff) if staff else ""


# Acquisition costs ---------------------------------------------------------------------------


class AcquisitionCostView(StaffModelView):
    """What winning a customer cost, entered in major units; lifetime value subtracts it."""

    permission = "acquisition.edit"
    edit_permission = "acquisition.edit"
    allow_delete = True
    can_view_details = False
    audit_name = "acquisition_cost"
    column_list = ["customer", "amount", "note", "created_at"]
    column_labels = {
        "customer": _l("Customer"),
        "amount": _l("Cost"),
        "note": _l("Note"),
        "created_at": _l("Entered"),
    }
    column_formatters = {"customer": customer_formatter, "amount": money_formatter("currency")}
    column_default_sort = ("id", True)
    form_columns = ["customer", "amount", "note"]
    form_overrides = {"amount": MoneyField}
    form_args = {
        "amount": {
            "validators": [InputRequired()],
            "description": _l("What it cost to win this customer, such as 60.00."),
        },
        "note": {"validators": [Length(max=255)]},
    }
    form_ajax_refs = {
        "customer": {
            "fields": ("name", "phone"),
            "page_size": 10,
            "placeholder": _l("Type to search…"),
        }
    }

    def on_model_change(self, form, model, is_created):
        acquisition.check_cost(model, current_app.config["SHOP_CURRENCY"])
        super().on_model_change(form, model, is_created)

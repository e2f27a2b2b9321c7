"""Customers, reviews, staff accounts and the audit log."""

from __future__ import annotations

from flask import flash
from flask_admin.actions import action
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, select

from admin.base import StaffModelView
from admin.kit.fields import password_field
from admin.kit.formatters import audit_values_formatter, json_formatter, phone_formatter
from admin.permissions import current_staff, store_clause, store_scope
from shop.catalog import reviews
from shop.catalog.models import Store
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.members.models import MemberTier
from shop.orders.models import Order
from shop.staff import accounts
from shop.staff.models import Role


def _tier_name(view, context, model, name):
    tier = db.session.get(MemberTier, model.tier_id) if model.tier_id else None
    return tier.name if tier else ""


def _order_count(view, context, model, name):
    """Orders of this customer the signed-in staff member can see."""
    stmt = select(func.count()).select_from(Order).where(Order.customer_id == model.id)
    ids = store_scope()
    if ids is not None:
        stmt = stmt.where(store_clause(Order, ids))
    return db.session.scalar(stmt)


class CustomerView(StaffModelView):
    permission = "customers.view"
    export_permission = "customers.view"
    allow_create = allow_edit = False
    column_list = ["name", "phone", "city", "tier", "points_balance", "orders", "created_at"]
    column_details_list = [
        "name",
        "phone",
        "city",
        "address",
        "tier",
        "tier_since",
        "points_balance",
        "orders",
        "created_at",
    ]
    column_export_list = [
        "name",
        "phone",
        "city",
        "address",
        "tier",
        "points_balance",
        "orders",
        "created_at",
    ]
    column_labels = {
        "name": _l("Name"),
        "phone": _l("Phone"),
        "city": _l("City"),
        "address": _l("Address"),
        "tier": _l("Tier"),
        "tier_since": _l("Tier since"),
        "points_balance": _l("Points"),
        "orders": _l("Orders"),
        "created_at": _l("Since"),
    }
    column_formatters = {"phone": phone_formatter, "orders": _order_count, "tier": _tier_name}
    column_searchable_list = ["name", "phone"]
    column_filters = ["city", "created_at"]
    column_default_sort = ("id", True)

    def search_placeholder(self) -> str:
        return str(_l("Name or phone"))


class ReviewView(StaffModelView):
    permission = "reviews.moderate"
    action_permission = "reviews.moderate"
    allow_create = allow_edit = False
    column_list = ["created_at", "product", "rating", "author_name", "body", "status"]
    column_details_list = ["created_at", "product", "rating", "author_name", "body", "status"]
    column_labels = {
        "created_at": _l("When"),
        "product": _l("Product"),
        "product.name": _l("Product"),
        "rating": _l("Stars"),
        "author_name": _l("By"),
        "body": _l("Review"),
        "status": _l("Status"),
    }
    column_filters = ["status", "rating", "product.name", "created_at"]
    column_default_sort = ("id", True)

    def _moderate(self, ids, status: str) -> None:
        rows = self.get_scoped(ids)
        with unit_of_work():
            for review in rows:
                reviews.moderate(review, status, current_staff())
        flash(
            ngettext("%(num)d review updated.", "%(num)d reviews updated.", len(rows)),
            "success",
        )

    @action("approve", _l("Approve"), _l("Show the selected reviews in the shop?"))
    def action_approve(self, ids):
        self._moderate(ids, "approved")

    @action("reject", _l("Reject"), _l("Hide the selected reviews from the shop?"))
    def action_reject(self, ids):
        self._moderate(ids, "rejected")


class StaffView(StaffModelView):
    """Staff accounts, owners only. Password hashes are never shown; a new password is typed
    into a field of its own and hashed. Role and store changes are audited."""

    permission = "staff.manage"
    edit_permission = "staff.manage"
    column_list = ["email", "name", "role", "active", "stores", "created_at"]
    column_details_list = ["email", "name", "role", "active", "stores", "created_at"]
    column_labels = {
        "email": _l("E-mail"),
        "name": _l("Name"),
        "role": _l("Role"),
        "active": _l("Active"),
        "stores": _l("Stores"),
        "created_at": _l("Created"),
        "password": _l("New password"),
    }
    column_searchable_list = ["email", "name"]
    column_filters = ["role", "active"]
    form_columns = ["email", "name", "role", "active", "stores", "password"]
    form_choices = {"role": Role.choices()}
    form_args = {
        "stores": {
            "label": _l("Stores"),
            "description": _l("A store manager sees and changes only these stores."),
            "query_factory": lambda: db.session.query(Store).order_by(Store.name),
        }
    }
    form_extra_fields = {"password": password_field()}

    def audit_snapshot(self, model) -> dict:
        data = super().audit_snapshot(model)
        data["store_ids"] = sorted(store.id for store in model.stores)
        return data

    def on_model_change(self, form, model, is_created):
        accounts.save_account(model, form.password.data, current_staff())
        super().on_model_change(form, model, is_created)


class AuditLogView(StaffModelView):
    permission = "audit.view"
    export_permission = "audit.view"
    allow_create = allow_edit = False
    column_list = [
        "created_at",
        "staff",
        "action",
        "object_type",
        "object_id",
        "store_id",
        "before",
        "after",
    ]
    column_labels = {
        "created_at": _l("When"),
        "staff": _l("Staff"),
        "staff.email": _l("Staff e-mail"),
        "action": _l("Action"),
        "object_type": _l("Object"),
        "object_id": _l("Id"),
        "store_id": _l("Store"),
        "before": _l("Before"),
        "after": _l("After"),
    }
    column_formatters = {
        "before": audit_values_formatter,
        "after": audit_values_formatter,
        "staff": lambda v, c, m, n: m.actor,  # or the API key that made the change
    }
    column_formatters_export = {"before": json_formatter, "after": json_formatter}
    column_filters = ["action", "object_type", "object_id", "staff.email", "created_at"]
    column_searchable_list = ["action", "object_type"]
    column_default_sort = ("id", True)

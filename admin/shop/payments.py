"""Refunds and payments, read only (a refund is made from the order's page, ``admin.shop.orders``).

Exports give money as exact decimal amounts with the currency in its own column."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from admin.base import StaffModelView
from admin.kit.formatters import (
    choice_formatter,
    money_formatter,
    order_formatter,
    plain_amount,
    staff_formatter,
)
from shop.orders.models import RefundStatus


class RefundView(StaffModelView):
    permission = "payments.view"
    export_permission = "payments.view"
    allow_create = allow_edit = False
    can_view_details = False
    column_list = [
        "created_at",
        "order",
        "amount",
        "status",
        "failure",
        "reason",
        "restock",
        "staff",
    ]
    column_labels = {
        "created_at": _l("When"),
        "order": _l("Order"),
        "amount": _l("Amount"),
        "status": _l("Status"),
        "failure": _l("Stripe's answer"),
        "reason": _l("Reason"),
        "restock": _l("Restocked"),
        "staff": _l("Staff"),
    }
    column_formatters = {
        "order": order_formatter,
        "amount": money_formatter("currency"),
        "status": choice_formatter(RefundStatus.labels()),
        "staff": staff_formatter,
    }
    column_formatters_export = {
        "order": lambda v, c, m, n: m.order.number,
        "status": choice_formatter(RefundStatus.labels()),
        "amount": plain_amount,
        "staff": staff_formatter,
    }
    column_filters = ["created_at", "status", "restock"]
    column_default_sort = ("id", True)


class PaymentView(StaffModelView):
    permission = "payments.view"
    export_permission = "payments.view"
    allow_create = allow_edit = False
    can_view_details = False
    column_list = ["created_at", "order", "provider", "external_id", "amount"]
    column_labels = {
        "created_at": _l("When"),
        "order": _l("Order"),
        "provider": _l("Provider"),
        "external_id": _l("Reference"),
        "amount": _l("Amount"),
    }
    column_formatters = {"order": order_formatter, "amount": money_formatter("currency")}
    column_formatters_export = {
        "order": lambda v, c, m, n: m.order.number,
        "amount": plain_amount,
    }
    column_filters = ["created_at", "provider"]
    column_default_sort = ("id", True)

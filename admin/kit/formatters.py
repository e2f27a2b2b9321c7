"""Column formatters (Flask-Admin's signature: view, context, model, name) and the cells they
share: money in the row's currency, phones masked per role, audit snapshots, who did it,
customers, order numbers linked for the roles that may open them, labelled choices."""

from __future__ import annotations

import json

from flask import current_app, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from admin.permissions import may
from shop.customers.phones import mask_phone
from shop.extensions import db
from shop.money import format_amount, format_money
from shop.orders.numbers import order_number
from shop.staff.models import Staff

# Type formatters (Flask-Admin signature: view, value, name) ----------------------------------


def yes_no_mark(view, value, name):
    """A boolean in lists and detail pages: a green check mark or a grey dash, with the word
    for screen readers and as a tooltip."""
    word = _("Yes") if value else _("No")
    if value:
        return Markup('<span class="text-success" title="{0}" aria-label="{0}">✓</span>').format(
            word
        )
    return Markup('<span class="text-muted" title="{0}" aria-label="{0}">–</span>').format(word)


def yes_no_word(view, value, name):
    """A boolean in exports: the word, in the reader's language."""
    return _("Yes") if value else _("No")


# Formatters (Flask-Admin signature: view, context, model, name) -----------------------------


def money_formatter(currency_attr: str | None = None):
    """Show an integer minor-unit column as money, in the row's currency or the shop's."""

    def fmt(view, context, model, name):
        amount = getattr(model, name)
        if amount is None:
            return ""
        currency = getattr(model, currency_attr) if currency_attr else None
        return format_money(amount, currency or current_app.config["SHOP_CURRENCY"])

    return fmt


def phone_formatter(view, context, model, name):
    """The full number only for roles allowed to see it (lists, details and exports)."""
    value = getattr(model, name)
    return value if may("phones.full") else mask_phone(value)


#: audit keys whose values are minor units of money
MONEY_KEYS = frozenset(
    {
        "amount",
        "compare_at_price",
        "discount",
        "line_total",
        "price",
        "refund",
        "refunded_amount",
        "sale_price",
        "shipping",
        "subtotal",
        "total",
        "unit_price",
    }
)


def audit_values_formatter(view, context, model, name):
    """An audit snapshot as ``key: value`` pairs, money formatted in the shop currency."""
    value = getattr(model, name)
    if not value:
        return ""
    currency = current_app.config["SHOP_CURRENCY"]
    shown = []
    for key, item in sorted(value.items()):
        if key in MONEY_KEYS and isinstance(item, int) and not isinstance(item, bool):
            item = format_money(item, currency)
        elif not isinstance(item, str):
            item = json.dumps(item, ensure_ascii=False, sort_keys=True, default=str)
        shown.append(f"{key}: {item}")
    return "; ".join(shown)


def json_formatter(view, context, model, name):
    """Exports keep the raw snapshot (minor units), as JSON."""
    value = getattr(model, name)
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def staff_formatter(view, context, model, name):
    """Who did it, for rows that keep only ``staff_id``."""
    staff = db.session.get(Staff, model.staff_id) if model.staff_id else None
    return str(staff) if staff else ""


def customer_cell(customer) -> str:
    """A customer's name and phone, the phone masked unless the role may see it."""
    if customer is None:
        return ""
    phone = customer.phone if may("phones.full") else mask_phone(customer.phone)
    return f"{customer.name} {phone}".strip()


def customer_formatter(view, context, model, name):
    return customer_cell(getattr(model, name))


def order_cell(order_id: int | None):
    """An order's number, linked to its page for roles that may open it."""
    if not order_id:
        return ""
    if not may("orders.view"):
        return order_number(order_id)
    return Markup('<a href="{}">{}</a>').format(
        url_for("admin_orders.details_view", id=order_id), order_number(order_id)
    )


def order_formatter(view, context, model, name):
    """The row's order (``order_id``), linked for roles that may open it."""
    return order_cell(model.order_id)


def plain_amount(view, context, model, name):
    """Export: an exact decimal amount (12345 CNY -> 123.45, no float); the currency has its
    own column."""
    return format_amount(getattr(model, name), model.currency)


def choice_formatter(labels):
    """Show a coded value by its label (the value itself when it has none)."""

    def fmt(view, context, model, name):
        value = getattr(model, name)
        return str(labels.get(value, value))

    return fmt

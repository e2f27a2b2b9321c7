"""Orders: the order page's actions and the refund form (refunds and payments are listed in
``admin.shop.payments``).

Order actions are declared once in ``VERBS`` and served by one button page (``OrderAction``,
an ``admin.kit.pages.ActionButton``): it checks the verb's permission, loads the order through the
store-scoped query (another store's order is a 404), and calls the verb's service in
``shop.orders.services``, which moves the order with a conditional update and writes the audit
entry. A ShopError's message is shown to the staff member; nothing is changed.

The refund form carries a hidden idempotency key made when the form is shown, so submitting
it twice (a double click, a reload) makes one refund: ``shop.orders.services.refund`` returns
the first.

Exports give money as exact decimal amounts with the currency in its own column, so a
spreadsheet can add them up; phones are masked there too unless the role may see them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional

from admin.base import StaffModelView, StoreFilter
from admin.kit.formatters import money_formatter, phone_formatter, plain_amount
from admin.kit.forms import AdminForm, IdForm
from admin.kit.pages import FORM_EXPIRED, ActionButton, FormPage
from admin.permissions import current_staff, may
from admin.shop import order_page, order_tabs
from shop.extensions import db
from shop.i18n import localized
from shop.money import format_money
from shop.orders import services as orders
from shop.orders.models import (
    Order,
    OrderStatus,
    Refund,
    RefundStatus,
)

S = OrderStatus


log = logging.getLogger(__name__)


class OrderActionForm(IdForm):
    verb = HiddenField(validators=[DataRequired()])


class RefundForm(AdminForm):
    idempotency_key = HiddenField(validators=[DataRequired(), Length(min=16, max=64)])
    restock = BooleanField(_l("Put the refunded items back in stock"), default=True)
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=255)])


def _number_link(view, context, model, name):
    return Markup('<a href="{}">{}</a>').format(
        url_for("admin_orders.details_view", id=model.id), model.number
    )


def _discount_parts(view, context, model, name):
    """The order page's discount, and what made it up: the member discount, the coupon (by
    name), the points spent."""

    def money(amount: int) -> str:
        return format_money(amount, model.currency)

    parts = []
    if model.tier_discount:
        parts.append(_("member discount %(amount)s", amount=money(model.tier_discount)))
    if model.coupon_discount:
        name = localized(model.coupon.template) if model.coupon else "—"
        parts.append(
            _("coupon %(name)s %(amount)s", name=name, amount=money(model.coupon_discount))
        )
    if model.points_value:
        parts.append(
            _("%(n)d points %(amount)s", n=model.points_spent, amount=money(model.points_value))
        )
    if not parts:
        return money(model.discount)
    return _("%(total)s (%(parts)s)", total=money(model.discount), parts=_("; ").join(parts))


@dataclass(frozen=True)
class Verb:
    """An order action on the order page: who may, in which states it applies (with which
    fulfilment or payment method, if it matters), and the ``shop.orders.services`` service it calls
    with the order's id and the staff member."""

    label: str
    done: str
    permission: str
    service: Callable[[int, object], object]
    statuses: tuple[OrderStatus, ...]
    fulfilment: str | None = None
    payment_method: str | None = None

    def applies(self, order: Order) -> bool:
        return (
            order.status in self.statuses
            and self.fulfilment in (None, order.fulfilment)
            and self.payment_method in (None, order.payment_method)
        )


def _cancel_by_staff(order_id: int, staff) -> bool:
    return orders.cancel(order_id, "cancelled by staff", staff=staff)


VERBS: dict[str, Verb] = {
    "mark_paid": Verb(
        _l("Mark paid"),
        _l("Order %(n)s is marked paid."),
        "orders.mark_paid",
        orders.mark_paid_at_store,
        (S.AWAITING_PAYMENT,),
        payment_method="store",
    ),
    "fulfil": Verb(
        _l("Mark shipped"),
        _l("Order %(n)s is marked shipped."),
        "orders.fulfil",
        orders.fulfil,
        (S.PAID,),
        fulfilment="delivery",
    ),
    "picked_up": Verb(
        _l("Mark picked up"),
        _l("Order %(n)s is marked picked up."),
        "orders.fulfil",
        orders.mark_picked_up,
        (S.PAID,),
        fulfilment="pickup",
    ),
    "complete": Verb(
        _l("Complete"),
        _l("Order %(n)s is completed."),
        "orders.fulfil",
        orders.complete,
        (S.FULFILLED, S.PICKED_UP),
    ),
    "cancel": Verb(
        _l("Cancel order"),
        _l("Order %(n)s is cancelled; its stock is released."),
        "orders.cancel",
        _cancel_by_staff,
        (S.AWAITING_PAYMENT,),
    ),
}


class OrderAction(ActionButton):
    """A verb's button on the order page (``VERBS``): its permission, then its service."""

    form_class = OrderActionForm

    def allowed(self, form) -> bool:
        self.verb = VERBS.get(form.verb.data)
        if self.verb is None:
            abort(404)
        return may(self.verb.permission)

    def run(self, order) -> None:
        if self.verb.service(order.id, current_staff()) is False:
            flash(_("Nothing changed: the order was already updated."), "warning")
        else:
            flash(str(self.verb.done) % {"n": order.number}, "success")


class RefundOrder(FormPage):
    """Refund some or all items of an order, restocking them or not (``orders.refund``, which
    audits it). The form's idempotency key, made when the form is shown, makes a second submit
    of it (a double click, a reload) return the first refund."""

    permission = "orders.refund"
    form_class = RefundForm
    template = "admin/siyu/refund.html"

    def load(self):
        self.order = self.view.get_one(request.values.get("id"))
        self.values = {}
        if self.order.status not in orders.REFUNDABLE:
            flash(_("Order %(n)s cannot be refunded now.", n=self.order.number), "error")
            return redirect(self.done_url())
        return None

    def blank_form(self):
        return RefundForm(idempotency_key=uuid.uuid4().hex)

    def fill(self, form):
        if request.method == "POST":
            self.values = {
                line.id: request.form.get(f"qty_{line.id}", "0") for line in self.order.lines
            }

    def context(self):
        return {"order": self.order, "values": self.values}

    def done_url(self):
        return url_for(".details_view", id=self.order.id)

    def submit(self, form):
        quantities = {}
        for line_id, raw in self.values.items():
            text = (raw or "0").strip() or "0"
            if not text.isdigit() or len(text) > 6:
                return _("Quantities must be whole numbers, 0 or more.")
            quantities[line_id] = int(text)
        key = form.idempotency_key.data
        earlier = db.session.scalar(select(Refund).where(Refund.idempotency_key == key))
        if earlier is not None:
            if earlier.order_id != self.order.id:
                return str(FORM_EXPIRED)
            flash(_("This refund was already made."), "info")
            return None
        self.refund = orders.refund(
            self.order.id,
            quantities,
            staff=current_staff(),
            idempotency_key=key,
            restock=form.restock.data,
            reason=form.reason.data or "",
        )
        return None

    def after_commit(self) -> None:
        """A refund through Stripe was only requested: Stripe is asked now, holding nothing."""
        record = getattr(self, "refund", None)
        if record is None:
            return
        if record.status == RefundStatus.REQUESTED:
            try:
                record = orders.settle_refund(record.id)
            except Exception:  # left requested: the sweep settles it with the same key
                log.exception("refund %s not settled now", record.id)
                db.session.rollback()
                record = db.session.get(Refund, record.id)
        amount = format_money(record.amount, record.currency)
        if record.status == RefundStatus.SUCCEEDED:
            flash(_("Refunded %(amount)s.", amount=amount), "success")
        elif record.status == RefundStatus.FAILED:
            flash(_("Stripe refused the refund: %(msg)s", msg=record.failure), "error")
        else:
            flash(
                _(
                    "Refund of %(amount)s requested; Stripe has not answered yet. "
                    "It is finished automatically.",
                    amount=amount,
                ),
                "warning",
            )


class OrderView(StaffModelView):
    permission = "orders.view"
    export_permission = "orders.export"
    allow_create = allow_edit = False
    details_template = "admin/siyu/order_details.html"
    list_template = "admin/siyu/order_list.html"
    column_list = [
        "number",
        "created_at",
        "status",
        "store",
        "contact_name",
        "phone",
        "fulfilment",
        "payment_method",
        "total",
        "refunded_amount",
        "needs_review",
    ]
    column_details_list = [
        "number",
        "status",
        "store",
        "contact_name",
        "phone",
        "fulfilment",
        "payment_method",
        "city",
        "address",
        "note",
        "subtotal",
        "discount",
        "shipping",
        "total",
        "refunded_amount",
        "needs_review",
        "review_reason",
        "share_code",
        "created_at",
        "paid_at",
        "expires_at",
    ]
    column_export_list = [
        "number",
        "created_at",
        "paid_at",
        "status",
        "store",
        "contact_name",
        "phone",
        "fulfilment",
        "payment_method",
        "city",
        "address",
        "currency",
        "subtotal",
        "discount",
        "shipping",
        "total",
        "refunded_amount",
        "share_code",
    ]
    column_labels = {
        "number": _l("Order"),
        "created_at": _l("Placed"),
        "paid_at": _l("Paid at"),
        "expires_at": _l("Reserved until"),
        "status": _l("Status"),
        "store": _l("Store"),
        "contact_name": _l("Name"),
        "phone": _l("Phone"),
        "fulfilment": _l("Fulfilment"),
        "payment_method": _l("Payment"),
        "city": _l("City"),
        "address": _l("Address"),
        "note": _l("Note"),
        "currency": _l("Currency"),
        "subtotal": _l("Subtotal"),
        "discount": _l("Discount"),
        "shipping": _l("Shipping"),
        "total": _l("Total"),
        "refunded_amount": _l("Refunded"),
        "needs_review": _l("Needs review"),
        "review_reason": _l("Review reason"),
        "share_code": _l("Share link"),
    }
    column_formatters = {
        "number": _number_link,
        "status": order_tabs.status_formatter,
        "phone": phone_formatter,
        "subtotal": money_formatter("currency"),
        "discount": money_formatter("currency"),
        "shipping": money_formatter("currency"),
        "total": money_formatter("currency"),
        "refunded_amount": money_formatter("currency"),
    }
    column_formatters_detail = {**column_formatters, "discount": _discount_parts}
    column_formatters_export = {
        "number": lambda v, c, m, n: m.number,
        "phone": phone_formatter,
        "subtotal": plain_amount,
        "discount": plain_amount,
        "shipping": plain_amount,
        "total": plain_amount,
        "refunded_amount": plain_amount,
    }
    column_searchable_list = ["contact_name", "phone"]
    column_filters = [
        StoreFilter(Order.store_id, _l("Store")),
        "status",
        "created_at",
        "paid_at",
        "fulfilment",
        "payment_method",
        "needs_review",
    ]
    column_sortable_list = [
        ("number", "id"),
        "created_at",
        "status",
        ("store", "store.name"),
        "total",
    ]
    column_default_sort = ("id", True)
    act_view = OrderAction.route("/act/")
    refund_view = RefundOrder.route("/refund/")

    def search_placeholder(self) -> str:
        return str(_l("Name or phone"))

    # The list's tabs (all, today, each status) ----------------------------------------------

    def get_query(self):
        return order_tabs.narrow(super().get_query())

    def get_count_query(self):
        return order_tabs.narrow(super().get_count_query())

    def tabs(self) -> list[order_tabs.Tab]:
        return order_tabs.tabs(self.scope)

    # The order page ------------------------------------------------------------------------

    def verbs_for(self, order: Order) -> list[tuple[str, str]]:
        """The actions the signed-in staff member can take on this order now."""
        return [
            (name, str(verb.label))
            for name, verb in VERBS.items()
            if may(verb.permission) and verb.applies(order)
        ]

    def credit(self, order: Order) -> order_page.Credit | None:
        return order_page.credit(order)

    def timeline(self, order: Order) -> list[order_page.Step]:
        return order_page.timeline(order)

    def can_refund(self, order: Order) -> bool:
        return may("orders.refund") and order.status in orders.REFUNDABLE

    def action_form_for(self, order: Order, verb: str) -> OrderActionForm:
        form = OrderActionForm()
        form.id.data, form.verb.data = str(order.id), verb
        return form

"""The counter: staff scan or type a customer's pick-up code, see the order, and hand it over.

A code finds a pick-up order of the staff member's stores only (another store's code finds
nothing). Handing over goes through ``shop.orders.pickup.hand_over``: a pay-at-store order not
paid yet is marked paid, then picked up, each by the order state machine and in the audit log.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from admin.base import SecuredView, refused
from admin.kit.forms import AdminForm
from admin.kit.pages import FORM_EXPIRED
from admin.permissions import current_staff, may, store_scope
from shop.errors import ShopError
from shop.infra.unit_of_work import unit_of_work
from shop.orders import pickup
from shop.orders.models import OrderStatus, PaymentMethod


class CodeForm(AdminForm):
    code = StringField(_l("Pick-up code"), validators=[DataRequired(), Length(max=32)])


class HandOverForm(AdminForm):
    order_id = HiddenField(validators=[DataRequired(), Length(max=10)])
    code = HiddenField(validators=[DataRequired(), Length(max=32)])


class PickupView(SecuredView, BaseView):
    """Find a pick-up order by its code and hand it over (``orders.fulfil``)."""

    permission = "orders.fulfil"

    @expose("/", methods=("GET", "POST"))
    def index(self):
        form = CodeForm(request.form) if request.method == "POST" else CodeForm()
        order = None
        if request.method == "POST":
            if not form.validate():
                flash(FORM_EXPIRED if form.csrf_token.errors else _("Type the code."), "error")
            else:
                try:
                    order = pickup.find(form.code.data, store_scope())
                except ShopError as exc:
                    flash(refused(exc), "error")
        hand_over = None
        if order is not None:
            hand_over = HandOverForm(order_id=str(order.id), code=order.pickup_code)
        return self.render(
            "admin/siyu/pickup.html",
            form=form,
            order=order,
            hand_over=hand_over,
            takes_payment=order is not None
            and order.status == OrderStatus.AWAITING_PAYMENT
            and order.payment_method == PaymentMethod.STORE,
            can_hand_over=order is not None and _can_hand_over(order),
            phones_full=may("phones.full"),
        ), (200 if order is not None or request.method == "GET" else 422)

    @expose("/hand-over", methods=("POST",))
    def hand_over(self):
        form = HandOverForm(request.form)
        if not form.validate() or not form.order_id.data.isdecimal():
            flash(FORM_EXPIRED, "error")
            return redirect(url_for(".index"))
        try:
            order = pickup.find(form.code.data, store_scope())
            if str(order.id) != form.order_id.data:
                raise ShopError(_("No pick-up order has this code."))
            if order.status == OrderStatus.AWAITING_PAYMENT and not may("orders.mark_paid"):
                raise ShopError(_("Order %(n)s is not paid yet.", n=order.number))
            with unit_of_work():
                order = pickup.hand_over(order.id, form.code.data, current_staff())
        except ShopError as exc:
            flash(refused(exc), "error")
        else:
            flash(_("Order %(n)s is marked picked up.", n=order.number), "success")
        return redirect(url_for(".index"))


def _can_hand_over(order) -> bool:
    if order.status == OrderStatus.PAID:
        return True
    return (
        order.status == OrderStatus.AWAITING_PAYMENT
        and order.payment_method == PaymentMethod.STORE
        and may("orders.mark_paid")
    )

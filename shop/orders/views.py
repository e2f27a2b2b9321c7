"""A customer's orders: the order page (by its secret token), paying it online, reviewing its
lines, and the list of this browser's (or the signed-in customer's) orders."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from shop.catalog import reviews
from shop.customers import identity as customers
from shop.errors import ShopError
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.orders import pickup
from shop.orders.models import Order
from shop.payments import services as payments
from shop.payments import stripe_gateway
from shop.web.blueprints import storefront


def _order_or_404(token: str) -> Order:
    order = db.session.scalar(select(Order).where(Order.token == token)) if token else None
    if order is None:
        abort(404)
    return order


@storefront.get("/o/<token>")
def order(token: str):
    item = _order_or_404(token)
    shows_code = pickup.shows_code(item)
    return render_template(
        "shop/order.html",
        order=item,
        pickup_code=pickup.spaced(item.pickup_code) if shows_code else None,
        pickup_qr=pickup.qr_svg(item.pickup_code) if shows_code else None,
        stripe_on=stripe_gateway.enabled(),
        just_paid=request.args.get("paid") == "1",
    )


@storefront.post("/o/<token>/pay")
def order_pay(token: str):
    item = _order_or_404(token)
    try:
        return redirect(payments.checkout_url(item), code=303)
    except ShopError as exc:
        flash(exc.message, "error")
        return redirect(url_for("shop.order", token=token))


@storefront.post("/o/<token>/review")
def order_review(token: str):
    item = _order_or_404(token)
    try:
        with unit_of_work():
            reviews.submit_review(
                item,
                request.form.get("line"),
                request.form.get("rating"),
                request.form.get("body", ""),
            )
        flash(_("Thank you! Your review will appear once it has been checked."), "ok")
    except ShopError as exc:
        flash(exc.message, "error")
    return redirect(url_for("shop.order", token=token))


@storefront.get("/orders")
def my_orders():
    customer_id = customers.signed_in_id()
    if customer_id:
        query = select(Order).where(Order.customer_id == customer_id)
    else:
        query = select(Order).where(Order.id.in_(customers.remembered_order_ids() or [0]))
    orders_ = list(db.session.scalars(query.order_by(Order.created_at.desc()).limit(50)))
    return render_template("shop/orders.html", orders=orders_)


@storefront.get("/orders/<int(max=2147483647):order_id>")
def my_order(order_id: int):
    """An order of this browser's, by number: redirects to its page, 404 for anyone else."""
    item = db.session.get(Order, order_id)
    if item is None or not customers.can_view(item):
        abort(404)
    return redirect(url_for("shop.order", token=item.token))

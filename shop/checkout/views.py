"""Buying: the basket (kept in the session), and the one-page checkout that places the order."""

from __future__ import annotations

import uuid

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from shop.catalog.models import Store, Variant
from shop.checkout.services import (
    CheckoutDetails,
    parse_id,
    parse_quantity,
    payment_methods,
    place_order,
    quote,
    sellable_variant_ids,
)
from shop.customers import identity as customers
from shop.customers.models import Customer
from shop.errors import InvalidInput, PaymentError, ShopError
from shop.extensions import csrf, db
from shop.members import points
from shop.orders.models import OrderStatus
from shop.payments import services as payments
from shop.web.blueprints import storefront


def _cart() -> dict[str, int]:
    cart = session.get("cart")
    return cart if isinstance(cart, dict) else {}


@storefront.post("/cart/add")
@csrf.exempt
def cart_add():
    """Exempt from the CSRF token so the product page's one form serves "Buy now" (a GET that
    must not carry a token in its URL) and "Add to basket". The session cookie is SameSite=Lax,
    so another site cannot post here with it; the worst a forged request could do is add an
    item to a basket."""
    try:
        variant_id = parse_id(request.form.get("variant"))
        quantity = parse_quantity(request.form.get("qty", 1))
        variant = db.session.get(Variant, variant_id)
        if variant is None or not variant.product.active:
            raise InvalidInput(_("That product does not exist."))
        cart = _cart()
        cart[str(variant_id)] = min(
            cart.get(str(variant_id), 0) + quantity, current_app.config["MAX_LINE_QUANTITY"]
        )
        session["cart"] = cart
        flash(_("Added to your basket."), "ok")
    except ShopError as exc:
        flash(exc.message, "error")
    return redirect(url_for("shop.cart"))


@storefront.route("/cart", methods=["GET", "POST"])
def cart():
    cart = _cart()
    if request.method == "POST":
        try:
            for key in list(cart):
                raw = request.form.get(f"qty_{key}")
                if raw is None:
                    continue
                if str(raw).strip() == "0":
                    cart.pop(key)
                else:
                    cart[key] = parse_quantity(raw)
            session["cart"] = cart
        except ShopError as exc:
            flash(exc.message, "error")
        return redirect(url_for("shop.cart"))
    basket = None
    if cart:
        available = sellable_variant_ids([int(k) for k in cart])
        if len(available) < len(cart):
            cart = {k: v for k, v in cart.items() if int(k) in available}
            session["cart"] = cart
            flash(_("An item in your basket is no longer available and was removed."), "error")
        if cart:
            basket = quote([(int(k), v) for k, v in cart.items()])
    return render_template("shop/cart.html", basket=basket)


def _items_from(source) -> tuple[list[tuple[int, int]], bool]:
    """The basket being bought: one variant ("Buy now") or the cart. Raises InvalidInput."""
    if source.get("variant"):
        return [(parse_id(source.get("variant")), parse_quantity(source.get("qty", 1)))], False
    cart = _cart()
    if not cart:
        raise InvalidInput(_("Your basket is empty."))
    return [(int(k), v) for k, v in cart.items()], True


def _stores():
    return list(
        db.session.scalars(select(Store).where(Store.active.is_(True)).order_by(Store.name))
    )


@storefront.route("/checkout", methods=["GET", "POST"])
def checkout():
    source = request.form if request.method == "POST" else request.args
    form = dict(customers.saved_details())
    member = (
        db.session.get(Customer, session["customer_id"]) if session.get("customer_id") else None
    )
    if member is not None and not form.get("phone"):  # signed in: their verified phone
        form.update(phone=member.phone, name=form.get("name") or member.name)
    form.update({k: v for k, v in request.form.items() if k != "csrf_token"})
    fulfilment = form.get("fulfilment") or "pickup"
    error = None
    if request.method == "POST" and request.form.get("variant"):
        try:
            parse_quantity(request.form.get("qty", 1))
        except ShopError as exc:  # show the form again, details kept, at quantity 1
            error = exc.message
            source = {**request.form.to_dict(), "qty": "1"}
    customer_id = session.get("customer_id")
    try:
        requested_points = _points(form.get("points"))
    except InvalidInput as exc:
        error, requested_points = exc.message, 0
    membership = {
        "customer_id": customer_id,
        "coupon": form.get("coupon") or "best",
        "points": requested_points,
        "store_id": _int_or_none(form.get("pickup_store")),
    }
    if customer_id is None:
        membership.update(coupon=None, points=0)
    try:
        items, from_cart = _items_from(source)
    except ShopError as exc:
        return _leave_checkout(exc.message)

    if request.method == "POST" and error is None and request.form.get("action") != "update":
        store_raw = request.form.get("pickup_store") or ""
        details = CheckoutDetails(
            name=request.form.get("name", ""),
            phone=request.form.get("phone", ""),
            fulfilment=fulfilment,
            payment_method=request.form.get("payment_method", ""),
            city=request.form.get("city", ""),
            address=request.form.get("address", ""),
            pickup_store_id=int(store_raw) if store_raw.isdecimal() else None,
            note=request.form.get("note", ""),
            customer_id=customer_id,
            coupon=membership["coupon"],
            points=membership["points"],
            attribution={
                **(session.get("attribution") or {}),
                "visitor_id": customers.visitor_id(),
            },
        )
        try:
            order = place_order(items, details, request.form.get("idempotency_key", ""))
        except ShopError as exc:
            error = exc.message
        else:
            customers.remember_order(
                order,
                {
                    "name": order.contact_name,
                    "phone": order.phone,
                    "city": order.city,
                    "address": order.address,
                    "fulfilment": order.fulfilment,
                    "pickup_store": str(order.store_id or ""),
                },
            )
            if from_cart:
                session["cart"] = {}
            if order.payment_method == "stripe" and order.status == OrderStatus.AWAITING_PAYMENT:
                try:
                    return redirect(payments.checkout_url(order), code=303)
                except PaymentError as exc:
                    flash(exc.message, "error")
            return redirect(url_for("shop.order", token=order.token), code=303)

    # Showing the form (first time, after "Apply", or again with a message): price it here;
    # a placed order was priced once, inside place_order.
    shown = fulfilment if fulfilment in ("pickup", "delivery") else "pickup"
    try:
        try:
            basket = quote(items, shown, **membership)
        except InvalidInput as exc:  # a coupon or points that do not apply: say why
            error = error or exc.message
            basket = quote(
                items, shown, customer_id=customer_id, coupon="best" if customer_id else None
            )
    except ShopError as exc:
        return _leave_checkout(exc.message)

    status = 422 if error else 200
    return render_template(
        "shop/checkout.html",
        basket=basket,
        form=form,
        error=error,
        stores=_stores(),
        from_cart=from_cart,
        items=items,
        methods={f: payment_methods(f) for f in ("pickup", "delivery")},
        idempotency_key=request.form.get("idempotency_key") or uuid.uuid4().hex,
        member=db.session.get(Customer, customer_id) if customer_id else None,
        spendable=points.spendable(
            customer_id, basket.subtotal - basket.tier_discount - basket.coupon_discount
        )
        if customer_id
        else 0,
    ), status


def _leave_checkout(message: str):
    """Nothing sensible to show at checkout (an unknown product, an empty basket): go back."""
    flash(message, "error")
    return redirect(url_for("shop.home" if request.method == "GET" else "shop.cart"))


def _int_or_none(raw) -> int | None:
    raw = str(raw or "").strip()
    return int(raw) if raw.isdecimal() and len(raw) < 10 else None


def _points(raw) -> int:
    """Points typed at checkout: blank is none; anything but a whole number is refused."""
    raw = str(raw or "").strip()
    if not raw:
        return 0
    if not raw.isdecimal() or len(raw) > 9:
        raise InvalidInput(_("Points must be a positive whole number."))
    return int(raw)

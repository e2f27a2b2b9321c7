"""Buying: the basket (kept in the session), and the one-page checkout that places the order."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from flask import flash, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from shop.catalog import queries as catalog
from shop.catalog import stores
from shop.checkout import cart
from shop.checkout.forms import AddToCartForm, CartForm, CheckoutForm
from shop.checkout.services import (
    detail_problems,
    payment_methods,
    place_order,
    price_rises,
    quote,
    quote_for_checkout,
)
from shop.customers import addresses, regions
from shop.customers import identity as customers
from shop.errors import InvalidDetails, InvalidInput, PaymentError, ShopError
from shop.extensions import csrf
from shop.hooks import carried_attribution
from shop.infra.unit_of_work import unit_of_work
from shop.members import points
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus
from shop.payments import services as payments
from shop.web.blueprints import storefront

# How long after ordering "Buy now" for the same items says the order was just placed.
JUST_PLACED = timedelta(minutes=10)


@storefront.post("/cart/add")
@csrf.exempt
def cart_add():
    """Exempt from the CSRF token so the product page's one form serves "Buy now" (a GET that
    must not carry a token in its URL) and "Add to basket". The session cookie is SameSite=Lax,
    so another site cannot post here with it; the worst a forged request could do is add an
    item to a basket."""
    form = AddToCartForm(request.form)
    error = form.first_error()
    if error is None:
        try:
            cart.add(form.variant.data, form.qty.data)
        except ShopError as exc:
            error = exc.message
    flash(error or _("Added to your basket."), "error" if error else "ok")
    return redirect(url_for("shop.cart"))


@storefront.route("/cart", methods=["GET", "POST"], endpoint="cart")
def cart_page():
    if request.method == "POST":
        form = CartForm.for_lines(cart.contents(), request.form)
        error = form.first_error()
        if error is None:
            cart.update(form.quantities())
        else:
            flash(error, "error")
        return redirect(url_for("shop.cart"))
    if cart.drop_unavailable():
        flash(_("An item in your basket is no longer available and was removed."), "error")
    items = cart.items()
    basket = quote(items, attribution=carried_attribution(session)) if items else None
    return render_template(
        "shop/cart.html",
        basket=basket,
        thumbnails=catalog.cover_images([variant_id for variant_id, _n in items]),
    )


@storefront.route("/checkout", methods=["GET", "POST"])
def checkout():
    """Buy now (one variant) or the basket: the form, priced; posted, the order placed.

    A post with ``action=update`` (Apply, or the Update button shown without JavaScript after
    choosing delivery or a province) only shows the form again, priced for what was chosen.
    Everything wrong with a posted form is said at once, each by its field."""
    customer_id = customers.signed_in_id()
    form = _checkout_form(customer_id)
    form.validate()  # types only: what is wrong is said below, by the form or place_order
    try:
        items, from_cart = _items(form)
    except ShopError as exc:
        return _leave_checkout(exc.message, form.variant.data)
    error, problems = None, {}
    if request.method == "POST":
        # A saved address chosen since the fields were filled replaces them; one already in
        # them leaves what the customer typed over it.
        saved = addresses.find(customer_id, form.saved_address.data)
        if saved is not None and form.saved_address.data != form.filled_from.data:
            form.use_address(saved)
        form.filled_from.data = form.saved_address.data if saved is not None else ""
        problems = form.problems()
        if form.action.data == "update":
            problems.pop("district", None)  # still choosing where to deliver
        else:
            details = form.details(customer_id, _attribution())
            problems = {**detail_problems(replace(details)), **problems}
            if "district" in problems:
                problems.pop("city", None)  # one message for the region picker
            if not problems:
                try:
                    with unit_of_work() as work:
                        order = place_order(items, details, form.idempotency_key.data)
                        work.keep(order)  # what the page reads of it is what was written
                except InvalidDetails as exc:
                    problems = exc.problems
                except ShopError as exc:
                    error = exc.message
                else:
                    return _placed(order, from_cart)
    return _checkout_page(form, customer_id, items, from_cart, error, problems)


@storefront.get("/regions.json")
def regions_data():
    """China's provinces, cities and districts for the address picker (shipped with the
    project; cached by the browser for a day)."""
    return send_file(regions.DATA, mimetype="application/json", max_age=86400)


def _checkout_form(customer_id: int | None) -> CheckoutForm:
    """The form as posted; or, from a "Buy now" link (which says only what to buy), filled in
    with this browser's last details, or the signed-in customer's phone, name and latest
    address. The pick-up store offered is the one chosen last time, else the store of the
    guide whose link brought the customer, else the shop's default store."""
    if request.method == "POST":
        return CheckoutForm(request.form)
    saved = dict(customers.saved_details())
    member = customers.signed_in()
    if member is not None and not saved.get("phone"):
        saved.update(phone=member.phone, name=saved.get("name") or member.name)
    if not saved.get("pickup_store"):
        store_id = stores.brought_by_store_id(_attribution(), customer_id)
        saved["pickup_store"] = str(store_id or stores.default_store_id() or "")
    link = MultiDict([(k, v) for k, v in request.args.items(multi=True) if k in ("variant", "qty")])
    form = CheckoutForm(link, data=saved)
    latest = addresses.saved(customer_id)
    if latest and not form.district.data:
        form.use_address(latest[0])
        form.saved_address.data = form.filled_from.data = str(latest[0].id)
    return form


def _items(form: CheckoutForm) -> tuple[list[tuple[int, int]], bool]:
    """What is being bought, and whether it is the basket. Raises InvalidInput when there is
    nothing to show: an unknown product, an empty basket, a bad quantity in a link (a bad
    quantity posted is shown again, at 1)."""
    if form.variant.errors:
        raise InvalidInput(form.variant.errors[0])
    if form.variant.data is None:
        items = cart.items()
        if not items:
            raise InvalidInput(_("Your basket is empty."))
        return items, True
    if form.qty.errors and request.method == "GET":
        raise InvalidInput(form.qty.errors[0])
    return [(form.variant.data, form.qty.data or 1)], False


def _attribution() -> dict:
    return {**carried_attribution(session), "visitor_id": customers.visitor_id()}


def _placed(order: Order, from_cart: bool):
    """Remember the order in this browser, empty the basket it came from, and go to Stripe
    when paying online (to the order page if Stripe cannot be reached)."""
    customers.remember_order(order)
    if from_cart:
        cart.clear()
    if order.payment_method == "stripe" and order.status == OrderStatus.AWAITING_PAYMENT:
        try:
            return redirect(payments.checkout_url(order), code=303)
        except PaymentError as exc:
            flash(exc.message, "error")
    return redirect(url_for("shop.order", token=order.token), code=303)


def _checkout_page(
    form: CheckoutForm, customer_id, items, from_cart: bool, error: str | None, problems: dict
):
    """The form, priced here (a placed order was priced once, inside place_order), showing
    only the chosen fulfilment (the script switches without a round trip; without it the
    Update button does)."""
    fulfilment = "delivery" if form.fulfilment.data == "delivery" else "pickup"
    try:
        basket, refusal = quote_for_checkout(
            items,
            fulfilment,
            attribution=carried_attribution(session),
            **form.membership(customer_id),
        )
    except ShopError as exc:
        return _leave_checkout(exc.message, None if from_cart else items[0][0])
    if request.method == "POST":  # a rise is said also when the form went back for another reason
        error = error or price_rises(basket, form.seen_prices.data or {})
    error = error or refusal
    saved = addresses.saved(customer_id)
    just_placed = None  # back on "Buy now" after ordering, the page says so
    if request.method == "GET" and not from_cart:
        last = next(iter(customers.remembered_order_ids()), None)
        just_placed = orders.just_placed(last, items, JUST_PLACED)
    return render_template(
        "shop/checkout.html",
        just_placed=just_placed,
        repriced=request.method == "POST" and request.form.get("repriced") == "1",
        basket=basket,
        form=form,
        fulfilment=fulfilment,
        error=error,
        problems=problems,
        stores=catalog.active_stores(),
        from_cart=from_cart,
        items=items,
        methods={f: payment_methods(f) for f in ("pickup", "delivery")},
        idempotency_key=form.idempotency_key.data or uuid.uuid4().hex,
        member=customers.signed_in(),
        saved_addresses=saved,
        regions=regions,
        spendable=points.spendable(
            customer_id, basket.subtotal - basket.tier_discount - basket.coupon_discount
        )
        if customer_id
        else 0,
    ), 422 if (error or problems) else 200


def _leave_checkout(message: str, variant_id: int | None = None):
    """Nothing sensible to show at checkout (an unknown product, an empty basket, a bad
    quantity in a "Buy now" link): go back with the message, to the product the link named
    when it is on sale, else home (a link) or to the basket (a form)."""
    flash(message, "error")
    if request.method != "GET":
        return redirect(url_for("shop.cart"))
    slug = catalog.product_slug_of(variant_id) if variant_id is not None else None
    return redirect(url_for("shop.product", slug=slug) if slug else url_for("shop.home"))

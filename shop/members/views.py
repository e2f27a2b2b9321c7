"""Member pages: a coupon's claim page, and the points shop."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from shop.catalog.models import Category, Product, Store
from shop.customers import identity as customers
from shop.customers.views import sign_in_first
from shop.errors import ShopError
from shop.extensions import db
from shop.hooks import carried_attribution
from shop.i18n import localized
from shop.infra.unit_of_work import unit_of_work
from shop.members import coupons
from shop.members import tiers as members
from shop.members.forms import PointsPurchaseForm
from shop.members.models import CouponTemplate, PointsShopItem
from shop.web.blueprints import account


def _scope_names(template: CouponTemplate) -> list[str]:
    ids = [i for i in (template.scope_ids or []) if isinstance(i, int)]
    model = {"categories": Category, "products": Product, "stores": Store}.get(template.scope)
    if model is None or not ids:
        return []
    return list(
        db.session.scalars(select(model.name).where(model.id.in_(ids)).order_by(model.name))
    )


def _template_or_404(template_id: int) -> CouponTemplate:
    template = db.session.get(CouponTemplate, template_id) if template_id < 2**31 else None
    if template is None:
        abort(404)
    return template


def _coupon_page(template: CouponTemplate, error: str | None = None, status: int = 200):
    """The claim page; ``error`` is why a claim just failed. A customer who holds as many as
    they may is told they have it, not shown an error."""
    customer = customers.signed_in()
    mine = coupons.held(template.id, customer.id) if customer else 0
    refusal = coupons.refusal(template, customer.id if customer else None)
    if mine >= template.per_customer_limit and not error:
        refusal = None
    return render_template(
        "shop/coupon.html",
        template=template,
        customer=customer,
        error=error,
        refusal=refusal,
        can_claim=refusal is None and mine < template.per_customer_limit,
        remaining=coupons.remaining(template),
        scope_names=_scope_names(template),
        mine=mine,
    ), status


@account.get("/coupons/<int:template_id>")
def coupon(template_id: int):
    return _coupon_page(_template_or_404(template_id))


@account.post("/coupons/<int:template_id>")
def claim_coupon(template_id: int):
    template = _template_or_404(template_id)
    customer = customers.signed_in()
    if customer is None:
        return sign_in_first(url_for("account.coupon", template_id=template.id))
    share_code = carried_attribution(session).get("share_code")
    try:
        with unit_of_work():
            coupons.issue(
                template.id,
                customer.id,
                source="claim",
                share_code=share_code if isinstance(share_code, str) else None,
            )
    except ShopError as exc:
        return _coupon_page(template, exc.message, 422)
    flash(_("The coupon is yours. It is applied at checkout when it fits the order."), "ok")
    return redirect(url_for("account.coupon", template_id=template.id), code=303)


@account.get("/points-shop")
def points_shop():
    customer = customers.signed_in()
    items = members.shop_items()
    return render_template(
        "shop/points_shop.html",
        customer=customer,
        items=items,
        refusals={
            item.id: coupons.refusal(item.template, customer.id, source="points_shop")
            for item in items
        }
        if customer
        else {},
        idempotency_key=uuid.uuid4().hex,
    )


@account.post("/points-shop/<int:item_id>")
def buy_points_item(item_id: int):
    customer = customers.signed_in()
    if customer is None:
        return sign_in_first(url_for("account.points_shop"))
    item = db.session.get(PointsShopItem, item_id) if item_id < 2**31 else None
    if item is None:
        abort(404)
    form = PointsPurchaseForm(request.form)
    try:
        with unit_of_work():
            members.buy_shop_item(customer.id, item.id, form.idempotency_key.data)
    except ShopError as exc:
        flash(exc.message, "error")
        return redirect(url_for("account.points_shop"), code=303)
    flash(
        _(
            "You bought %(name)s for %(n)d points.",
            name=localized(item.template),
            n=item.points_price,
        ),
        "ok",
    )
    return redirect(url_for("account.me", _anchor="coupons"), code=303)

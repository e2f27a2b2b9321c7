"""Customer account: sign in with a code sent to the phone; ``/me`` (tier, points, coupons,
orders, referral link); the referral link ``/r/<code>``; coupon claim pages; the points shop.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from shop.catalog.models import Category, Product, Store
from shop.customers import identity as customers
from shop.customers import signin
from shop.customers.models import Customer
from shop.customers.phones import mask_phone
from shop.errors import ShopError
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.members import coupons, points, referrals
from shop.members import tiers as members
from shop.members.models import Coupon, CouponTemplate, MemberTier, PointsShopItem, ReferralReward
from shop.orders.models import Order
from shop.web.templating import local_date

bp = Blueprint("account", __name__)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("account.me")


@bp.route("/signin", methods=["GET", "POST"])
def signin_start():
    error = None
    if request.method == "POST":
        try:
            phone = signin.request_code(request.form.get("phone", ""), request.remote_addr or "")
        except ShopError as exc:
            error = exc.message
        else:
            flash(_("We sent a code to %(phone)s.", phone=mask_phone(phone)), "ok")
            session["signin_phone"] = phone  # kept out of the address bar and history
            return redirect(url_for("account.signin_verify", next=request.form.get("next")))
    return render_template(
        "shop/signin.html",
        error=error,
        step="phone",
        phone=request.form.get("phone", ""),
        next=request.values.get("next", ""),
    ), 422 if error else 200


@bp.route("/signin/verify", methods=["GET", "POST"])
def signin_verify():
    phone = request.form.get("phone") or session.get("signin_phone", "")
    error = None
    if request.method == "POST":
        try:
            customer = signin.verify_code(phone, request.form.get("code", ""))
        except ShopError as exc:
            error = exc.message
        else:
            session["customer_id"] = customer.id
            session.pop("signin_phone", None)
            session.permanent = True
            _after_sign_in(customer)
            return redirect(_safe_next(request.form.get("next")))
    return render_template(
        "shop/signin.html",
        error=error,
        step="code",
        phone=phone,
        next=request.values.get("next", ""),
    ), 422 if error else 200


def _by_day(lots: list[tuple[datetime, int]]) -> list[tuple[datetime, int]]:
    """Lots that expire on the same day in the shop's time zone, shown as one line."""
    days: dict[str, tuple[datetime, int]] = {}
    for when, amount in lots:
        first, total = days.get(local_date(when), (when, 0))
        days[local_date(when)] = (first, total + amount)
    return list(days.values())


@bp.post("/signout")
def signout():
    session.pop("customer_id", None)
    return redirect(url_for("shop.home"))


def _after_sign_in(customer: Customer) -> None:
    """Remember the device, link the friend who invited a new customer, welcome them once."""
    referrals.note_device(customer.id, customers.visitor_id())
    referrals.link_referrer(customer.id, session.get("referrer_id"))
    db.session.commit()
    if members.is_first_sign_in(customer.phone) and members.grant_welcome(customer.id):
        flash(_("Welcome! A coupon is waiting for you in your account."), "ok")


def _customer() -> Customer | None:
    customer_id = session.get("customer_id")
    return db.session.get(Customer, customer_id) if customer_id else None


def _sign_in_first(next_path: str):
    return redirect(url_for("account.signin_start", next=next_path))


@bp.get("/me")
def me():
    customer = _customer()
    if customer is None:
        return _sign_in_first(url_for("account.me"))
    orders = db.session.scalars(
        select(Order)
        .where(Order.customer_id == customer.id)
        .order_by(Order.created_at.desc())
        .limit(50)
    ).all()
    now = utcnow()
    held = list(
        db.session.scalars(
            select(Coupon)
            .where(Coupon.customer_id == customer.id)
            .order_by(Coupon.claimed_at.desc(), Coupon.id.desc())
        )
    )
    wallet = {"usable": [], "used": [], "expired": []}
    for coupon in held:
        if coupon.used_order_id is not None:
            wallet["used"].append(coupon)
        elif (coupon.expires_at and coupon.expires_at <= now) or not coupon.template.active:
            wallet["expired"].append(coupon)
        else:
            wallet["usable"].append(coupon)
    tier = db.session.get(MemberTier, customer.tier_id) if customer.tier_id else None
    upcoming = members.next_tier(customer)
    code = referrals.referral_code(customer.id)
    return render_template(
        "shop/me.html",
        customer=customer,
        orders=orders,
        tier=tier,
        next_tier=upcoming,
        progress=members.tier_progress(customer.id, upcoming, now) if upcoming else [],
        history=points.history(customer.id),
        expiring=_by_day(points.expiring(customer.id, now)),
        wallet=wallet,
        referral_url=current_app.config["PUBLIC_BASE_URL"].rstrip("/")
        + url_for("account.referral", code=code),
        friends=members.referred(customer.id),
        rewards=db.session.scalars(
            select(ReferralReward)
            .where(ReferralReward.referrer_id == customer.id)
            .order_by(ReferralReward.created_at.desc())
        ).all(),
    )


@bp.get("/r/<code>")
def referral(code: str):
    """A customer's referral link: remembers who invited this browser (and gives the browser
    its visitor id, the device a friend is told apart by), then the shop."""
    referrer = referrals.find_referrer(code)
    visitor = customers.visitor_id() or customers.new_visitor_id()
    if referrer is not None:
        session["referrer_id"] = referrer.id
        customer_id = session.get("customer_id")
        if customer_id and customer_id != referrer.id:
            referrals.link_referrer(customer_id, referrer.id)
        if customer_id != referrer.id:
            flash(
                _(
                    "Welcome! A friend invited you to %(shop)s.",
                    shop=current_app.config["SHOP_NAME"],
                ),
                "ok",
            )
    response = redirect(url_for("shop.home"))
    if not customers.visitor_id():
        customers.set_visitor_cookie(response, visitor)
    return response


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
    customer = _customer()
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


@bp.get("/coupons/<int:template_id>")
def coupon(template_id: int):
    return _coupon_page(_template_or_404(template_id))


@bp.post("/coupons/<int:template_id>")
def claim_coupon(template_id: int):
    template = _template_or_404(template_id)
    customer = _customer()
    if customer is None:
        return _sign_in_first(url_for("account.coupon", template_id=template.id))
    share_code = (session.get("attribution") or {}).get("share_code")
    try:
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


@bp.get("/points-shop")
def points_shop():
    customer = _customer()
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


@bp.post("/points-shop/<int:item_id>")
def buy_points_item(item_id: int):
    customer = _customer()
    if customer is None:
        return _sign_in_first(url_for("account.points_shop"))
    item = db.session.get(PointsShopItem, item_id) if item_id < 2**31 else None
    if item is None:
        abort(404)
    try:
        members.buy_shop_item(customer.id, item.id, request.form.get("idempotency_key", ""))
    except ShopError as exc:
        flash(exc.message, "error")
        return redirect(url_for("account.points_shop"), code=303)
    flash(
        _(
            "You bought %(name)s for %(n)d points.",
            name=item.template.name,
            n=item.points_price,
        ),
        "ok",
    )
    return redirect(url_for("account.me", _anchor="coupons"), code=303)


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.jinja_env.filters["coupon_value"] = coupons.describe
    app.jinja_env.filters["hundredths"] = coupons.hundredths

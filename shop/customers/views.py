"""Customer account: sign in with a code sent to the phone; ``/me`` (tier, points, coupons,
orders, referral link); the referral link ``/r/<code>``. The member pages (coupon claim, points
shop) are ``shop.members.views``, on the same ``account`` blueprint."""

from __future__ import annotations

from datetime import datetime

from flask import (
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

from shop.customers import identity as customers
from shop.customers import signin
from shop.customers.forms import SignInCodeForm, SignInForm
from shop.customers.models import Customer
from shop.customers.phones import mask_phone
from shop.errors import ShopError
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.members import points, referrals
from shop.members import tiers as members
from shop.members.models import Coupon, MemberTier, ReferralReward
from shop.orders.models import Order
from shop.web.blueprints import account
from shop.web.redirects import local_target
from shop.web.templating import local_date


@account.route("/signin", methods=["GET", "POST"])
def signin_start():
    form = SignInForm(request.form, next=request.args.get("next"))
    error, resume = None, False
    if request.method == "POST":
        try:
            phone = signin.request_code(form.phone.data, request.remote_addr or "")
        except signin.CodeJustSent as exc:
            error, resume = exc.message, True
            session["signin_phone"] = exc.phone  # the code sent a moment ago still works
        except ShopError as exc:
            error = exc.message
        else:
            flash(_("We sent a code to %(phone)s.", phone=mask_phone(phone)), "ok")
            session["signin_phone"] = phone  # kept out of the address bar and history
            return redirect(url_for("account.signin_verify", next=form.next.data))
    return _signin_page("phone", form.phone.data, form.next.data, error, resume)


@account.route("/signin/verify", methods=["GET", "POST"])
def signin_verify():
    form = SignInCodeForm(request.form, next=request.args.get("next"))
    phone = form.phone.data or session.get("signin_phone", "")
    error = None
    if request.method == "POST":
        try:
            customer = signin.verify_code(phone, form.code.data)
        except ShopError as exc:
            error = exc.message
        else:
            session["customer_id"] = customer.id
            session.pop("signin_phone", None)
            session.permanent = True
            _after_sign_in(customer)
            return redirect(local_target(form.next.data, url_for("account.me")))
    return _signin_page("code", phone, form.next.data, error)


def _signin_page(
    step: str, phone: str, next_path: str | None, error: str | None, resume: bool = False
):
    """``resume``: offer the way to the code already sent (asked again within a minute)."""
    return render_template(
        "shop/signin.html",
        error=error,
        step=step,
        phone=phone,
        next=next_path or "",
        resume=resume,
    ), 422 if error else 200


def _by_day(lots: list[tuple[datetime, int]]) -> list[tuple[datetime, int]]:
    """Lots that expire on the same day in the shop's time zone, shown as one line."""
    days: dict[str, tuple[datetime, int]] = {}
    for when, amount in lots:
        first, total = days.get(local_date(when), (when, 0))
        days[local_date(when)] = (first, total + amount)
    return list(days.values())


@account.post("/signout")
def signout():
    session.pop("customer_id", None)
    return redirect(url_for("shop.home"))


def _after_sign_in(customer: Customer) -> None:
    """Remember the device, link the friend who invited a new customer, welcome them once."""
    with unit_of_work():
        referrals.note_device(customer.id, customers.visitor_id())
        referrals.link_referrer(customer.id, session.get("referrer_id"))
        welcomed = members.is_first_sign_in(customer.phone) and members.grant_welcome(customer.id)
    if welcomed:
        flash(_("Welcome! A coupon is waiting for you in your account."), "ok")


def sign_in_first(next_path: str):
    return redirect(url_for("account.signin_start", next=next_path))


@account.get("/me")
def me():
    customer = customers.signed_in()
    if customer is None:
        return sign_in_first(url_for("account.me"))
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
    with unit_of_work():  # made on the first visit
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


@account.get("/r/<code>")
def referral(code: str):
    """A customer's referral link: remembers who invited this browser (and gives the browser
    its visitor id, the device a friend is told apart by), then the shop."""
    referrer = referrals.find_referrer(code)
    visitor = customers.visitor_id() or customers.new_visitor_id()
    if referrer is not None:
        session["referrer_id"] = referrer.id
        customer_id = customers.signed_in_id()
        if customer_id and customer_id != referrer.id:
            with unit_of_work():
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

"""Customer account: sign in with a code sent to the phone, and ``/me``."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from . import signin
from .errors import ShopError
from .extensions import db
from .models import Customer, Order

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
            flash(_("We sent a code to %(phone)s.", phone=phone), "ok")
            return redirect(
                url_for("account.signin_verify", phone=phone, next=request.form.get("next"))
            )
    return render_template(
        "shop/signin.html",
        error=error,
        step="phone",
        phone=request.form.get("phone", ""),
        next=request.values.get("next", ""),
    ), 422 if error else 200


@bp.route("/signin/verify", methods=["GET", "POST"])
def signin_verify():
    phone = request.values.get("phone", "")
    error = None
    if request.method == "POST":
        try:
            customer = signin.verify_code(phone, request.form.get("code", ""))
        except ShopError as exc:
            error = exc.message
        else:
            session["customer_id"] = customer.id
            session.permanent = True
            return redirect(_safe_next(request.form.get("next")))
    return render_template(
        "shop/signin.html",
        error=error,
        step="code",
        phone=phone,
        next=request.values.get("next", ""),
    ), 422 if error else 200


@bp.post("/signout")
def signout():
    session.pop("customer_id", None)
    return redirect(url_for("shop.home"))


@bp.get("/me")
def me():
    customer_id = session.get("customer_id")
    customer = db.session.get(Customer, customer_id) if customer_id else None
    if customer is None:
        return redirect(url_for("account.signin_start", next=url_for("account.me")))
    orders = db.session.scalars(
        select(Order)
        .where(Order.customer_id == customer.id)
        .order_by(Order.created_at.desc())
        .limit(50)
    ).all()
    return render_template("shop/me.html", customer=customer, orders=orders)


def init_app(app) -> None:
    app.register_blueprint(bp)

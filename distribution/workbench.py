"""The guide workbench at /guide, made for a phone, and the promoter sign-up at /join.

Thin routes: who is asking comes from ``access`` (a guide's staff login or a promoter's
personal link), what they see from ``reports``, links are made by ``links.make_link``.
Nothing here takes a row id from the request: every list is the signed-in sharer's own.
"""

from __future__ import annotations

import os

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from markupsafe import Markup
from sqlalchemy import select

from distribution import access, reports
from distribution.commission import balances
from distribution.forms import (
    GuideLoginForm,
    HandOverForm,
    JoinForm,
    LogoutForm,
    MakeLinkForm,
    PickupCodeForm,
)
from distribution.links import make_link, shareable_coupons
from distribution.models import LinkTarget, SharerKind, SharerStatus
from distribution.promoters import apply_as_promoter
from distribution.qr import link_url
from shop.catalog.models import Product
from shop.errors import ShopError
from shop.extensions import db
from shop.hooks import register_personal_part
from shop.infra.unit_of_work import unit_of_work
from shop.orders import pickup
from shop.orders.models import OrderStatus
from shop.staff import auth as staff_auth
from shop.staff.models import Role
from shop.web import templating
from shop.web.redirects import local_target

bp = Blueprint(
    "workbench",
    __name__,
    static_folder=os.path.join(os.path.dirname(__file__), "static"),
    static_url_path="/guide/static",
)

OPEN_ENDPOINTS = {"workbench.login", "workbench.promoter", "workbench.join", "workbench.static"}


@bp.before_request
def require_sharer():
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if access.signed_in_sharer() is None:
        return redirect(url_for("workbench.login", next=request.full_path.rstrip("?")))
    return None


@bp.after_request
def private(response):
    """Workbench pages are one person's: never stored by a shared cache, never sent as
    a referrer (the promoter's personal link is in the URL)."""
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _home_next(target: str | None) -> str:
    return local_target(target, url_for("workbench.home"))


@bp.route("/guide/login", methods=("GET", "POST"))
def login():
    signed_in = access.signed_in_sharer()
    if signed_in is not None and signed_in.kind == SharerKind.GUIDE:
        return redirect(url_for("workbench.home"))
    form = GuideLoginForm()
    error, status = "", 200
    if request.method == "POST":
        if form.validate():
            email = form.email.data.strip().lower()
            ip = staff_auth.client_ip()
            if staff_auth.throttled(email, ip):
                error, status = staff_auth.throttle_message(), 429
            else:
                staff, error = staff_auth.authenticate(
                    email,
                    form.password.data,
                    ip,
                    roles={Role.GUIDE},
                    refused=_("This sign-in is for store guides. Staff sign in at /admin."),
                )
                if staff is not None and access.guide_for(staff) is None:
                    staff, error = None, _("You no longer share for the shop.")
                if staff is not None:
                    login_user(staff)
                    session.permanent = True  # a phone keeps the guide signed in
                    return redirect(_home_next(request.args.get("next")))
                status = 401
        elif form.meta.csrf and form.csrf_token.errors:
            error, status = _("The form expired. Please sign in again."), 400
        else:
            error, status = _("Enter your e-mail and password."), 400
    return render_template("distribution/login.html", form=form, error=error), status


@bp.post("/guide/logout")
def logout():
    if LogoutForm().validate_on_submit():
        logout_user()
        access.forget_promoter()
        flash(_("You are signed out."), "ok")
    return redirect(url_for("workbench.login"))


@bp.get("/guide/p/<token>")
def promoter(token: str):
    """A promoter's personal link: remembers them in this browser, then opens the workbench
    (redirecting keeps the token out of the address bar and of referrers)."""
    sharer = access.promoter_by_token(token)
    if sharer is None:
        abort(404)
    access.remember_promoter(sharer)
    return redirect(url_for("workbench.home"))


def _products() -> list[tuple[int, str]]:
    return list(
        db.session.execute(
            select(Product.id, Product.name)
            .where(Product.active.is_(True))
            .order_by(Product.name, Product.id)
        ).all()
    )


def _external(path: str) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


def _invite_url(links: list[reports.LinkRow]) -> str:
    """/join with one of the sharer's link codes, which makes them the recruiter ("" before
    they have a link)."""
    codes = [row.link.code for row in links if row.link.target_type == LinkTarget.HOME]
    codes += [row.link.code for row in links]
    return _external(url_for("workbench.join", invite=codes[0])) if codes else ""


@bp.get("/guide", strict_slashes=False)  # "/guide/" (as people type it) works too
def home():
    sharer = access.signed_in_sharer()
    personal_link = (
        _external(url_for("workbench.promoter", token=sharer.token))
        if sharer.kind == SharerKind.PROMOTER and sharer.token
        else ""
    )
    if sharer.status != SharerStatus.ACTIVE:
        return render_template(
            "distribution/pending.html", sharer=sharer, personal_link=personal_link
        )
    links = reports.my_links(sharer)
    customers, visitors = reports.my_customers(sharer)
    return render_template(
        "distribution/home.html",
        sharer=sharer,
        personal_link=personal_link,
        links=links,
        link_url=link_url,
        invite_url=_invite_url(links),
        products=_products(),
        coupons=shareable_coupons(),
        form=MakeLinkForm(),
        logout_form=LogoutForm(),
        customers=customers,
        visitors=visitors,
        orders=reports.my_orders(sharer),
        balances=balances(sharer.id),
        payouts=reports.my_payouts(sharer),
        board=(
            reports.leaderboard(sharer.store_id)
            if sharer.kind == SharerKind.GUIDE and sharer.store_id
            else None
        ),
        funnel=reports.funnel(sharer),
    )


@bp.post("/guide/links")
def new_link():
    form = MakeLinkForm()
    back = _home_next(form.next.data)
    if not form.validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(back)
    try:
        link = make_link(access.signed_in_sharer(), form.target.data, form.channel.data)
    except ShopError as exc:
        flash(exc.message, "error")
        return redirect(back)
    flash(_("Your link is ready: copy it or show its QR code."), "ok")
    return redirect(f"{back.split('#')[0]}#link-{link.code}")


def _counter_guide():
    """The signed-in guide with a store (who may hand pick-up orders of it over), else 404."""
    sharer = access.signed_in_sharer()
    if sharer.kind != SharerKind.GUIDE or not sharer.store_id or sharer.staff is None:
        abort(404)
    return sharer


@bp.route("/guide/pickup", methods=("GET", "POST"))
def pickup_counter():
    """A guide at the counter: find a pick-up order of their store by the customer's code."""
    sharer = _counter_guide()
    form, order, status = PickupCodeForm(), None, 200
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_("The form expired. Please try again."), "error")
            status = 400
        else:
            try:
                order = pickup.find(form.code.data, [sharer.store_id])
            except ShopError as exc:
                flash(exc.message, "error")
                status = 422
    hand_over = (
        HandOverForm(order_id=str(order.id), code=order.pickup_code) if order is not None else None
    )
    return render_template(
        "distribution/pickup.html",
        sharer=sharer,
        form=form,
        order=order,
        hand_over=hand_over,
        can_hand_over=order is not None
        and order.status in (OrderStatus.PAID, OrderStatus.AWAITING_PAYMENT)
        and pickup.shows_code(order),
        logout_form=LogoutForm(),
    ), status


@bp.post("/guide/pickup/hand-over")
def pickup_hand_over():
    """Hand the order over (marked paid first when paid at the counter), as the guide."""
    sharer = _counter_guide()
    form = HandOverForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("workbench.pickup_counter"))
    try:
        order = pickup.find(form.code.data, [sharer.store_id])
        if str(order.id) != form.order_id.data:
            raise ShopError(_("No pick-up order has this code."))
        with unit_of_work():
            order = pickup.hand_over(order.id, form.code.data, sharer.staff)
    except ShopError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("Order %(n)s is marked picked up.", n=order.number), "ok")
    return redirect(url_for("workbench.pickup_counter"))


@bp.route("/join", methods=("GET", "POST"))
def join():
    """Become a promoter: phone, name, and the invite code of whoever recruited you."""
    signed_in = access.signed_in_sharer()
    if signed_in is not None and signed_in.kind == SharerKind.PROMOTER:
        return redirect(url_for("workbench.home"))
    form = JoinForm()
    if request.method == "GET":
        form.invite.data = request.args.get("invite", "")[:16]
    error, status = "", 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                with unit_of_work():
                    sharer = apply_as_promoter(form.phone.data, form.name.data, form.invite.data)
            except ShopError as exc:
                error, status = exc.message, 422
            else:
                access.remember_promoter(sharer)
                if sharer.status == SharerStatus.ACTIVE:
                    flash(_("Welcome to the programme! Keep your personal link safe."), "ok")
                return redirect(url_for("workbench.home"))
        else:
            error, status = _("The form expired. Please try again."), 400
    return render_template("distribution/join.html", form=form, error=error), status


#: the id of the share box's "make my link" form, which the product page's share button submits
MAKE_LINK_FORM = "share-make-link"


def _product_links(sharer, product_id: int) -> list:
    """The sharer's links to the product, read once per request (the share box and the share
    button both need them)."""
    cache = g.setdefault("sharer_product_links", {})
    if product_id not in cache:
        cache[product_id] = reports.my_links(sharer, LinkTarget.PRODUCT, product_id)
    return cache[product_id]


def share_box(product_id: int) -> Markup:
    """The signed-in sharer's links to a product and a one-tap form to make one: a personal
    part of the storefront's product page (``shop.web.pagecache``)."""
    sharer = access.current_sharer()
    if sharer is None:
        return Markup("")
    form = MakeLinkForm(formdata=None, target=f"product:{product_id}", next=request.path)
    return Markup(
        render_template(
            "distribution/_share_box.html",
            sharer=sharer,
            links=_product_links(sharer, product_id),
            link_url=link_url,
            form=form,
            form_id=MAKE_LINK_FORM,
        )
    )


def share_action(product_id: int) -> dict | None:
    """What the product page's share button does for the signed-in sharer: share their newest
    tracked link to the product (``url``), or, while they have none, submit the share box's
    form that makes one (``form``). None for everyone else: they share the plain page."""
    sharer = access.current_sharer()
    if sharer is None:
        return None
    links = _product_links(sharer, product_id)
    if links:
        return {"url": link_url(links[0].link), "form": None}
    return {"url": None, "form": MAKE_LINK_FORM}


def share_button(product_id: int, title: str, url: str, plain: str) -> Markup:
    """The product page's share button (a personal part): for the signed-in sharer it shares
    their tracked link (``share_action``); everyone else gets the ``plain`` one."""
    tracked = share_action(product_id)
    if tracked is None:
        return templating.share_button(product_id, title, url, plain)
    return templating.tracked_share_button(title, tracked)


def init_app(app) -> None:
    register_personal_part(app, "share_box", share_box)
    register_personal_part(app, "share_button", share_button)

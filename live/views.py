"""Live selling's routes: entering a session (where invite links lead), buying from its shelf,
the host console's calls (heartbeat, pin, unpin, end), and the guide's live workbench.

Thin: each parses, calls one service inside one unit of work, answers. The room and the host
console pages are the live room's (``live.room``, ``live.host``).
"""

from __future__ import annotations

import os

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import to_utc
from flask_login import current_user

from distribution import access
from distribution.models import SharerKind, SharerStatus
from live import flash as flash_units
from live import invites, reports, services
from live.attribution_session import remember_session
from live.forms import ScheduleForm, StartNowForm
from live.models import SessionStatus, ShelfItem
from shop.errors import ShopError
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.orders.models import OrderStatus

bp = Blueprint(
    "live",
    __name__,
    url_prefix="/live",
    static_folder=os.path.join(os.path.dirname(__file__), "static"),
    static_url_path="/static",
)
workbench = Blueprint("live_workbench", __name__, url_prefix="/guide/live")


def _room(session_id: int) -> str:
    """The live room's page when the live room is installed, else the home page."""
    if "live.room" in current_app.view_functions:
        return url_for("live.room", session_id=session_id)
    return url_for("shop.home")


def _host_console(session_id: int) -> str:
    if "live.host" in current_app.view_functions:
        return url_for("live.host", session_id=session_id)
    return url_for("live_workbench.detail", session_id=session_id)


@bp.get("/<int:session_id>/enter")
def enter(session_id: int):
    """Where a session's invite links lead: the session is remembered, then the room."""
    live = db.session.get(services.LiveSession, session_id)
    if live is None:
        return redirect(url_for("shop.home"))
    remember_session(session, session_id)
    return redirect(_room(session_id))


@bp.get("/<int:session_id>/buy/<int:item_id>")
def buy(session_id: int, item_id: int):
    """The room's buy button: the same short checkout, at the live price while it holds (and
    where it is below the product's own price: else simply at that)."""
    try:
        live = services.get(session_id)
        item = db.session.get(ShelfItem, item_id)
        if item is None:
            abort(404)
        variant = flash_units.variant_bought(item, request.args.get("variant", type=int))
        flash_units.check_buyable(live, item, variant)
    except ShopError as exc:
        flash(exc.message, "error")
        return redirect(_room(session_id))
    remember_session(session, session_id)
    qty = max(1, min(request.args.get("qty", 1, type=int) or 1, 99))
    return redirect(url_for("shop.checkout", variant=getattr(variant, "id", None), qty=qty))


@bp.get("/<int:session_id>/share")
def share(session_id: int):
    """What the room's share button passes on for this viewer (``live.invites``)."""
    live = db.session.get(services.LiveSession, session_id)
    if live is None:
        abort(404)
    return jsonify(url=invites.share_url_for_viewer(live, session))


def _hosting(session_id: int):
    live = db.session.get(services.LiveSession, session_id)
    if live is None:
        abort(404)
    staff = current_user if current_user.is_authenticated else None
    if not services.may_host(live, access.signed_in_sharer(), staff):
        abort(403)
    return live


def _answer(fn, *args, **kwargs):
    """Run one host action as a unit of work; a refusal is a 409 with its message."""
    try:
        with unit_of_work():
            result = fn(*args, **kwargs)
    except ShopError as exc:
        return jsonify(error=exc.code, message=exc.message), 409
    return jsonify(ok=True, result=result)


@bp.post("/<int:session_id>/heartbeat")
def heartbeat(session_id: int):
    """Called by the host console every few seconds while it is on air (``paused``: on hold)."""
    _hosting(session_id)
    paused = bool((request.get_json(silent=True) or {}).get("paused") or request.form.get("paused"))
    return _answer(services.heartbeat, session_id, paused=paused)


@bp.post("/<int:session_id>/pin")
def pin(session_id: int):
    _hosting(session_id)
    body = request.get_json(silent=True) or request.form
    item_id = body.get("shelf_item_id")
    if not str(item_id or "").isdecimal():
        return jsonify(error="invalid_input", message=_("Choose a product to pin.")), 400
    return _answer(lambda: services.pin(session_id, int(item_id)).id)


@bp.post("/<int:session_id>/unpin")
def unpin(session_id: int):
    _hosting(session_id)
    return _answer(services.unpin, session_id)


@bp.post("/<int:session_id>/end")
def end(session_id: int):
    _hosting(session_id)
    return _answer(services.end, session_id)


@workbench.before_request
def require_sharer():
    if access.signed_in_sharer() is None:
        return redirect(url_for("workbench.login", next=request.full_path.rstrip("?")))
    return None


def _guide():
    sharer = access.signed_in_sharer()
    if sharer.kind != SharerKind.GUIDE or sharer.status != SharerStatus.ACTIVE:
        return None
    return sharer


@workbench.get("/", strict_slashes=False)
def index():
    sharer = access.signed_in_sharer()
    guide = _guide()
    return render_template(
        "live/workbench.html",
        sharer=sharer,
        guide=guide,
        sessions=reports.sessions_for_sharer(sharer),
        start_form=StartNowForm(),
        schedule_form=ScheduleForm(),
    )


@workbench.post("/start")
def start():
    """The one tap: a session of the guide's store, straight to the host console."""
    guide = _guide()
    form = StartNowForm()
    if guide is None or not form.validate_on_submit():
        flash(_("Only a guide of a store can start a live session."), "error")
        return redirect(url_for("live_workbench.index"))
    try:
        with unit_of_work():
            live = services.start_now(guide, getattr(guide, "staff", None))
    except ShopError as exc:
        flash(exc.message, "error")
        return redirect(url_for("live_workbench.index"))
    return redirect(_host_console(live.id))


@workbench.post("/schedule")
def schedule():
    guide = _guide()
    form = ScheduleForm()
    if guide is None or not form.validate_on_submit():
        flash(_("Please check the title and the start time."), "error")
        return redirect(url_for("live_workbench.index"))
    try:
        with unit_of_work():
            services.schedule(
                store_id=guide.store_id,
                title=form.title.data,
                host=guide,
                scheduled_at=to_utc(form.scheduled_at.data) if form.scheduled_at.data else None,
                stream_kind=form.stream_kind.data,
                stream_url=form.stream_url.data,
                staff=guide.staff,
            )
    except ShopError as exc:
        flash(exc.message, "error")
    else:
        flash(_("The session is scheduled."), "ok")
    return redirect(url_for("live_workbench.index"))


@workbench.get("/<int:session_id>")
def detail(session_id: int):
    """A session on the workbench: its invite link and QR code, its report."""
    sharer = access.signed_in_sharer()
    live = db.session.get(services.LiveSession, session_id)
    if live is None or not reports.may_see(sharer, live):
        abort(404)
    link = invites.invite_link(sharer, live) if sharer.status == SharerStatus.ACTIVE else None
    return render_template(
        "live/workbench_session.html",
        sharer=sharer,
        live=live,
        link=link,
        link_url=invites.invite_url(link) if link else "",
        host_url=_host_console(live.id) if live.host_id == sharer.id else "",
        report=reports.session_report(live) if live.host_id == sharer.id else None,
        mine=reports.inviter_row(live, sharer),
    )


def home_block() -> str:
    """The home page's live block: sessions live now, then those starting within a day."""
    sessions = services.live_or_soon()
    if not sessions:
        return ""
    return render_template("live/_home_block.html", sessions=sessions)


def order_block(order) -> str:
    """The order page's word on live units: an unpaid order keeps its live-price units only
    for the live reservation, not for as long as the order waits for payment."""
    if order.status != OrderStatus.AWAITING_PAYMENT:
        return ""
    until = flash_units.units_kept_until(order.id)
    if until is None:
        return ""
    return render_template("live/_order_block.html", until=until)


def workbench_block() -> str:
    """The guide workbench's live card: the one tap, and the sessions live or coming."""
    sharer = access.signed_in_sharer()
    if sharer is None or sharer.status != SharerStatus.ACTIVE:
        return ""
    sessions = [
        s for s in reports.sessions_for_sharer(sharer, limit=5) if s.status != SessionStatus.ENDED
    ]
    return render_template(
        "live/_workbench_block.html",
        guide=_guide(),
        sessions=sessions,
        start_form=StartNowForm(),
    )

"""The live room (``/live/<id>``), its event stream, comments and likes, and the host console
(``/live/<id>/host``). Thin routes: the rules are in ``live.room`` and live selling's services.

The event stream holds no database connection and no app context while it is open: the view
reads what it needs, returns the generator, and Flask tears the request down before the first
byte is streamed.
"""

from __future__ import annotations

import os

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask import session as flask_session
from flask_babel import gettext as _
from flask_login import current_user

from live import host, reminders, room, services, shelf, tips
from live.attribution_session import remember_session
from live.broker import broker, stream
from live.forms import RemindForm, ShelfForm, TipForm
from live.models import SessionStatus, StreamKind
from live.presence import presence
from live.views import bp
from shop.app import ROOT
from shop.customers import identity as customers
from shop.errors import ShopError
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work

# The room's routes join live selling's blueprint (``live.room``, ``live.host``: where its invite
# links and views lead; its scripts and styles are live selling's static files too).

HLS_DIST = os.path.join(ROOT, "node_modules", "hls.js", "dist")


def _session_or_404(session_id: int):
    from live.models import LiveSession

    session = db.session.get(LiveSession, session_id)
    if session is None:
        abort(404)
    return session


def _last_event_id() -> int:
    """The browser's ``Last-Event-ID`` (sent by EventSource when it reconnects), else the
    ``after`` the page was rendered at; anything unreadable counts as 0 (replay the buffer)."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("after") or "0"
    return int(raw) if raw.isdigit() and len(raw) < 19 else 0


def _wants_json() -> bool:
    """The room's and console's scripts ask for JSON; a plain form post wants a page."""
    return "application/json" in request.headers.get("Accept", "")


def _failure(error: ShopError, status: int = 400):
    return jsonify(ok=False, error=error.message, code=error.code), status


# -- the room ----------------------------------------------------------------------------------


@bp.get("/<int:session_id>", endpoint="room")
def room_page(session_id: int):
    session = _session_or_404(session_id)
    visitor = customers.visitor_id()
    new_visitor = visitor is None
    if new_visitor:
        visitor = customers.new_visitor_id()
    with unit_of_work():
        room.record_visit(session.id, visitor, customers.signed_in_id())
    remember_session(flask_session, session.id)  # an order placed from here is the session's
    pinned = room.pinned_item(session)
    customer = customers.signed_in()
    grace = services.settings().reservation_minutes
    response = Response(
        render_template(
            "live/room.html",
            session=session,
            pinned=room.item_view(pinned, grace) if pinned else None,
            shelf=[room.item_view(item, grace) for item in session.shelf],
            comments=[room.comment_event(c) for c in room.recent_comments(session.id)],
            stats=room.viewer_stats(session.id),
            viewers=presence(current_app).count(session.id),
            after=broker().head(session.id),
            player=room.player(session),
            status_labels=room.status_labels(),
            remind_form=RemindForm() if session.status == SessionStatus.SCHEDULED else None,
            reminded=_reminded(session.id, customer),
            customer=customer,
            tip_form=TipForm() if _tips_shown(session) else None,
            tip_amounts=tips.amounts(),
            adult_confirmed=tips.has_confirmed_adult(customer.id if customer else None),
            tipped=request.args.get("tipped") == "1",  # back from paying a tip
        )
    )
    if new_visitor:
        customers.set_visitor_cookie(response, visitor)
    response.headers["Content-Security-Policy"] = room.content_policy(session)
    response.headers["Cache-Control"] = "private, no-store"
    return response


REMINDED_KEY = "live_reminded"


def _reminded(session_id: int, customer) -> bool:
    """Whether this browser (or the signed-in customer's phone) asked to be reminded."""
    if session_id in flask_session.get(REMINDED_KEY, []):
        return True
    return customer is not None and reminders.is_reminded(session_id, customer.phone)


@bp.post("/<int:session_id>/remind")
def remind(session_id: int):
    """ "Remind me": recorded once (asking again changes nothing); texted when it goes live."""
    session = _session_or_404(session_id)
    form = RemindForm()
    if not form.validate_on_submit():
        flash(_("Please try again."), "error")
        return redirect(url_for("live.room", session_id=session_id))
    try:
        with unit_of_work():
            reminders.remind_me(session, customer=customers.signed_in(), phone=form.phone.data)
    except ShopError as error:
        flash(error.message, "error")
        return redirect(url_for("live.room", session_id=session_id))
    flask_session[REMINDED_KEY] = [*flask_session.get(REMINDED_KEY, [])[-19:], session_id]
    return redirect(url_for("live.room", session_id=session_id) + "#remind")


def _tips_shown(session) -> bool:
    """Tips switched on, the session on air, and online payment to take them."""
    return (
        tips.tips_on(session)
        and tips.payable()
        and session.status
        in (
            SessionStatus.LIVE,
            SessionStatus.PAUSED,
        )
    )


@bp.post("/<int:session_id>/tip")
def tip(session_id: int):
    """A tip at a preset amount, paid on Stripe Checkout as orders are (``live.tips``)."""
    session = _session_or_404(session_id)
    form = TipForm()
    back = url_for("live.room", session_id=session_id)  # the top, where the reason shows
    if not form.validate_on_submit():
        flash(_("Choose one of the tip amounts."), "error")
        return redirect(back)
    try:
        with unit_of_work() as work:
            made = tips.start_tip(
                session, customers.signed_in(), form.amount.data, adult=form.adult.data
            )
            work.keep(made)
        room_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for(
            "live.room", session_id=session_id
        )
        pay_url = tips.checkout_url(made, room_url)
    except ShopError as error:
        flash(error.message, "error")
        return redirect(back)
    return redirect(pay_url, 303)


@bp.get("/<int:session_id>/events")
def events(session_id: int):
    """The room's Server-Sent Events: every event after ``Last-Event-ID``, then live ones."""
    _session_or_404(session_id)
    app = current_app._get_current_object()
    config = app.config
    b, watching = broker(app), presence(app)
    visitor = customers.visitor_id()
    last = _last_event_id()
    watching.start(app)

    def body():
        if visitor:
            watching.joined(session_id, visitor)
        try:
            yield from stream(
                b,
                session_id,
                last,
                heartbeat=config["LIVE_SSE_HEARTBEAT_SECONDS"],
                max_age=config["LIVE_SSE_MAX_AGE_SECONDS"],
                on_beat=(lambda: watching.seen(session_id, visitor)) if visitor else None,
            )
        finally:
            if visitor:
                watching.left(session_id, visitor)

    db.session.remove()  # the stream holds no connection
    return Response(
        body(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"},
    )


@bp.post("/<int:session_id>/comments")
def comment(session_id: int):
    session = _session_or_404(session_id)
    try:
        with unit_of_work():
            posted = room.post_comment(session, customers.visitor_id(), request.form.get("body"))
            shown = room.comment_event(posted)
    except ShopError as error:
        if not _wants_json():  # the form without its script: the room again, with the reason
            flash(error.message, "error")
            return redirect(url_for("live.room", session_id=session_id))
        return _failure(error, 429 if isinstance(error, room.CommentTooFast) else 400)
    if not _wants_json():
        return redirect(url_for("live.room", session_id=session_id))
    return jsonify(ok=True, comment=shown)


@bp.post("/<int:session_id>/likes")
def like(session_id: int):
    _session_or_404(session_id)
    raw = request.form.get("taps", "1")
    try:
        room.like(session_id, int(raw) if raw.isdigit() and len(raw) < 4 else 0)
    except ShopError as error:
        return _failure(error)
    return jsonify(ok=True)


@bp.get("/vendor/hls.min.js")
def hls_js():
    """hls.js as installed from npm by ``make install`` (package-lock.json); never a CDN."""
    return send_from_directory(HLS_DIST, "hls.light.min.js", max_age=86400)


# -- the host console --------------------------------------------------------------------------


def _host_session(session_id: int):
    session = _session_or_404(session_id)
    if not host.may_host(current_user, session):
        abort(404 if not current_user.is_authenticated else 403)
    return session


@bp.get("/<int:session_id>/host", endpoint="host")
def host_console(session_id: int):
    if not current_user.is_authenticated:
        return redirect(url_for("workbench.login", next=request.path))
    session = _host_session(session_id)
    pinned = room.pinned_item(session)
    grace = services.settings().reservation_minutes
    response = Response(
        render_template(
            "live/host.html",
            session=session,
            pinned=pinned,
            shelf=[room.item_view(item, grace) for item in session.shelf],
            comments=[room.comment_event(c) for c in room.recent_comments(session.id)],
            stats=room.viewer_stats(session.id),
            viewers=presence(current_app).count(session.id),
            after=broker().head(session.id),
            heartbeat_seconds=current_app.config["LIVE_HOST_HEARTBEAT_SECONDS"],
            workbench_url=host.workbench_url(session),
            status_labels=room.status_labels(),
            shelf_form=ShelfForm() if session.status != SessionStatus.ENDED else None,
            offerable=shelf.offerable(session),
            stream_kinds=StreamKind.choices(),
        )
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


@bp.post("/<int:session_id>/host/<action>")
def host_action(session_id: int, action: str):
    session = _host_session(session_id)
    act = host.ACTIONS.get(action)
    if act is None:
        abort(404)
    try:
        with unit_of_work():
            result = act(session, request.form, current_user)
    except ShopError as error:
        return _failure(error)
    result, extra = result if isinstance(result, tuple) else (result, {})
    return jsonify(ok=True, status=session.status, message=result or _("Done."), **extra)

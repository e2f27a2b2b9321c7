"""What the host console may do; who may is live selling's rule (``live.services.may_host``:
the session's host guide, the owners, the managers of its store). Each action calls live
selling's service (they do not commit; the console's view does). The console announces each
change to the room right after its commit; the room also hears of changes through the outbox
topics live selling publishes (``live.room_jobs``), whoever made them (the admin, a sweep).
Both publish the new state as a state event, so the room sees each change once.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import to_utc

from live import room, shelf
from live import services as live
from live.broker import announce
from live.forms import ShelfForm, StreamForm
from live.models import SessionStatus
from shop.errors import InvalidInput
from shop.extensions import db


def may_host(user, session) -> bool:
    """Live selling's rule (``live.services.may_host``) for the signed-in user."""
    from distribution.access import signed_in_sharer

    staff = user if getattr(user, "is_authenticated", False) else None
    return live.may_host(session, signed_in_sharer(), staff)


def workbench_url(session) -> str | None:
    """The session's page on the host guide's workbench (invite link, QR, report), for a guide."""
    from flask import url_for

    from distribution.access import signed_in_sharer

    if signed_in_sharer() is None:
        return None
    return url_for("live_workbench.detail", session_id=session.id)


def _shelf_item(session, form):
    raw = form.get("item", "")
    item = next((i for i in session.shelf if raw.isdigit() and i.id == int(raw)), None)
    if item is None:
        raise InvalidInput(_("That product is not on this session's shelf."))
    return item


def _announce_status(session) -> None:
    db.session.refresh(session)
    announce(session.id, "status", room.status_event(session), state=True)


def _announce_pin(session) -> None:
    announce(session.id, "pin", room.pin_event(session), state=True)


def start(session, form, staff) -> str:
    live.heartbeat(session.id)
    _announce_status(session)
    return _("You are live.")


def heartbeat(session, form, staff) -> str:
    live.heartbeat(session.id, paused=session.status == SessionStatus.PAUSED)
    _announce_status(session)
    return ""


def pause(session, form, staff) -> str:
    live.heartbeat(session.id, paused=True)
    _announce_status(session)
    return _("Paused. Tap “Go live” to resume.")


def end(session, form, staff) -> str:
    live.end(session.id)
    _announce_status(session)
    return _("The session has ended.")


def pin(session, form, staff) -> str:
    item = _shelf_item(session, form)
    live.pin(session.id, item.id)
    _announce_pin(session)
    return _("Pinned: %(name)s", name=item.product.name)


def unpin(session, form, staff) -> str:
    live.unpin(session.id)
    _announce_pin(session)
    return _("Nothing is pinned.")


def shelve(session, form, staff):
    """Add a product to the shelf from the console (``live.shelf`` keeps the rules): the room
    hears of it at once, and the console gets the new line to show."""
    data = ShelfForm.read(form)
    item = shelf.add_to_shelf(
        session,
        product_id=data.product.data,
        live_price=data.live_price.data,
        per_customer_limit=data.per_customer_limit.data,
        stock_cap=data.stock_cap.data,
        starts_at=to_utc(data.starts_at.data) if data.starts_at.data else None,
        ends_at=to_utc(data.ends_at.data) if data.ends_at.data else None,
    )
    view = room.item_view(item)
    announce(session.id, "shelf", {"added": view})
    return _("On the shelf: %(name)s", name=item.product.name), {"item": view}


def stream(session, form, staff) -> str:
    """Set what the room plays. Viewers' rooms load it again (their page's player and its
    content policy follow the stream)."""
    data = StreamForm.read(form)
    if live.set_stream(session, data.stream_kind.data, data.stream_url.data):
        announce(session.id, "stream", {})
    return _("Stream saved: viewers see it now.")


def mute(session, form, staff) -> str:
    name = room.mute(session, form.get("author", ""), staff.id)
    return _("%(name)s is muted.", name=name)


ACTIONS = {
    "start": start,
    "heartbeat": heartbeat,
    "pause": pause,
    "end": end,
    "pin": pin,
    "unpin": unpin,
    "mute": mute,
    "shelve": shelve,
    "stream": stream,
}

"""Live sessions: scheduling, one-tap start, the host's heartbeat, pins, ending.

"Live" comes from the host console's heartbeat, never from the clock: a scheduled session
stays scheduled until its host's console sends a first heartbeat, and a live session ends
itself ``auto_end_minutes`` after the last one (``end_silent_sessions``, a sweep). Every pin
and unpin is a row, so a report can say what sold while each product was pinned.

Services here do not commit; the entry point (a view, a job, the sweep) owns the transaction.
What the live room shows changes through the outbox (``LiveTopic``).
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import select, update

from distribution.models import Sharer, SharerKind
from live.models import LiveSession, LiveSettings, Pin, SessionStatus, ShelfItem, StreamKind
from shop.errors import InvalidInput, InvalidTransition, ShopError
from shop.extensions import db
from shop.infra import outbox
from shop.infra.clock import utcnow
from shop.staff.models import Role


class LiveTopic(enum.StrEnum):
    """What live selling publishes for the live room (and anyone else) to act on."""

    # The last argument of STATUS and UNITS names the change, so each change is its own event
    # (the outbox drops a second publication with the same arguments).
    STATUS = "live.status"  # (session_id, change): started, paused, resumed or ended
    PINNED = "live.pinned"  # (session_id, pin_id)
    UNPINNED = "live.unpinned"  # (session_id, pin_id)
    UNITS = "live.units"  # (session_id, shelf_item_id, change): units taken or given back
    RESERVATION_ENDS = "live.reservation_ends"  # (order_id): an unpaid order's units go back


class NotHost(ShopError):
    """Someone who is not this session's host (nor staff of its store) tried to run it."""

    code = "not_host"


def settings() -> LiveSettings:
    """The live settings (the single row; its defaults, unsaved, while there is none)."""
    row = db.session.scalar(select(LiveSettings).order_by(LiveSettings.id).limit(1))
    if row is not None:
        return row
    return LiveSettings(
        auto_end_minutes=30,
        reservation_minutes=15,
        tips_enabled=False,
        embed_hosts="",
    )


def settings_row() -> LiveSettings:
    """The settings row for editing: made with its defaults when missing. Does not commit."""
    row = db.session.scalar(select(LiveSettings).order_by(LiveSettings.id).limit(1))
    if row is None:
        row = settings()
        db.session.add(row)
        db.session.flush()
    return row


def check_settings(row: LiveSettings) -> None:
    """Refuse settings that cannot work (``InvalidInput``)."""
    if not 1 <= (row.auto_end_minutes or 0) <= 24 * 60:
        raise InvalidInput(_("A silent session ends itself after 1 minute to 24 hours."))
    if not 1 <= (row.reservation_minutes or 0) <= 24 * 60:
        raise InvalidInput(_("The live reservation lasts between 1 minute and 24 hours."))


def get(session_id: int) -> LiveSession:
    session = db.session.get(LiveSession, session_id)
    if session is None:
        raise InvalidInput(_("There is no such live session."))
    return session


def check_stream(kind: str, url: str) -> None:
    """A stream source the room can play: an http(s) URL; an embed only from an allowed host."""
    url = (url or "").strip()
    if not StreamKind.has(kind):
        raise InvalidInput(_("Choose what kind of stream this is."))
    if url and not url.startswith(("https://", "http://")):
        raise InvalidInput(_("The stream address must start with https:// or http://."))
    host = plain_host(url) if url else ""
    if url and host is None:
        raise InvalidInput(_("The stream address is not a web address."))
    if url and kind == StreamKind.EMBED:
        allowed = {h.strip().lower() for h in settings().embed_hosts.split() if h.strip()}
        if host not in allowed:
            raise InvalidInput(_("Players from %(host)s may not be embedded.", host=host))


def plain_host(url: str) -> str | None:
    """The address's host, lower-cased, if a browser reads it as one (the room's content
    policy lists it); None otherwise."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None
    plain = host and all(ch.isalnum() or ch in ".-" for ch in host) and " " not in url
    return host if plain else None


def schedule(
    *,
    store_id: int,
    title: str,
    host: Sharer | None = None,
    scheduled_at: datetime | None = None,
    stream_kind: str = StreamKind.HLS,
    stream_url: str = "",
    cover: str = "",
    staff=None,
) -> LiveSession:
    """A new session of a store, scheduled (``scheduled_at``) or to start now (None). It goes
    live with its host console's first heartbeat. Does not commit."""
    title = (title or "").strip()
    if not title:
        raise InvalidInput(_("Give the session a title."))
    if len(title) > 200:
        raise InvalidInput(_("The title is too long."))
    if host is not None and (host.kind != SharerKind.GUIDE or host.store_id != store_id):
        raise InvalidInput(_("The host must be a guide of the session's store."))
    check_stream(stream_kind, stream_url)
    session = LiveSession(
        store_id=store_id,
        host_id=host.id if host is not None else None,
        title=title,
        cover=(cover or "").strip(),
        stream_kind=stream_kind,
        stream_url=(stream_url or "").strip(),
        status=SessionStatus.SCHEDULED,
        scheduled_at=scheduled_at,
        created_by_id=getattr(staff, "id", None),
    )
    db.session.add(session)
    db.session.flush()
    return session


def set_stream(session: LiveSession, kind: str, url: str) -> bool:
    """What the room plays: its stream source, set or changed from the host console (a one-tap
    session has none yet). Refused for an ended session. Whether it changed. Does not
    commit."""
    if session.status == SessionStatus.ENDED:
        raise InvalidTransition(_("This live session has ended."))
    url = (url or "").strip()
    if not url:
        raise InvalidInput(_("Enter the stream address."))
    check_stream(kind, url)
    changed = (session.stream_kind, session.stream_url) != (kind, url)
    session.stream_kind, session.stream_url = kind, url
    return changed


def start_now(guide: Sharer, staff=None) -> LiveSession:
    """The one-tap start from the workbench: a session of the guide's store, hosted by them,
    waiting for the host console's first heartbeat. Does not commit."""
    if guide.kind != SharerKind.GUIDE or guide.store_id is None:
        raise InvalidInput(_("Only a guide of a store can start a live session."))
    title = _("%(name)s is live", name=guide.name)
    return schedule(store_id=guide.store_id, title=title, host=guide, staff=staff)


def may_host(session: LiveSession, sharer: Sharer | None, staff=None) -> bool:
    """The host guide runs the console; so may the owner and the managers of its store."""
    if sharer is not None and session.host_id == sharer.id:
        return True
    if staff is None or not getattr(staff, "is_authenticated", False) or not staff.active:
        return False
    if staff.role == Role.OWNER:
        return True
    return staff.role == Role.MANAGER and session.store_id in staff.store_ids


def heartbeat(session_id: int, *, paused: bool = False, now: datetime | None = None) -> str:
    """The host console is on air (or paused): the session is live (or paused) as of now.

    The first heartbeat starts a scheduled session. An ended session stays ended: its host
    is told so. Returns the status. Does not commit.
    """
    now = now or utcnow()
    to = SessionStatus.PAUSED if paused else SessionStatus.LIVE
    before = db.session.scalar(select(LiveSession.status).where(LiveSession.id == session_id))
    if before is None:
        raise InvalidInput(_("There is no such live session."))
    done = db.session.execute(
        update(LiveSession)
        .where(LiveSession.id == session_id, LiveSession.status != SessionStatus.ENDED)
        .values(status=to, last_heartbeat_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        raise InvalidTransition(_("This live session has ended."))
    db.session.execute(
        update(LiveSession)
        .where(LiveSession.id == session_id, LiveSession.started_at.is_(None))
        .values(started_at=now)
        .execution_options(synchronize_session=False)
    )
    if before != to:
        outbox.publish(LiveTopic.STATUS, session_id, f"{to}:{now.isoformat()}")
    return to


def end(session_id: int, *, at: datetime | None = None) -> bool:
    """End a session (its host pressed "End", or it fell silent). Closes the open pin.
    True if this call ended it. Does not commit."""
    at = at or utcnow()
    done = db.session.execute(
        update(LiveSession)
        .where(LiveSession.id == session_id, LiveSession.status != SessionStatus.ENDED)
        .values(status=SessionStatus.ENDED, ended_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done:
        _close_open_pin(session_id, at)
        outbox.publish(LiveTopic.STATUS, session_id, f"ended:{at.isoformat()}")
    return bool(done)


def end_silent_sessions(now: datetime | None = None) -> int:
    """Sweep (its own transaction): end every live or paused session whose last heartbeat is
    older than ``auto_end_minutes``, as of that last heartbeat. Returns how many."""
    from shop.infra.unit_of_work import unit_of_work

    now = now or utcnow()
    cutoff = now - timedelta(minutes=settings().auto_end_minutes)
    silent = db.session.execute(
        select(LiveSession.id, LiveSession.last_heartbeat_at).where(
            LiveSession.status.in_((SessionStatus.LIVE, SessionStatus.PAUSED)),
            LiveSession.last_heartbeat_at < cutoff,
        )
    ).all()
    db.session.rollback()
    ended = 0
    for session_id, last in silent:
        with unit_of_work():
            ended += end(session_id, at=last)
    return ended


def live_price_until(session: LiveSession, grace_minutes: int | None = None) -> datetime | None:
    """Until when the live price holds: while the session is on air, plus the checkout grace
    after its last heartbeat (or its end). None: the session never went live."""
    if session.started_at is None or session.status == SessionStatus.SCHEDULED:
        return None
    if grace_minutes is None:
        grace_minutes = settings().reservation_minutes
    last = session.ended_at if session.status == SessionStatus.ENDED else None
    last = last or session.last_heartbeat_at or session.started_at
    return last + timedelta(minutes=grace_minutes)


def _close_open_pin(session_id: int, at: datetime) -> int | None:
    pin_id = db.session.scalar(
        select(Pin.id).where(Pin.session_id == session_id, Pin.unpinned_at.is_(None))
    )
    if pin_id is not None:
        db.session.execute(
            update(Pin)
            .where(Pin.id == pin_id, Pin.unpinned_at.is_(None))
            .values(unpinned_at=at)
            .execution_options(synchronize_session=False)
        )
    return pin_id


def _lock(session_id: int) -> LiveSession:
    """The session row, locked for this transaction (PostgreSQL), so pins are serialized."""
    session = db.session.scalar(
        select(LiveSession).where(LiveSession.id == session_id).with_for_update()
    )
    if session is None:
        raise InvalidInput(_("There is no such live session."))
    return session


def pin(session_id: int, shelf_item_id: int, now: datetime | None = None) -> Pin:
    """Pin one shelf item (the one pinned before is unpinned at the same moment). Recorded.
    Does not commit."""
    now = now or utcnow()
    session = _lock(session_id)
    if session.status == SessionStatus.ENDED:
        raise InvalidTransition(_("This live session has ended."))
    item = db.session.get(ShelfItem, shelf_item_id)
    if item is None or item.session_id != session_id:
        raise InvalidInput(_("That product is not on this session's shelf."))
    previous = _close_open_pin(session_id, now)
    if previous is not None:
        outbox.publish(LiveTopic.UNPINNED, session_id, previous)
    record = Pin(session_id=session_id, shelf_item_id=shelf_item_id, pinned_at=now)
    db.session.add(record)
    db.session.flush()
    outbox.publish(LiveTopic.PINNED, session_id, record.id)
    return record


def unpin(session_id: int, now: datetime | None = None) -> int | None:
    """Unpin whatever is pinned; the id of the pin closed (None: nothing was). Does not
    commit."""
    _lock(session_id)
    pin_id = _close_open_pin(session_id, now or utcnow())
    if pin_id is not None:
        outbox.publish(LiveTopic.UNPINNED, session_id, pin_id)
    return pin_id


def pinned(session_id: int) -> Pin | None:
    """The open pin of a session, if any."""
    return db.session.scalar(
        select(Pin).where(Pin.session_id == session_id, Pin.unpinned_at.is_(None))
    )


def live_or_soon(now: datetime | None = None, within_hours: int = 24, limit: int = 6):
    """Sessions on air now, then those scheduled to start within ``within_hours`` (home page)."""
    now = now or utcnow()
    on_air = db.session.scalars(
        select(LiveSession)
        .where(LiveSession.status.in_((SessionStatus.LIVE, SessionStatus.PAUSED)))
        .order_by(LiveSession.started_at.desc())
        .limit(limit)
    ).all()
    soon = db.session.scalars(
        select(LiveSession)
        .where(
            LiveSession.status == SessionStatus.SCHEDULED,
            LiveSession.scheduled_at >= now - timedelta(minutes=30),
            LiveSession.scheduled_at <= now + timedelta(hours=within_hours),
        )
        .order_by(LiveSession.scheduled_at)
        .limit(limit)
    ).all()
    return [*on_air, *soon][:limit]

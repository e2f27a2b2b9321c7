"""The live room's rules: visits and viewers, comments (length, pace, banned words, mutes), and
what the room shows of a session (the shelf and the pinned product, each at what its buy button
charges, and its units left).

Services here do not commit; the views do, and the events they announce are published after
the commit (``live.broker.announce``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import exists, func, select, update

from live import flash
from live.broker import announce
from live.room_models import (
    COMMENT_MAX,
    BannedWord,
    LiveComment,
    LiveMute,
    LiveRoomStats,
    LiveViewer,
)
from shop.errors import InvalidInput, ShopError
from shop.extensions import db
from shop.infra.clock import utcnow

VISIT_GAP = timedelta(minutes=30)  # a page load this soon after the last one is the same visit
COMMENT_PACE = 2.0  # seconds between two comments of one viewer
MAX_LIKE_TAPS = 50  # taps one request may carry (a client batches its taps)


class CommentRefused(ShopError):
    code = "comment_refused"


class CommentTooFast(CommentRefused):
    code = "comment_too_fast"


# -- viewers -----------------------------------------------------------------------------------


def record_visit(session_id: int, visitor: str, customer_id: int | None = None) -> LiveViewer:
    """This browser opened the room. Its first time: a new viewer (returning if it watched an
    earlier session). Later: a new visit only after ``VISIT_GAP``; a reload changes nothing but
    the time it was last seen. Does not commit."""
    from live.presence import _insert_ignoring

    now = utcnow()
    returning = db.session.scalar(
        select(
            exists().where(
                LiveViewer.visitor == visitor,
                LiveViewer.session_id != session_id,
                LiveViewer.first_seen < now,
            )
        )
    )
    db.session.execute(
        _insert_ignoring(LiveViewer.__table__).values(
            session_id=session_id,
            visitor=visitor,
            customer_id=customer_id,
            visits=0,
            is_returning=bool(returning),
            first_seen=now,
            last_seen=now - VISIT_GAP - timedelta(seconds=1),
        )
    )
    # One conditional update per load: a visit counts when the last one is old enough (two
    # loads at once count once at most twice, never as two viewers).
    db.session.execute(
        update(LiveViewer)
        .where(
            LiveViewer.session_id == session_id,
            LiveViewer.visitor == visitor,
            LiveViewer.last_seen < now - VISIT_GAP,
        )
        .values(visits=LiveViewer.visits + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(LiveViewer)
        .where(LiveViewer.session_id == session_id, LiveViewer.visitor == visitor)
        .values(last_seen=now, customer_id=func.coalesce(LiveViewer.customer_id, customer_id))
        .execution_options(synchronize_session=False)
    )
    return db.session.scalar(
        select(LiveViewer).where(LiveViewer.session_id == session_id, LiveViewer.visitor == visitor)
    )


def viewer_stats(session_id: int) -> dict:
    """The room's numbers for a session report: visits, unique viewers, new and returning
    viewers, peak concurrent viewers, likes and comments."""
    visits, unique, returning = db.session.execute(
        select(
            func.coalesce(func.sum(LiveViewer.visits), 0),
            func.count(LiveViewer.id),
            func.count(LiveViewer.id).filter(LiveViewer.is_returning.is_(True)),
        ).where(LiveViewer.session_id == session_id)
    ).one()
    stats = db.session.get(LiveRoomStats, session_id)
    return {
        "visits": int(visits),
        "unique_viewers": int(unique),
        "new_viewers": int(unique) - int(returning),
        "returning_viewers": int(returning),
        "peak_viewers": stats.peak_viewers if stats else 0,
        "likes": stats.likes if stats else 0,
        "comments": stats.comments if stats else 0,
    }


def viewer_number(visitor: str) -> int:
    """What a viewer's comments appear under ("Viewer 1234"): a number from their visitor id,
    never a name they typed (nothing one customer types about themselves is shown to others).
    Events carry the number; each page words it in its viewer's language."""
    return int(hashlib.sha256(visitor.encode()).hexdigest()[:8], 16) % 10000


def alias(visitor: str) -> str:
    return _("Viewer %(number)s", number=viewer_number(visitor))


# -- comments ----------------------------------------------------------------------------------


class _Pace:
    """At most one comment per ``COMMENT_PACE`` seconds per viewer and session: a Redis key set
    only if absent (every process), or a dict in memory (one process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[tuple[int, str], float] = {}

    def take(self, session_id: int, visitor: str) -> bool:
        redis = getattr(current_app.extensions.get("siyu_live_broker"), "redis", None)
        if redis is not None:
            key = f"siyu:live:{session_id}:pace:{visitor}"
            return bool(redis.set(key, 1, nx=True, px=int(COMMENT_PACE * 1000)))
        now = time.monotonic()
        with self._lock:
            if len(self._last) > 10000:
                self._last = {k: t for k, t in self._last.items() if now - t < COMMENT_PACE}
            last = self._last.get((session_id, visitor))
            if last is not None and now - last < COMMENT_PACE:
                return False
            self._last[(session_id, visitor)] = now
            return True


def _pace() -> _Pace:
    return current_app.extensions.setdefault("siyu_live_pace", _Pace())


def banned_words() -> list[str]:
    return [w.lower() for w in db.session.scalars(select(BannedWord.word)) if w.strip()]


def post_comment(session, visitor: str | None, body: str) -> LiveComment:
    """A viewer's comment in a session's room. Refused (``CommentRefused``, nothing changed):
    no visitor id, the session not live, empty, over 200 characters, a banned word, a muted
    viewer, or sooner than 2 s after the viewer's last one. Does not commit; the comment is
    announced to the room after the commit."""
    from live.models import SessionStatus

    text = " ".join((body or "").split())
    if not visitor:
        raise CommentRefused(_("Please reload the page to comment."))
    if session.status not in (SessionStatus.LIVE, SessionStatus.PAUSED):
        raise CommentRefused(_("Comments are open while the session is live."))
    if not text:
        raise CommentRefused(_("Please write a comment."))
    if len(text) > COMMENT_MAX:
        raise CommentRefused(
            _("A comment is at most %(max)s characters.", max=COMMENT_MAX),
        )
    lowered = text.lower()
    if any(word in lowered for word in banned_words()):
        raise CommentRefused(_("This comment contains a word that is not allowed."))
    if is_muted(session.id, visitor):
        raise CommentRefused(_("The host has muted your comments in this session."))
    if not _pace().take(session.id, visitor):
        raise CommentTooFast(_("Please wait 2 seconds between comments."))
    comment = LiveComment(session_id=session.id, visitor=visitor, body=text)
    db.session.add(comment)
    db.session.flush()
    from live.presence import _stats_row

    _stats_row(session.id)
    db.session.execute(
        update(LiveRoomStats)
        .where(LiveRoomStats.session_id == session.id)
        .values(comments=LiveRoomStats.comments + 1)
    )
    announce(session.id, "comment", comment_event(comment))
    return comment


def comment_event(comment: LiveComment) -> dict:
    return {
        "id": comment.id,
        "number": viewer_number(comment.visitor),
        "author_key": mute_key(comment.visitor),
        "body": comment.body,
    }


def recent_comments(session_id: int, limit: int = 30) -> list[LiveComment]:
    rows = db.session.scalars(
        select(LiveComment)
        .where(LiveComment.session_id == session_id)
        .order_by(LiveComment.id.desc())
        .limit(limit)
    ).all()
    return list(reversed(rows))


def mute_key(visitor: str) -> str:
    """What the host console names a commenter by: a digest, so the page never shows another
    browser's visitor id (which would let anyone act as that browser)."""
    return hashlib.sha256(f"mute:{visitor}".encode()).hexdigest()[:16]


def is_muted(session_id: int, visitor: str) -> bool:
    return bool(
        db.session.scalar(
            select(exists().where(LiveMute.session_id == session_id, LiveMute.visitor == visitor))
        )
    )


def mute(session, key: str, staff_id: int | None = None) -> str:
    """The host mutes the commenter ``key`` (``mute_key``) names in this session; muting twice
    is one mute. Returns the commenter's alias. Does not commit."""
    from live.presence import _insert_ignoring

    candidates = db.session.scalars(
        select(LiveComment.visitor).where(LiveComment.session_id == session.id).distinct()
    ).all()
    visitor = next((v for v in candidates if mute_key(v) == key), None)
    if visitor is None:
        raise InvalidInput(_("No such commenter in this session."))
    db.session.execute(
        _insert_ignoring(LiveMute.__table__).values(
            session_id=session.id, visitor=visitor, muted_by_id=staff_id, created_at=utcnow()
        )
    )
    announce(session.id, "muted", {"author_key": key})
    return alias(visitor)


# -- what the room shows -----------------------------------------------------------------------


def units_left(item, at_live_price: bool | None = None, grace_minutes: int | None = None) -> int:
    """Units a shelf item can still sell: the product's own stock, and while its live price
    applies (``flash.live_price_state``, unless the caller knows) no more than the session's
    cap left. ``grace_minutes``: the live settings' (read when needed and not given)."""
    variants = [item.variant] if item.variant is not None else list(item.product.variants)
    stock = sum(max(v.stock, 0) for v in variants)
    if at_live_price is None:
        at_live_price = flash.live_price_state(item, grace_minutes=grace_minutes).applies
    left = item.units_left if at_live_price else None
    return stock if left is None else min(left, stock)


def pinned_item(session):
    from live.models import Pin

    pin = db.session.scalar(
        select(Pin).where(Pin.session_id == session.id, Pin.unpinned_at.is_(None))
    )
    return pin.shelf_item if pin else None


def _was(variant, own: int | None, at_live_price: bool) -> str:
    """The price struck beside what the buyer pays: the variant's own under a live price, its
    regular one under a limited-time price, else none ("")."""
    from shop.money import format_money

    if variant is None:
        return ""
    if at_live_price:
        return format_money(own)
    return format_money(variant.price) if own < variant.price else ""


def item_view(item, grace_minutes: int | None = None) -> dict:
    """What the room shows of a shelf item (the pin event carries the same): ``pays``, what its
    buy button charges for the variant it buys, and ``was``, the price it replaces, struck
    (``_was``). It sells at its own price (``at_live_price`` False) where the live price is
    over or beaten by it (``flash.live_price_state``); a live price still to come is shown.
    ``limit``: how many one customer may buy at the live price (None: no limit, or not sold
    at it). ``live_price`` and ``sold`` are the shelf's, for the host console.
    ``grace_minutes``: the live settings' (read here when not given)."""
    from live import services
    from shop.money import format_money

    if grace_minutes is None:
        grace_minutes = services.settings().reservation_minutes
    product = item.product
    variant = flash.variant_bought(item)
    at_live_price = flash.live_price_state(item, variant, utcnow(), grace_minutes).applies
    own = variant.current_price() if variant else None
    return {
        "item": item.id,
        "product": product.id,
        "name": f"{product.name} · {variant.name}"
        if item.variant and variant.name
        else product.name,
        "url": url_for("live.buy", session_id=item.session_id, item_id=item.id),
        "page": url_for("shop.product", slug=product.slug),
        "live_price": format_money(item.live_price),
        "pays": format_money(item.live_price if at_live_price else own),
        "was": _was(variant, own, at_live_price),
        "at_live_price": at_live_price,
        "units_left": units_left(item, at_live_price),
        "limit": item.per_customer_limit if at_live_price else None,
        "sold": item.sold or 0,
    }


def pin_event(session) -> dict:
    """The ``pin`` event: what is pinned now (None: nothing)."""
    item = pinned_item(session)
    return {"pinned": item_view(item) if item else None}


def status_event(session) -> dict:
    """The ``status`` event: the status alone; each page labels it in its viewer's language
    (an event goes to every viewer, whatever their language)."""
    return {"status": str(session.status)}


def status_labels() -> dict[str, str]:
    from live.models import SessionStatus

    return {member.value: str(member.label) for member in SessionStatus}


def like(session_id: int, taps: int) -> None:
    """A viewer's taps, counted with the second's others by the ticker (``live.presence``)."""
    from live.presence import presence

    if not 1 <= taps <= MAX_LIKE_TAPS:
        raise InvalidInput(_("That is not a number of likes."))
    app = current_app._get_current_object()
    presence(app).like(session_id, taps)
    presence(app).start(app)


# -- the stream player -------------------------------------------------------------------------


def embed_hosts() -> set[str]:
    from live.models import LiveSettings

    settings = db.session.scalar(select(LiveSettings).order_by(LiveSettings.id).limit(1))
    text = settings.embed_hosts if settings else ""
    return {h.strip().lower() for h in text.replace(",", "\n").splitlines() if h.strip()}


def player(session) -> dict:
    """How the room plays the session: ``hls`` (hls.js, or the browser's own HLS), ``video``
    (a file), ``embed`` (an iframe, only from a host staff allow), or ``none`` with a reason.
    After the end the replay plays, if there is one."""
    from live import services
    from live.models import SessionStatus, StreamKind

    kind, url = session.stream_kind, session.stream_url
    if session.status == SessionStatus.ENDED:
        if not session.replay_url:
            return {"kind": "none", "reason": _("This session has ended.")}
        url = session.replay_url
        kind = StreamKind.HLS if ".m3u8" in url.lower() else StreamKind.VIDEO
    parts = urlsplit(url or "")
    # A host as the browser reads it, whoever stored the address (the console, the admin, a
    # replay): the origin goes into the room's content policy.
    if parts.scheme not in ("http", "https") or services.plain_host(url) is None:
        return {"kind": "none", "reason": _("The stream has not been set up yet.")}
    if kind == StreamKind.EMBED and parts.hostname.lower() not in embed_hosts():
        return {"kind": "none", "reason": _("This player's site is not allowed.")}
    return {"kind": str(kind), "url": url, "origin": f"{parts.scheme}://{parts.netloc}"}


def content_policy(session) -> str:
    """The room's Content-Security-Policy: the shop's, plus the stream's origin for media and
    its playlist requests (hls.js), or as the one frame source of an allowed embed."""
    from shop.web.security import SHOP_POLICY

    shown = player(session)
    origin = shown.get("origin")
    media = f"media-src 'self' blob: {origin}" if origin else "media-src 'self' blob:"
    connect = f"connect-src 'self' {origin}" if origin else "connect-src 'self'"
    frame = f"frame-src {origin}" if shown["kind"] == "embed" else "frame-src 'none'"
    return f"{SHOP_POLICY}; {media}; {connect}; {frame}; worker-src 'self' blob:"

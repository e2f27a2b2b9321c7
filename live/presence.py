"""Who is watching a live room now, and the likes waiting to be counted: one ticker per process.

Presence: each open stream marks its browser (visitor id) as watching, again at every
heartbeat; a browser not seen for ``STALE`` seconds no longer counts. With Redis it is one
sorted set per session (member: visitor id, score: last seen), shared by every web process;
without Redis, a dict in memory. Two tabs of one browser, or a reload, are one viewer.

Likes are counted per second, not per tap: a tap adds to this process's pending count, and
once a second the ticker adds each session's pending likes to its counter in one UPDATE and
publishes the new total as one ``likes`` event. The same tick publishes a session's viewer
count when it changed and raises the session's peak (a conditional update, so processes that
race keep the highest).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

from flask import Flask
from sqlalchemy import select, update

from live.broker import broker
from shop.extensions import db

log = logging.getLogger(__name__)

EXTENSION = "siyu_live_presence"
STALE = 40.0  # seconds: more than two heartbeats missed
TICK = 1.0


class Presence:
    def __init__(self, redis=None, prefix: str = "siyu:live") -> None:
        self.redis = redis
        self.prefix = prefix
        self._lock = threading.Lock()
        self._seen: dict[int, dict[str, float]] = defaultdict(dict)
        self._likes: dict[int, int] = defaultdict(int)
        self._watched: dict[int, int] = defaultdict(int)  # session -> streams open here
        self._ticker: threading.Thread | None = None
        self._stopped = threading.Event()

    def _key(self, session_id: int) -> str:
        return f"{self.prefix}:{session_id}:viewers"

    # -- presence ---------------------------------------------------------------------------

    def seen(self, session_id: int, visitor: str) -> None:
        now = time.time()
        if self.redis is not None:
            pipe = self.redis.pipeline()
            pipe.zadd(self._key(session_id), {visitor: now})
            pipe.zremrangebyscore(self._key(session_id), "-inf", now - STALE)
            pipe.expire(self._key(session_id), 24 * 3600)
            pipe.execute()
        else:
            with self._lock:
                self._seen[session_id][visitor] = now

    def joined(self, session_id: int, visitor: str) -> None:
        with self._lock:
            self._watched[session_id] += 1
        self.seen(session_id, visitor)

    def left(self, session_id: int, visitor: str) -> None:
        """A stream closed. The browser stops counting (another tab of it counts again at its
        next heartbeat)."""
        with self._lock:
            # Kept at 0 until the next tick has published the drop.
            self._watched[session_id] = max(self._watched[session_id] - 1, 0)
        try:
            if self.redis is not None:
                self.redis.zrem(self._key(session_id), visitor)
            else:
                with self._lock:
                    self._seen[session_id].pop(visitor, None)
        except Exception:
            log.exception("live presence: could not note a viewer leaving")

    def count(self, session_id: int) -> int:
        now = time.time()
        if self.redis is not None:
            return int(self.redis.zcount(self._key(session_id), now - STALE, "+inf"))
        with self._lock:
            seen = self._seen.get(session_id, {})
            return sum(1 for t in seen.values() if t >= now - STALE)

    # -- likes --------------------------------------------------------------------------------

    def like(self, session_id: int, taps: int) -> None:
        with self._lock:
            self._likes[session_id] += taps

    # -- the ticker ---------------------------------------------------------------------------

    def start(self, app: Flask) -> None:
        if self._ticker is not None:
            return
        with self._lock:
            if self._ticker is None:
                self._ticker = threading.Thread(
                    target=self._run, args=(app,), name="siyu-live-ticker", daemon=True
                )
                self._ticker.start()

    def _run(self, app: Flask) -> None:
        while not self._stopped.wait(TICK):
            try:
                with app.app_context():
                    self.tick(app)
            except Exception:
                log.exception("live ticker failed; trying again next second")

    def tick(self, app: Flask) -> None:
        """Count the pending likes, publish changed viewer counts and raise peaks."""
        with self._lock:
            likes, self._likes = dict(self._likes), defaultdict(int)
            watched = list(self._watched)
            for session_id in [s for s, n in self._watched.items() if n <= 0]:
                del self._watched[session_id]
        b = broker(app)
        for session_id, taps in likes.items():
            if taps <= 0:
                continue
            total = add_likes(session_id, taps)
            if total is not None:
                b.publish(session_id, "likes", {"likes": total})
        for session_id in watched:
            viewers = self.count(session_id)
            if b.publish(session_id, "viewers", {"viewers": viewers}, state=True) is not None:
                raise_peak(session_id, viewers)

    def close(self) -> None:
        self._stopped.set()


def _stats_row(session_id: int) -> None:
    from live.room_models import LiveRoomStats

    if db.session.get(LiveRoomStats, session_id) is None:
        insert = _insert_ignoring(LiveRoomStats.__table__)
        db.session.execute(insert.values(session_id=session_id, peak_viewers=0, likes=0))


def _insert_ignoring(table):
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = {"postgresql": postgresql, "sqlite": sqlite}[db.session.get_bind().dialect.name]
    return dialect.insert(table).on_conflict_do_nothing()


def add_likes(session_id: int, taps: int) -> int | None:
    """Add a second's likes to the session's counter, in its own transaction (commits).
    Returns the new total, None if the session is gone."""
    from live.room_models import LiveRoomStats

    try:
        _stats_row(session_id)
        db.session.execute(
            update(LiveRoomStats)
            .where(LiveRoomStats.session_id == session_id)
            .values(likes=LiveRoomStats.likes + taps)
        )
        total = db.session.scalar(
            select(LiveRoomStats.likes).where(LiveRoomStats.session_id == session_id)
        )
        db.session.commit()
        return total
    except Exception:
        db.session.rollback()
        log.exception("live likes of session %s not counted", session_id)
        return None


def raise_peak(session_id: int, viewers: int) -> None:
    """The session's peak becomes ``viewers`` if higher (own transaction; commits)."""
    from live.room_models import LiveRoomStats

    try:
        _stats_row(session_id)
        db.session.execute(
            update(LiveRoomStats)
            .where(LiveRoomStats.session_id == session_id, LiveRoomStats.peak_viewers < viewers)
            .values(peak_viewers=viewers)
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("live peak of session %s not raised", session_id)


def init_app(app: Flask) -> None:
    b = broker(app)
    app.extensions[EXTENSION] = Presence(getattr(b, "redis", None))


def presence(app: Flask) -> Presence:
    return app.extensions[EXTENSION]

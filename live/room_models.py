"""The live room's tables: who watched (for the session reports), comments, mutes, the banned
words staff keep, and each session's room counters (peak concurrent viewers, likes).

A viewer is a browser (its visitor id cookie), not a page load: a reload is the same viewer
and, within ``VISIT_GAP``, the same visit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.infra.clock import utcnow

COMMENT_MAX = 200


class LiveViewer(db.Model):
    """One browser that opened one session's room: its visits and when it was last seen.

    ``is_returning``: the browser had watched an earlier session before this one."""

    __tablename__ = "live_viewers"
    __table_args__ = (UniqueConstraint("session_id", "visitor", name="one_per_visitor"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"), index=True)
    visitor: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    visits: Mapped[int] = mapped_column(Integer, default=1)
    is_returning: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LiveRoomStats(db.Model):
    """A session's room counters: the most viewers watching at once, likes, comments shown."""

    __tablename__ = "live_room_stats"
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"), primary_key=True)
    peak_viewers: Mapped[int] = mapped_column(Integer, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    comments: Mapped[int] = mapped_column(Integer, default=0)


class LiveComment(db.Model):
    """A viewer's comment, shown under a pseudonym made from the visitor id, never a name."""

    __tablename__ = "live_comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"), index=True)
    visitor: Mapped[str] = mapped_column(String(64), index=True)
    body: Mapped[str] = mapped_column(String(COMMENT_MAX))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LiveMute(db.Model):
    """A viewer the host muted in one session: their comments are refused."""

    __tablename__ = "live_mutes"
    __table_args__ = (UniqueConstraint("session_id", "visitor", name="one_mute_per_visitor"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"), index=True)
    visitor: Mapped[str] = mapped_column(String(64))
    muted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class BannedWord(db.Model):
    """A word or phrase a comment may not contain (compared case-insensitively); staff edit
    the list in the admin panel."""

    __tablename__ = "live_banned_words"
    id: Mapped[int] = mapped_column(primary_key=True)
    word: Mapped[str] = mapped_column(String(100), unique=True)

    def __str__(self) -> str:
        return self.word

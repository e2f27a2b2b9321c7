"""Invite links to a live session: a share link whose target is the session.

Every guide and promoter has one per session (``distribution``'s share links, so visits,
bindings and attribution are the distribution engine's). What a viewer's "share" button
passes on decides who is credited for the people they bring:

- a viewer who is an active guide or promoter passes on *their own* invite link, so
  A → B → C credits B for C when B is a promoter;
- any other viewer passes on the invite link they came through, so A's invite stays on the
  link and C is A's.
"""

from __future__ import annotations

from flask import current_app, url_for
from sqlalchemy import select

from distribution import access
from distribution.attribution_session import shared_link
from distribution.models import Channel, LinkTarget, ShareLink, Sharer, SharerStatus
from distribution.sharing import link_for
from live.models import LiveSession
from shop.extensions import db


def invite_link(sharer: Sharer, session: LiveSession) -> ShareLink:
    """The sharer's invite link to the session, made on first use (commits when it makes
    one, like every share link)."""
    return link_for(sharer, LinkTarget.LIVE, session.id, Channel.ANY)


def invite_url(link: ShareLink) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + f"/s/{link.code}"


def _came_through(visitor_session, session_id: int) -> ShareLink | None:
    code = shared_link(visitor_session)
    if not code:
        return None
    return db_link(code, session_id)


def db_link(code: str, session_id: int) -> ShareLink | None:
    return db.session.scalar(
        select(ShareLink).where(
            ShareLink.code == code,
            ShareLink.target_type == LinkTarget.LIVE,
            ShareLink.target_id == session_id,
        )
    )


def share_url_for_viewer(session: LiveSession, visitor_session) -> str:
    """What the room's share button gives this viewer (see the module's doc): their own
    invite link if they share for the shop, else the invite they came through, else the
    room's plain address."""
    sharer = access.signed_in_sharer()
    if sharer is not None and sharer.status == SharerStatus.ACTIVE:
        return invite_url(invite_link(sharer, session))
    link = _came_through(visitor_session, session.id)
    if link is not None:
        return invite_url(link)
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for(
        "live.enter", session_id=session.id
    )

"""Who is sharing in this request: a guide signed in with their staff login, or a promoter who
opened their personal link.

Guides sign in at /guide/login (``shop.staff.auth``: the same rate limit as the admin panel)
and are Flask-Login users like other staff. Promoters are customers, who have no password:
their personal link ``/guide/p/<token>`` puts their sharer id in the session beside a digest
of the token, so a new token (or the promoter leaving) ends every session opened with the old
one. Every request checks again that the sharer is still active: someone who left is out at
once, not at the end of a session.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, g, request, session
from flask_login import current_user
from sqlalchemy import select

from distribution.models import Sharer, SharerKind, SharerStatus
from shop.extensions import db
from shop.staff.models import Role

PROMOTER_KEY = "promoter"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def guide_for(staff) -> Sharer | None:
    """The active guide sharer of an active staff login of role guide, else None."""
    if staff is None or not staff.active or staff.role != Role.GUIDE:
        return None
    return db.session.scalar(
        select(Sharer).where(
            Sharer.staff_id == staff.id,
            Sharer.kind == SharerKind.GUIDE,
            Sharer.status == SharerStatus.ACTIVE,
        )
    )


def promoter_by_token(token: str) -> Sharer | None:
    """The promoter a personal link names (pending ones too: they see their status)."""
    if not token or len(token) > 64:
        return None
    sharer = db.session.scalar(select(Sharer).where(Sharer.token == token))
    if sharer is None or sharer.kind != SharerKind.PROMOTER or sharer.status == SharerStatus.LEFT:
        return None
    return sharer


def remember_promoter(sharer: Sharer) -> None:
    session[PROMOTER_KEY] = {"id": sharer.id, "key": _digest(sharer.token)}
    session.permanent = True


def _session_promoter() -> Sharer | None:
    saved = session.get(PROMOTER_KEY)
    if not isinstance(saved, dict) or not isinstance(saved.get("id"), int):
        return None
    sharer = db.session.get(Sharer, saved["id"])
    if (
        sharer is None
        or sharer.kind != SharerKind.PROMOTER
        or sharer.status == SharerStatus.LEFT
        or not sharer.token
        or not hmac.compare_digest(_digest(sharer.token), str(saved.get("key", "")))
    ):
        session.pop(PROMOTER_KEY, None)
        return None
    return sharer


def signed_in_sharer() -> Sharer | None:
    """The sharer of this request: a signed-in guide first, else a promoter's session.

    A pending promoter is returned too (they may see their workbench's status, nothing else);
    ``current_sharer`` is the one that may share."""
    if "signed_in_sharer" not in g:
        sharer = None
        if _staff_may_be_signed_in() and current_user.is_authenticated:
            sharer = guide_for(current_user._get_current_object())
        g.signed_in_sharer = sharer or _session_promoter()
    return g.signed_in_sharer


def _staff_may_be_signed_in() -> bool:
    """Whether this browser may carry a staff login (Flask-Login's session key or its remember
    cookie): anyone else (a visitor, a member) is answered without loading a user."""
    return "_user_id" in session or bool(
        request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token"))
    )


def current_sharer() -> Sharer | None:
    """The active sharer of this request, who may make links and earns for them."""
    sharer = signed_in_sharer()
    return sharer if sharer is not None and sharer.status == SharerStatus.ACTIVE else None


def forget_promoter() -> None:
    session.pop(PROMOTER_KEY, None)
    g.pop("signed_in_sharer", None)

"""The live session a visitor is watching (or was invited to), carried in their session.

Entering a session's room (``live.enter``, where its invite links lead, or the room itself)
remembers it here; checkout captures it into the order's ``live_session_id`` through the
reader live registers on the app (``shop.hooks.carried_attribution``). The session key and
the shape of its value live in this module alone.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

_KEY = "live"


def remember_session(session: MutableMapping, live_session_id: int) -> None:
    """The visitor is in this live session: their next order belongs to it."""
    if session.get(_KEY) != {"id": live_session_id}:
        session[_KEY] = {"id": live_session_id}


def watched_session(session: Mapping) -> int | None:
    value = (session.get(_KEY) or {}).get("id")
    return value if isinstance(value, int) else None


def carried_attribution(session: Mapping) -> dict:
    """What an order placed in this browser captures: ``{"live_session_id": ...}`` or nothing."""
    value = watched_session(session)
    return {"live_session_id": value} if value is not None else {}

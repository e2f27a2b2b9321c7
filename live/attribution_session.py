"""The live session a visitor is watching (or was invited to), carried in their session.

Entering a session's room (``live.enter``, where its invite links lead, or the room itself)
remembers it here; checkout captures it into the order's ``live_session_id`` through the
reader live registers on the app (``shop.hooks.carried_attribution``). It is carried for a day
after the visitor last entered (``CARRIED_FOR``): an order placed later is no longer the
session's. The session key and the shape of its value live in this module alone.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, MutableMapping

_KEY = "live"
CARRIED_FOR = 24 * 3600  # seconds


def _now() -> float:
    return time.time()


def remember_session(session: MutableMapping, live_session_id: int) -> None:
    """The visitor is in this live session: their orders of the next day belong to it."""
    session[_KEY] = {"id": live_session_id, "at": int(_now())}


def watched_session(session: Mapping) -> int | None:
    saved = session.get(_KEY)
    if not isinstance(saved, dict):
        return None
    value, at = saved.get("id"), saved.get("at")
    if not isinstance(value, int) or not isinstance(at, int):
        return None
    return value if _now() - at <= CARRIED_FOR else None


def carried_attribution(session: Mapping) -> dict:
    """What an order placed in this browser captures: ``{"live_session_id": ...}`` or nothing."""
    value = watched_session(session)
    return {"live_session_id": value} if value is not None else {}

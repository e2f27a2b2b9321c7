"""The share link a visitor came through, carried in their session until they buy.

Opening a share link (``distribution.views``) remembers its code here; checkout captures it
into the order's plain attribution values, and a coupon claimed meanwhile records it. The
shop reads it through the reader distribution registers on the app
(``shop.hooks.carried_attribution``), so the core never imports distribution. The session
key and the shape of its value live in this module alone.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

_KEY = "attribution"


def remember_share(session: MutableMapping, code: str) -> None:
    """The visitor opened the share link ``code``: it is the one their next order credits."""
    session[_KEY] = {"share_code": code}


def shared_link(session: Mapping) -> str | None:
    """The code of the share link the visitor came through last, if any."""
    code = (session.get(_KEY) or {}).get("share_code")
    return code if isinstance(code, str) else None


def carried_attribution(session: Mapping) -> dict:
    """What an order placed in this session captures: ``{"share_code": ...}`` or nothing."""
    code = shared_link(session)
    return {"share_code": code} if code else {}

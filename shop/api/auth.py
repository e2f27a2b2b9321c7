"""Who calls the API: the key in ``Authorization: Bearer <key>``, its scopes, its stores, and
its rate limit.

The rate limit is per key: ``burst`` requests, refilled at ``rate_per_second`` (40 and 2 by
default, settable per key), counted in a moving window of ``burst / rate`` seconds by the
``limits`` library (the engine of Flask-Limiter), in Redis when ``REDIS_URL`` is set so every
process shares one count. Over it: ``429`` with ``Retry-After``. Redis unreachable: the limit
is not enforced for that request (an outage must not stop integrations).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from datetime import timedelta

from flask import current_app, g, request
from flask_babel import gettext as _
from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import update

from shop.api import keys
from shop.api.errors import ApiError
from shop.api.models import ApiKey
from shop.extensions import db
from shop.infra.clock import utcnow

log = logging.getLogger(__name__)

LAST_USED_EVERY = timedelta(minutes=1)


def current_key() -> ApiKey:
    return g.api_key


def authenticate_request() -> None:
    """Blueprint ``before_request``: a valid key, within its rate limit, or an error."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, presented = header.partition(" ")
    key = keys.authenticate(presented.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        raise ApiError(
            401,
            "unauthenticated",
            _("Send a valid API key as 'Authorization: Bearer <key>'."),
            headers={"WWW-Authenticate": "Bearer"},
        )
    g.api_key = key
    _rate_limit(key)
    _touch(key)


def _touch(key: ApiKey) -> None:
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_EVERY:
        db.session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def _limiter() -> MovingWindowRateLimiter:
    ext = current_app.extensions
    if "siyu_api_limiter" not in ext:
        uri = current_app.config.get("API_RATELIMIT_STORAGE") or (
            current_app.config.get("REDIS_URL") or "memory://"
        )
        ext["siyu_api_limiter"] = MovingWindowRateLimiter(storage_from_string(uri))
    return ext["siyu_api_limiter"]


def _rate_limit(key: ApiKey) -> None:
    burst = max(1, key.burst)
    window = max(1, math.ceil(burst / max(1, key.rate_per_second)))
    item = RateLimitItemPerSecond(burst, window, namespace="SIYU_API")
    limiter = _limiter()
    try:
        if limiter.hit(item, str(key.id)):
            return
        reset_at, _remaining = limiter.get_window_stats(item, str(key.id))
    except Exception:
        log.warning("API rate limit not checked (storage unreachable)", exc_info=True)
        return
    retry_after = max(1, math.ceil(reset_at - time.time()))
    raise ApiError(
        429,
        "rate_limited",
        _("Too many requests: slow down and retry after a moment."),
        headers={"Retry-After": str(retry_after)},
    )


def requires(scope: str):
    """A view only a key with ``scope`` (or one that implies it) may call: 403 otherwise."""

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            if not current_key().allows(scope):
                raise ApiError(
                    403,
                    "missing_scope",
                    _("This key lacks the scope %(scope)s.", scope=scope),
                )
            return view(*args, **kwargs)

        guarded.required_scope = scope
        return guarded

    return decorate


def store_ids() -> list[int] | None:
    """The stores the key is pinned to; None when it sees every store."""
    key = current_key()
    return list(key.store_ids) if key.store_ids else None


def actor():
    return keys.actor(current_key())

"""Who calls the API: the key in ``Authorization: Bearer <key>``, its scopes, its stores, and
its rate limit.

The rate limit is per key and stands for a token bucket of ``burst`` requests refilled at
``rate_per_second`` (40 and 2 by default, settable per key). The ``limits`` library (the
engine of Flask-Limiter) has no token bucket (as of 5.8, its latest release: fixed, moving
and sliding windows; a token-bucket strategy is an open pull request, alisaifee/limits#364),
so the bucket is approximated by its arrival curve: a bucket lets through at most
``burst + rate * T`` requests in any ``T`` seconds, and ``windows`` makes one moving window of
that many for 1, 10 and 60 times the bucket's fill time (``burst / rate``), plus ``burst`` per
second for the burst itself: with the defaults 40 per 1 s, 80 per 20 s, 440 per 200 s and
2,440 per 1,200 s. What that gives, exactly:

- at most 40 at once, and what a bucket would let through is let through, but for the second
  after a full burst (a bucket would take a 41st request half a second after 40, the 1-s
  window a second after): a client may send 40 at once, then 2 a second for ever;
- over each of those windows no client gets more than the bucket would; over lengths in
  between, a client that runs ahead may get up to the next window's amount (the 20-s window
  lets 80 through in two seconds), and over long periods at most 2,440 per 20 minutes
  (2.03 a second);
- a client that runs ahead is stopped until its oldest request in the window that refused it
  leaves that window: ``Retry-After`` says when (up to about 100 s for one that sent 4 a
  second for a minute and a half, where a bucket would have stopped it sooner and for less).

The 1-s window and the fill-time one are moving windows (exact; at most twice ``burst``
timestamps a key); the two long ones are sliding-window counters (two counts a window,
the previous one weighted by how much of it is still inside, as ``limits`` documents: a
close approximation that never lets more than their amount through per window of the
clock), so a key with a high rate costs a few numbers, not a timestamp per request.

A request is first tested against every window and only counted if all let it through, so a
refused request counts for nothing. The counts are in Redis when ``REDIS_URL`` is set, so
every process shares them. Redis unreachable: the limit is not enforced for that request (an
outage must not stop integrations).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from datetime import timedelta

from flask import current_app, g, request
from flask_babel import gettext as _
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter, RateLimiter, SlidingWindowCounterRateLimiter
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


def _limiters() -> tuple[RateLimiter, RateLimiter]:
    """The app's moving-window and sliding-window-counter limiters, on one storage."""
    ext = current_app.extensions
    if "siyu_api_limiter" not in ext:
        uri = current_app.config.get("API_RATELIMIT_STORAGE") or (
            current_app.config.get("REDIS_URL") or "memory://"
        )
        storage = storage_from_string(uri)
        ext["siyu_api_limiter"] = (
            MovingWindowRateLimiter(storage),
            SlidingWindowCounterRateLimiter(storage),
        )
    return ext["siyu_api_limiter"]


#: the window lengths, as multiples of the bucket's fill time (besides one second)
FILL_MULTIPLES = (1, 10, 60)


def windows(burst: int, rate: int) -> list[RateLimitItem]:
    """The windows standing for a bucket of ``burst`` refilled at ``rate`` a second: ``burst``
    per second, and ``burst + rate * T`` per ``T`` seconds for multiples of the fill time
    (see the module's doc). Shortest first."""
    burst, rate = max(1, burst), max(1, rate)
    fill = math.ceil(burst / rate)
    items = [RateLimitItemPerSecond(max(burst, rate), 1, namespace="SIYU_API")]
    for seconds in sorted({fill * k for k in FILL_MULTIPLES} - {1}):
        items.append(RateLimitItemPerSecond(burst + rate * seconds, seconds, namespace="SIYU_API"))
    return items


def _rate_limit(key: ApiKey) -> None:
    moving, sliding = _limiters()
    # the 1-s window and the fill-time one counted exactly; the long ones as counters
    checks = [
        (moving if n < 2 else sliding, item)
        for n, item in enumerate(windows(key.burst, key.rate_per_second))
    ]
    who = str(key.id)
    try:
        refused = [(lim, item) for lim, item in checks if not lim.test(item, who)]
        if refused:
            reset_at = max(lim.get_window_stats(item, who).reset_time for lim, item in refused)
        elif all(lim.hit(item, who) for lim, item in checks):
            return
        else:  # a concurrent request took the last place between the test and the count
            reset_at = time.time() + 1
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

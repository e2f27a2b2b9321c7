"""A short-lived, per-process cache of whole pages for visitors with an empty session.

Most people who open a shared product link carry no session (no basket, no sign-in, no
message to flash): every one of them sees the same page. Keeping that page for a couple of
seconds turns a burst of shared-link traffic into one render per page and process. What could
be stale is the "stock left" line and the recent-buyers line, for at most the TTL; prices and
stock are decided again at checkout, on the server, so nothing can be bought on stale data.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from flask import current_app, request, session
from flask_babel import get_locale


class PageCache:
    def __init__(self, ttl: float, size: int = 512) -> None:
        self.ttl = ttl
        self.size = size
        self._pages: OrderedDict[tuple, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> str | None:
        with self._lock:
            hit = self._pages.get(key)
            if hit is None or hit[0] < time.monotonic():
                return None
            return hit[1]

    def put(self, key: tuple, body: str) -> None:
        with self._lock:
            self._pages[key] = (time.monotonic() + self.ttl, body)
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)


def _cache() -> PageCache | None:
    ttl = current_app.config.get("PAGE_CACHE_SECONDS", 0)
    if ttl <= 0:
        return None
    ext = current_app.extensions
    if "page_cache" not in ext:
        ext["page_cache"] = PageCache(ttl)
    return ext["page_cache"]


def cache_key() -> tuple | None:
    """The key of this request's page, or None when it must be rendered for this visitor."""
    if session or _cache() is None:
        return None
    return (request.full_path, str(get_locale()))


def cached(key: tuple | None) -> str | None:
    return _cache().get(key) if key else None


def store(key: tuple | None, body: str) -> str:
    if key:
        _cache().put(key, body)
    return body

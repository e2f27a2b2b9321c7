"""Pages shared by every visitor, with each visitor's own parts left open.

A product page is the same for everyone who opens it in one language and price state (prices,
the limited-time price and its countdown, a live session's live prices for its viewers, stock
left, reviews, the "just bought" line) but for a few small parts: the basket count, the
messages flashed to this visitor, a signed-in guide's share box and share button.
``shared_page`` renders such a page once for everyone, each personal part left as a hole
(``{{ personal("cart_badge") }}`` in a template), and keeps it; every request, a share-link
visitor's, a member's or a guide's as well as a cookieless one's, fills the holes with its own
parts. The parts are functions registered by name (``shop.hooks.register_personal_part``);
they cost no statement for a visitor or a member, and a guide's own links for a guide.

Where pages are kept: in Redis when ``REDIS_URL`` is set, so one render serves every process;
else in the process. For how long: ``PAGE_CACHE_SECONDS`` (1 by default; 0 renders every page
in full, holes filled at once), and never past the moment the page says its prices change next
(a limited-time or live price starting or ending: the ``valid_until`` its renderer returns). In
the last ``REFRESH_AHEAD`` of that, one request per process renews it while the others serve
the kept one, so a busy page is not rendered by every request that finds it expired at the
same moment (under load: the page runs' 99th percentile went from 40-57 ms to 16-21 ms,
bench/README.md); with Redis it takes the page that follows from Redis when another process
rendered it already, so about one render serves every process.

A catalog change made through the ORM (a price, a stock adjustment, a product, image,
category, review, store or coupon, or a row of a model a package registered: live's shelf
items) retires every kept page when it commits: each page is kept with the catalog generation
it was rendered at, and the commit bumps the generation (with Redis: in this process at once,
in the others within ``GENERATION_READ_EVERY``, 0.1 s; without Redis in this process, the
others within the TTL). Stock sold at checkout (a conditional UPDATE) and a live session going
on or off air show within the TTL. Nothing is ever sold from a kept page: checkout reads
prices and stock from the database.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app, g, has_app_context, request
from flask_babel import get_locale
from markupsafe import Markup
from sqlalchemy import event
from sqlalchemy.orm import Session

from shop.hooks import hooks
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import after_commit

log = logging.getLogger(__name__)

#: what a hole is written as while a page renders for everyone (never in a page sent)
_MARK = f"<!--siyu-part-{secrets.token_hex(8)}-->"
_HOLES = "siyu_page_holes"
_CHANGED = "siyu_catalog_changed"
REDIS_PREFIX = "siyu:page:"
GENERATION_KEY = "siyu:page-generation"
#: how long before a kept page expires one request per process renders its successor, while
#: the others go on serving it (else every request that found it expired rendered it at once)
REFRESH_AHEAD = 0.2
#: how long a process trusts the catalog generation it read from Redis (other processes'
#: changes show within this; a page read from Redis on every view cost ~0.5 ms under load)
GENERATION_READ_EVERY = 0.1


class Page(NamedTuple):
    """A page rendered for everyone: the text around its holes, and each hole's part."""

    generation: int
    valid_until: float  # a POSIX time on the shop's clock
    texts: list[str]
    parts: list[tuple[str, dict]]

    def fill(self) -> str:
        """The page for this request: each hole filled with its part."""
        out = [self.texts[0]]
        for (name, args), text in zip(self.parts, self.texts[1:], strict=True):
            out.append(str(render_part(name, args)))
            out.append(text)
        return "".join(out)


def render_part(name: str, args: dict) -> Markup:
    """This visitor's part ``name`` (nothing when no package registered one)."""
    part = hooks().personal_parts.get(name)
    return Markup(part(**args)) if part is not None else Markup("")


def personal(name: str, **args) -> Markup:
    """In a template: the visitor's own part ``name``, or its hole while the page renders for
    everyone. ``args`` must be plain values (they are kept with the page, maybe in Redis)."""
    holes = g.get(_HOLES)
    if holes is None:
        return render_part(name, args)
    holes.append((name, args))
    return Markup(_MARK)


class ProcessPages:
    """Pages kept in this process: a bounded map, and the generation of its catalog."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self.generation = 0
        self._pages: OrderedDict[str, Page] = OrderedDict()
        self._lock = threading.Lock()
        self._renewing: set[str] = set()

    def renew(self, key: str) -> bool:
        """Whether this request is the one to render ``key``'s successor (then ``renewed``)."""
        with self._lock:
            if key in self._renewing:
                return False
            self._renewing.add(key)
            return True

    def renewed(self, key: str) -> None:
        with self._lock:
            self._renewing.discard(key)

    def successor(self, key: str, page: Page) -> Page | None:
        """A page that follows ``page``, rendered elsewhere (none: this process is alone)."""
        return None

    def get(self, key: str, now: float) -> tuple[Page | None, int]:
        """The page kept under ``key`` if still of the current generation, and that."""
        with self._lock:
            page, generation = self._pages.get(key), self.generation
        return (page if page is not None and page.generation == generation else None), generation

    def kept(self, key: str) -> Page | None:
        """The page kept under ``key``, whatever its generation."""
        with self._lock:
            return self._pages.get(key)

    def put(self, key: str, page: Page, ttl: float) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)

    def bump(self) -> None:
        with self._lock:
            self.generation += 1
            self._pages.clear()


class RedisPages:
    """Pages kept in Redis for every process, and a copy of each in the process that last
    read or rendered it. A view serves this process's copy while it is unexpired and of the
    catalog's current generation, which the process reads from Redis at most every
    ``GENERATION_READ_EVERY`` seconds (a change committed in this process counts at once);
    else it reads the page from Redis (rendered by whichever process came first). A page
    expires in Redis when it would be retired anyway."""

    def __init__(self, url: str) -> None:
        from redis import Redis

        self.redis = Redis.from_url(url)
        self.copies = ProcessPages()
        self._generation = (0, float("-inf"))  # (generation, when it was read)

    def generation(self, now: float) -> int:
        generation, read_at = self._generation
        if not 0 <= now - read_at < GENERATION_READ_EVERY:
            generation = int(self.redis.get(GENERATION_KEY) or 0)
            self._generation = (generation, now)
        return generation

    def get(self, key: str, now: float) -> tuple[Page | None, int]:
        generation = self.generation(now)
        copy = self.copies.kept(key)
        if copy is not None and copy.generation == generation and now < copy.valid_until:
            return copy, generation
        return self._read(key, generation), generation

    def put(self, key: str, page: Page, ttl: float) -> None:
        self.redis.set(REDIS_PREFIX + key, json.dumps(page), px=max(1, int(ttl * 1000)))
        self.copies.put(key, page, ttl)

    def bump(self) -> None:
        self._generation = (int(self.redis.incr(GENERATION_KEY)), float("-inf"))

    def renew(self, key: str) -> bool:
        return self.copies.renew(key)

    def renewed(self, key: str) -> None:
        self.copies.renewed(key)

    def successor(self, key: str, page: Page) -> Page | None:
        """The page another process put in Redis to follow ``page`` (kept longer, of the same
        generation), now this process's copy; None when there is none yet."""
        return self._read(key, page.generation, kept_past=page.valid_until)

    def _read(self, key: str, generation: int, kept_past: float = float("-inf")) -> Page | None:
        """The page in Redis under ``key`` if of ``generation`` and kept past ``kept_past``,
        now this process's copy."""
        raw = self.redis.get(REDIS_PREFIX + key)
        page = None if raw is None else Page(*json.loads(raw))
        if page is None or page.generation != generation or page.valid_until <= kept_past:
            return None
        self.copies.put(key, page, 0)
        return page


def _pages(app=None):
    app = app or current_app
    ext = app.extensions
    if "siyu_pages" not in ext:
        url = app.config.get("REDIS_URL")
        ext["siyu_pages"] = RedisPages(url) if url else ProcessPages()
    return ext["siyu_pages"]


def shared_page(key: str, render: Callable[[], tuple[str, datetime | None]]) -> str:
    """The page ``key`` (with the request's path and language) for this visitor.

    ``render()`` returns the page rendered for everyone and when its prices change next
    (None: not by time alone). Called again once the kept page is retired; what it raises
    (a 404) goes on, and nothing is kept.
    """
    ttl = current_app.config.get("PAGE_CACHE_SECONDS", 0)
    if ttl <= 0:
        return render()[0]
    pages = _pages()
    key = f"{key}|{request.full_path}|{get_locale()}"
    now = utcnow()
    try:
        page, generation = pages.get(key, now.timestamp())
    except Exception:  # Redis away: the page is rendered in full, as without a cache
        log.warning("page cache unavailable", exc_info=True)
        return render()[0]
    if page is not None and now.timestamp() < page.valid_until:
        if now.timestamp() < page.valid_until - REFRESH_AHEAD or not pages.renew(key):
            return page.fill()
        try:  # this request renews the page (the others serve this one): with Redis, with
            # the one another process rendered already, if any; else it renders it
            successor = _successor(pages, key, page)
            if successor is not None:
                return successor.fill()
            return _render_and_keep(pages, key, generation, render, now, ttl)
        finally:
            pages.renewed(key)
    return _render_and_keep(pages, key, generation, render, now, ttl)


def _successor(pages, key: str, page: Page) -> Page | None:
    try:
        return pages.successor(key, page)
    except Exception:  # Redis away: this process renders the page that follows
        log.warning("page cache unavailable", exc_info=True)
        return None


def _render_and_keep(pages, key: str, generation: int, render, now: datetime, ttl: float) -> str:
    g.setdefault(_HOLES, [])
    try:
        body, changes_at = render()
        parts = g.get(_HOLES)
    finally:
        g.pop(_HOLES, None)
    valid_until = now + timedelta(seconds=ttl)
    if changes_at is not None:
        valid_until = min(valid_until, changes_at)
    page = Page(generation, valid_until.timestamp(), body.split(_MARK), parts)
    seconds = (valid_until - now).total_seconds()
    if seconds > 0:
        try:
            pages.put(key, page, seconds)
        except Exception:
            log.warning("page cache unavailable", exc_info=True)
    return page.fill()


def retire_pages(app) -> None:
    """Retire every kept page (the catalog changed)."""
    try:
        _pages(app).bump()
    except Exception:
        log.warning("page cache unavailable: kept pages live out their TTL", exc_info=True)


def _catalog_types() -> tuple[type, ...]:
    from shop.catalog.models import Category, Product, ProductImage, Review, Store, Variant
    from shop.members.models import CouponTemplate

    core = (Product, Variant, ProductImage, Category, Review, Store, CouponTemplate)
    return (*core, *hooks().page_models)


@event.listens_for(Session, "after_flush")
def _note_catalog_change(session: Session, _context) -> None:
    """A flush that writes catalog rows retires the kept pages once its transaction commits."""
    if session.info.get(_CHANGED) or not has_app_context():
        return
    types = _catalog_types()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, types):
            session.info[_CHANGED] = True
            after_commit(retire_pages, current_app._get_current_object())
            return


@event.listens_for(Session, "after_transaction_end")
def _forget_catalog_change(session: Session, transaction) -> None:
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_CHANGED, None)


def init_app(app) -> None:
    app.jinja_env.globals["personal"] = personal

"""Share links: ``/s/<code>`` records the visit, applies the binding, and redirects in-shop;
``/s/<code>/qr.png``, ``qr.svg`` and ``poster.png`` are its pictures.

The pictures need no sign-in: whoever holds a code may already open the link, and a QR code
or poster says nothing more than the link does. They are cached publicly (a code never
changes its URL; a poster is re-drawn when the product's price may have changed).
"""

from __future__ import annotations

import functools
import time

import psycopg
from flask import Blueprint, abort, make_response, redirect, request, session, url_for
from markupsafe import escape
from werkzeug.http import dump_cookie

from distribution.attribution_session import remember_share
from distribution.qr import link_url, poster_png, qr_png, qr_svg
from distribution.sharing import find_link, open_code, open_code_for_new_visitor
from shop.customers import identity as customers
from shop.infra.queue import start_inline_scheduler

bp = Blueprint("distribution", __name__)

QR_MAX_AGE = 24 * 3600
POSTER_MAX_AGE = 10 * 60


@bp.get("/s/<path:code>")
def open_share_link(code: str):
    """Unknown or malformed codes land on the home page: never an error, never another host."""
    visitor = customers.visitor_id()
    new_visitor = visitor is None
    if new_visitor:
        visitor = customers.new_visitor_id()
    path = open_code(code, visitor, session.get("customer_id"), new_visitor)
    if path is not None:
        remember_share(session, code)
    response = redirect(path or url_for("shop.home"))
    if new_visitor:
        customers.set_visitor_cookie(response, visitor)
    return response


class NewVisitorOpenings:
    """WSGI middleware: ``GET /s/<code>`` from a browser that sends no cookie at all, answered
    without Flask's request pipeline (PostgreSQL only; installed by the blueprint).

    Such a browser is a new visitor with an empty session and no signed-in customer, so none
    of the pipeline's work (session loading, routing, hooks, the response object, teardown)
    changes the answer (what it costs: bench/README.md). The answer is
    ``open_share_link``'s, made by the same parts: the opening recorded by
    ``sharing.open_code_for_new_visitor`` (what ``open_code`` runs for a new visitor), the
    session cookie by the app's session interface, the visitor cookie by ``customers``, a 302
    to the same path. Anything else (another method or path, any cookie, a malformed or
    unknown code) goes to the app, and so does a database error: the app looks again and
    answers, or shows its error page. An unknown code records nothing; a failed statement
    committed nothing (but for a connection lost just after the commit: that opening is then
    recorded twice, under two visitor ids). tests/test_distribution/test_share_open_fast.py
    compares the two answers.
    """

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self._built = functools.lru_cache(maxsize=4096)(self._build)
        self._session_cookies: tuple[int, dict[str, _Cookies]] = (0, {})

    def _build(self, script_name: str, endpoint: str, values: tuple) -> str:
        """A path as ``url_for`` makes it (the rules never change, so it is kept)."""
        urls = self.app.url_map.bind("localhost", script_name=script_name or "/")
        return urls.build(endpoint, dict(values))

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if (
            not path.startswith("/s/")
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("HTTP_COOKIE")
        ):
            return self.wsgi_app(environ, start_response)
        answer = self._open(environ, path[3:])
        if answer is None:
            return self.wsgi_app(environ, start_response)
        headers, body = answer
        start_response("302 FOUND", headers)
        return [body]

    def _open(self, environ, code: str) -> tuple[list, bytes] | None:
        app = self.app
        with app.app_context():
            start_inline_scheduler(app)
            script_name = environ.get("SCRIPT_NAME", "")
            visitor = customers.new_visitor_id()
            try:
                path = open_code_for_new_visitor(
                    code,
                    visitor,
                    lambda endpoint, values: self._built(
                        script_name, endpoint, tuple(sorted(values.items()))
                    ),
                )
            except psycopg.Error:
                app.logger.warning("share link %r: opening left to the app", code, exc_info=True)
                return None
            if path is None:
                return None
            session_cookie = self._session_cookie(code)
            visitor_cookie = _Cookies(app.config["MAX_COOKIE_SIZE"])
            customers.set_visitor_cookie(visitor_cookie, visitor)
        body = _REDIRECT_BODY.format(location=escape(path)).encode()
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Location", path),  # built by the URL map: already quoted
            *(("Set-Cookie", cookie) for cookie in session_cookie.headers),
            *(("Set-Cookie", cookie) for cookie in visitor_cookie.headers),
            ("Vary", ", ".join(sorted(session_cookie.vary | visitor_cookie.vary))),
        ]
        return headers, body

    def _session_cookie(self, code: str) -> _Cookies:
        """The session cookie of a new visitor who opened ``code``, as the app's session
        interface writes it. Its signature covers the payload and the second it was made, so
        it is the same for every such opening in that second: it is kept until the second
        ends (a link posted to a big group is opened many times a second)."""
        second = int(time.time())
        kept_second, kept = self._session_cookies
        if kept_second != second:
            kept = {}
            self._session_cookies = (second, kept)
        cookies = kept.get(code)
        if cookies is None:
            app = self.app
            new_session = app.session_interface.session_class()
            remember_share(new_session, code)
            cookies = _Cookies(app.config["MAX_COOKIE_SIZE"])
            app.session_interface.save_session(app, new_session, cookies)
            kept[code] = cookies
        return cookies


_REDIRECT_BODY = '<!doctype html>\n<html lang=en>\n<a href="{location}">{location}</a>\n'


class _Cookies:
    """Stands for the response in ``SessionInterface.save_session`` and
    ``customers.set_visitor_cookie``: keeps the Set-Cookie headers and Vary values they set,
    formatted as a werkzeug response would."""

    def __init__(self, max_size: int):
        self.max_size = max_size
        self.headers: list[str] = []
        self.vary: set[str] = set()

    def set_cookie(self, key: str, value: str = "", **options) -> None:
        self.headers.append(dump_cookie(key, value, max_size=self.max_size, **options))


@bp.record_once
def _answer_new_visitors_first(state) -> None:
    app = state.app
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        app.wsgi_app = NewVisitorOpenings(app, app.wsgi_app)


def _picture(body: bytes, mimetype: str, max_age: int):
    response = make_response(body)
    response.mimetype = mimetype
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.add_etag()
    return response.make_conditional(request)


def _link_or_404(code: str):
    link = find_link(code)
    if link is None:
        abort(404)
    return link


@bp.get("/s/<code>/qr.png")
def qr_png_view(code: str):
    link = _link_or_404(code)
    return _picture(qr_png(link_url(link)), "image/png", QR_MAX_AGE)


@bp.get("/s/<code>/qr.svg")
def qr_svg_view(code: str):
    link = _link_or_404(code)
    response = _picture(qr_svg(link_url(link)), "image/svg+xml", QR_MAX_AGE)
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@bp.get("/s/<code>/poster.png")
def poster_view(code: str):
    """In the reader's language (chosen by the ``lang`` cookie or Accept-Language)."""
    link = _link_or_404(code)
    response = _picture(poster_png(link), "image/png", POSTER_MAX_AGE)
    response.vary.update(("Accept-Language", "Cookie"))
    return response

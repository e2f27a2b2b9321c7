"""Share links: ``/s/<code>`` records the visit, applies the binding, and redirects in-shop;
``/s/<code>/qr.png``, ``qr.svg`` and ``poster.png`` are its pictures.

The pictures need no sign-in: whoever holds a code may already open the link, and a QR code
or poster says nothing more than the link does. They are cached publicly (a code never
changes its URL; a poster is re-drawn when the product's price may have changed).
"""

from __future__ import annotations

from flask import Blueprint, abort, make_response, redirect, request, session, url_for

from distribution.attribution_session import remember_share
from distribution.qr import link_url, poster_png, qr_png, qr_svg
from distribution.sharing import find_link, open_code
from shop.customers import identity as customers
from shop.infra.unit_of_work import unit_of_work

bp = Blueprint("distribution", __name__)

QR_MAX_AGE = 24 * 3600
POSTER_MAX_AGE = 10 * 60


@bp.get("/s/<path:code>")
def open_share_link(code: str):
    """Record the visit and the binding (one unit of work), remember the link in the session
    for the order that may follow, and redirect. Unknown or malformed codes land on the home
    page: never an error, never another host. What an opening costs: bench/README.md."""
    visitor = customers.visitor_id()
    new_visitor = visitor is None
    if new_visitor:
        visitor = customers.new_visitor_id()
    with unit_of_work():
        path = open_code(code, visitor, session.get("customer_id"), new_visitor)
    if path is not None:
        remember_share(session, code)
    response = redirect(path or url_for("shop.home"))
    if new_visitor:
        customers.set_visitor_cookie(response, visitor)
    return response


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

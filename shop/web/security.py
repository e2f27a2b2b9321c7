"""Security headers on every response.

- ``Content-Security-Policy``: pages load scripts, styles, images and connections from the
  shop itself (images also as data: and blob: URLs, for QR codes and previews); nothing from
  elsewhere. The staff panel and the guide workbench cannot be framed by any page (their
  buttons move money), the storefront only by the shop's own pages.
- ``X-Content-Type-Options: nosniff``: a file is only what its type says.
- ``Referrer-Policy: strict-origin-when-cross-origin``: another site never sees a path (an
  order page's link holds its secret token).
- Order pages (``/o/<token>``, ``/orders``) carry ``X-Robots-Tag: noindex``: a leaked link is
  never indexed.

A response that set a header itself keeps it.
"""

from __future__ import annotations

from flask import Flask, request

_SOURCES = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'"
)
STAFF_PREFIXES = ("/admin", "/guide")
PRIVATE_PREFIXES = ("/o/", "/orders")


STAFF_POLICY = f"{_SOURCES}; frame-ancestors 'none'"
SHOP_POLICY = f"{_SOURCES}; frame-ancestors 'self'"


def _add_headers(response):
    path = request.path
    headers = response.headers
    staff = path.startswith(STAFF_PREFIXES)
    headers.setdefault("Content-Security-Policy", STAFF_POLICY if staff else SHOP_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if staff:
        headers.setdefault("X-Frame-Options", "DENY")
    if path.startswith(PRIVATE_PREFIXES):
        headers.setdefault("X-Robots-Tag", "noindex, nofollow")
    return response


def init_app(app: Flask) -> None:
    app.after_request(_add_headers)

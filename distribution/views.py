"""Share links: ``/s/<code>`` records the visit, applies the binding, and redirects in-shop."""

from __future__ import annotations

from flask import Blueprint, redirect, session

from shop import customers

from .sharing import find_link, open_link, target_path

bp = Blueprint("distribution", __name__)


@bp.get("/s/<path:code>")
def open_share_link(code: str):
    """Unknown or malformed codes land on the home page: never an error, never another host."""
    link = find_link(code)
    visitor = customers.visitor_id()
    new_visitor = visitor is None
    if new_visitor:
        visitor = customers.new_visitor_id()
    if link is not None:
        open_link(link, visitor, session.get("customer_id"))
        session["attribution"] = {"share_code": link.code}
    response = redirect(target_path(link))
    if new_visitor:
        customers.set_visitor_cookie(response, visitor)
    return response

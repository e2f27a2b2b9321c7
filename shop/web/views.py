"""What every storefront page shares: the language switch, the health check, the visitor id
given where an order may follow, and the error pages. The storefront's own routes live in the
domains' ``views`` modules (see ``shop.web.blueprints``)."""

from __future__ import annotations

import os

from flask import current_app, jsonify, make_response, redirect, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from shop.customers import identity as customers
from shop.web.blueprints import storefront
from shop.web.redirects import local_target

# Pages after which an order can follow: the visitor id travels into it (shop.customers.identity).
VISITOR_PAGES = {"shop.checkout", "shop.cart", "shop.cart_add"}


@storefront.get("/lang/<code>")
def set_language(code: str):
    response = make_response(redirect(local_target(request.args.get("next"), "/")))
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax")
    return response


@storefront.get("/healthz")
def healthz():
    return {"ok": True}


def _error_page(code: int, message: str):
    if request.path.startswith("/stripe/") or request.accept_mimetypes.best == "application/json":
        return jsonify(error=message), code
    return render_template("shop/error.html", code=code, message=message), code


def init_app(app) -> None:
    os.makedirs(os.path.join(app.instance_path, "uploads", "products"), exist_ok=True)

    @app.after_request
    def assign_visitor(response):
        """Give the browser a visitor id where a later order will need one. Share links set
        it themselves; browsing pages (the product page above all) stay cookie-free."""
        if request.endpoint in VISITOR_PAGES and not customers.visitor_id():
            customers.set_visitor_cookie(response, customers.new_visitor_id())
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(_exc):
        return _error_page(400, _("This form has expired. Please go back, reload and try again."))

    @app.errorhandler(404)
    def not_found(_exc):
        return _error_page(404, _("This page does not exist."))

    @app.errorhandler(413)
    def too_large(_exc):
        return _error_page(413, _("The upload is too large."))

    @app.errorhandler(400)
    def bad_request(_exc):
        return _error_page(400, _("The request could not be understood."))

    @app.errorhandler(500)
    def server_error(_exc):
        return _error_page(500, _("Something went wrong on our side. Please try again."))

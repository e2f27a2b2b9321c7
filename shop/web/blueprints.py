"""The storefront's two blueprints, each defined once here; their routes live in the domains.

Endpoint names are what templates, tests and share links call (``url_for("shop.checkout")``,
``url_for("account.me")``), so they do not follow the code around: every domain's ``views``
module adds its routes to one of these two blueprints, and ``init_app`` imports all of those
modules before registering the blueprints (a route cannot be added to a registered blueprint).

``shop``     catalog (home, category, search, product, media), checkout (cart, checkout),
             orders (order page, pay, review, my orders), payments (Stripe webhook),
             web (language switch, health check)
``account``  customers (sign-in, ``/me``, referral link), members (coupon claim, points shop)
"""

from __future__ import annotations

from flask import Blueprint, Flask

storefront = Blueprint("shop", __name__)
account = Blueprint("account", __name__)


def init_app(app: Flask) -> None:
    import shop.catalog.views
    import shop.checkout.views
    import shop.customers.views
    import shop.members.views
    import shop.orders.views
    import shop.payments.views
    import shop.web.views  # noqa: F401

    app.register_blueprint(storefront)
    app.register_blueprint(account)

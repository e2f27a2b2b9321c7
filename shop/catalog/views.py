"""Browsing the catalog: home, a category, search, a product page and its images."""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from shop.catalog import images
from shop.catalog import queries as catalog
from shop.catalog.models import Category
from shop.extensions import db
from shop.hooks import carried_attribution, offered_prices, price_state
from shop.i18n import localized
from shop.infra.clock import utcnow
from shop.members import coupons
from shop.web import pagecache
from shop.web.blueprints import storefront


@storefront.get("/")
def home():
    return render_template(
        "shop/home.html", categories=catalog.categories(), products=catalog.latest_products()
    )


@storefront.get("/c/<slug>")
def category(slug: str):
    cat = db.session.scalar(select(Category).where(Category.slug == slug))
    if cat is None:
        abort(404)
    return render_template(
        "shop/listing.html",
        title=localized(cat),
        categories=catalog.categories(),
        products=catalog.category_products(cat),
        current=cat,
    )


@storefront.get("/search")
def search():
    q = request.args.get("q", "")
    return render_template(
        "shop/listing.html",
        title=_("Search"),
        q=q,
        categories=catalog.categories(),
        products=catalog.search(q),
    )


@storefront.get("/p/<slug>")
def product(slug: str):
    """One page for every visitor of the product in the same language and price state (a live
    session's viewers see its live prices), kept briefly; their own parts (basket count,
    messages, a guide's share box) filled in per request (``shop.web.pagecache``)."""
    attribution = carried_attribution(session)
    key = f"product:{slug}"
    if state := price_state(attribution):
        key = f"{key}|{state}"
    return pagecache.shared_page(key, lambda: _product_page(slug, attribution))


def _product_page(slug: str, attribution: dict):
    """The product page as every visitor in this price state sees it, and when its prices
    change next by time alone."""
    item = catalog.product_by_slug(slug)
    if item is None:
        abort(404)
    reviews_, rating = catalog.approved_reviews(item.id)
    now = utcnow()
    offered = offered_prices(item.variants, attribution)  # the same for all in its price state
    left = {variant.id: offered.units_left(variant) for variant in item.variants}
    body = render_template(
        "shop/product.html",
        product=item,
        offers=offered.prices,
        left=left,
        available=next((variant for variant in item.variants if left[variant.id] > 0), None),
        reviews=reviews_,
        rating=rating,
        sold=catalog.sales_count(item.id),
        coupons=coupons.claimable_for(item),
        recent=catalog.recent_purchases(item.id),
        max_quantity=current_app.config["MAX_LINE_QUANTITY"],
        share_url=_public_url("shop.product", slug=item.slug),
    )
    changes = [catalog.next_price_change(item, now), offered.changes_at]
    return body, min((moment for moment in changes if moment is not None), default=None)


def _public_url(endpoint: str, **values) -> str:
    """The address to share: on the shop's public host, whatever host served this page."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for(endpoint, **values)


@storefront.get("/media/products/<path:name>")
def media(name: str):
    return send_from_directory(images.upload_dir(), name, max_age=7 * 24 * 3600)

"""Jinja filters and globals shared by every template."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, g, get_flashed_messages, request
from flask_babel import format_date, format_datetime, format_timedelta, get_locale, pgettext
from markupsafe import Markup

from shop.catalog.sanitize import clean_markup
from shop.checkout import cart
from shop.customers.phones import mask_phone
from shop.hooks import register_personal_part
from shop.i18n import localized, medium_datetime, variant_name
from shop.infra.clock import utcnow
from shop.members import coupons, points
from shop.money import format_money
from shop.orders.models import OrderStatus
from shop.orders.numbers import order_number
from shop.web import pagecache


def ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return format_timedelta(moment - utcnow(), add_direction=True)


def local_datetime(moment: datetime | None, pattern: str | None = None) -> str:
    """A stored (naive UTC) time shown in the shop's time zone and the reader's language
    (``shop.i18n.medium_datetime``); the admin passes a pattern of its own."""
    if moment is None:
        return ""
    return format_datetime(moment, pattern) if pattern else medium_datetime(moment)


def local_date(moment: datetime | None) -> str:
    return format_date(moment, "medium") if moment else ""


def colon() -> str:
    """What separates a label from its value ("Points: 2000"), as the reader's language
    writes it: a full-width colon in Chinese ("积分：2000")."""
    return pgettext("label", ": ")


def points_worth(count: int | None) -> str:
    """What a number of points takes off an order, as money ("2000 points" -> "¥20.00"); the
    rate is read once per request."""
    if "point_value" not in g:
        g.point_value = points.settings().point_value
    return format_money((count or 0) * g.point_value)


def iso_utc(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def cart_badge() -> Markup:
    """The basket link's count (a personal part: shop.web.pagecache)."""
    count = cart.count()
    return Markup(' <span class="badge">{}</span>').format(count) if count else Markup("")


def flashes() -> Markup:
    """The messages flashed to this visitor (a personal part)."""
    return Markup("").join(
        Markup('<p class="flash {}" role="status">{}</p>').format(category, message)
        for category, message in get_flashed_messages(with_categories=True)
    )


def share_button(product_id: int, title: str, url: str, plain: str) -> Markup:
    """The product page's share button (a personal part): ``plain``, the button every visitor
    gets, which shares the page at ``url`` (rendered with the page)."""
    return Markup(plain)


def tracked_share_button(title: str, tracked: dict) -> Markup:
    """The share button doing what ``tracked`` says (distribution's, for a signed-in guide)."""
    template = current_app.jinja_env.get_template("shop/_share_button.html")
    return Markup(template.render(tracked=tracked, title=title))


def init_app(app) -> None:
    pagecache.init_app(app)
    register_personal_part(app, "cart_badge", cart_badge)
    register_personal_part(app, "flashes", flashes)
    register_personal_part(app, "share_button", share_button)
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["order_number"] = order_number
    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.filters["ago"] = ago
    app.jinja_env.filters["iso_utc"] = iso_utc
    app.jinja_env.filters["datetime"] = local_datetime
    app.jinja_env.filters["date"] = local_date
    app.jinja_env.filters["clean_html"] = clean_markup
    app.jinja_env.filters["localized"] = localized
    app.jinja_env.filters["variant_name"] = variant_name
    app.jinja_env.filters["points_worth"] = points_worth
    app.jinja_env.filters["coupon_value"] = coupons.describe
    app.jinja_env.filters["hundredths"] = coupons.hundredths
    # Vocabularies that templates show by their labels (globals reach imported macros too).
    app.jinja_env.globals["OrderStatus"] = OrderStatus
    app.jinja_env.globals["colon"] = colon

    @app.context_processor
    def shop_globals():
        return {
            "shop_name": app.config["SHOP_NAME"],
            "current_locale": str(get_locale() or "en"),
            "languages": app.config["LANGUAGES"],
            "next_url": request.full_path if request else "/",
        }

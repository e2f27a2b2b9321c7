"""Jinja filters and globals shared by every template."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, request, session
from flask_babel import format_date, format_datetime, format_timedelta, get_locale

from shop.catalog.sanitize import clean_markup
from shop.customers.phones import mask_phone
from shop.infra.clock import utcnow
from shop.money import format_money
from shop.orders.models import OrderStatus


def money(amount: int | None, currency: str | None = None) -> str:
    if amount is None:
        return ""
    return format_money(amount, currency or current_app.config["SHOP_CURRENCY"])


def ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return format_timedelta(moment - utcnow(), add_direction=True)


def local_datetime(moment: datetime | None, pattern: str = "short") -> str:
    """A stored (naive UTC) time shown in the shop's time zone and the reader's language; the
    admin passes a pattern of its own."""
    return format_datetime(moment, pattern) if moment else ""


def local_date(moment: datetime | None) -> str:
    return format_date(moment, "medium") if moment else ""


def iso_utc(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def init_app(app) -> None:
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.filters["ago"] = ago
    app.jinja_env.filters["iso_utc"] = iso_utc
    app.jinja_env.filters["datetime"] = local_datetime
    app.jinja_env.filters["date"] = local_date
    app.jinja_env.filters["clean_html"] = clean_markup
    # Vocabularies that templates show by their labels (globals reach imported macros too).
    app.jinja_env.globals["OrderStatus"] = OrderStatus

    @app.context_processor
    def shop_globals():
        cart = session.get("cart") or {}
        return {
            "shop_name": app.config["SHOP_NAME"],
            "cart_count": sum(cart.values()) if isinstance(cart, dict) else 0,
            "current_locale": str(get_locale() or "en"),
            "languages": app.config["LANGUAGES"],
            "next_url": request.full_path if request else "/",
        }

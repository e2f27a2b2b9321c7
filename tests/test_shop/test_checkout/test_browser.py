"""A customer on a phone, in headless Chromium: product link -> checkout -> pay-at-store order.

The product says at most 3 page loads from a shared link to the payment step; for a pick-up
order paid at the store, the payment step is the order page telling the customer to pay there.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shop.catalog.models import Store, Variant
from shop.demo.factories import make_category, make_product, make_staff, make_store
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus
from tests.support import browser
from tests.support.shop import order_for

pytestmark = pytest.mark.browser

# The shared fixtures of tests/browser.py used here (app_config turns CSRF on).
app_config = browser.app_config
chromium = browser.chromium
phone_context = browser.phone_context
page = browser.page
live_server = browser.live_server

STOCK = 10
SALE_PRICE = 3900


@pytest.fixture
def catalog(app):
    """Two stores and a tea on a limited-time price; returns plain values, not ORM objects."""
    with app.app_context():
        make_store("Jing'an Flagship", "Shanghai", "1 Nanjing West Rd")
        tianhe = make_store("Tianhe Store", "Guangzhou", "88 Tianhe Rd")
        product = make_product(
            "Longjing Green Tea",
            price=5800,
            stock_qty=STOCK,
            category=make_category("Tea"),
            store=tianhe,
            description="<p>Spring <b>harvest</b>.</p>",
        )
        variant = product.variants[0]
        variant.sale_price = SALE_PRICE
        variant.sale_starts_at = utcnow() - timedelta(hours=1)
        variant.sale_ends_at = utcnow() + timedelta(days=2)
        db.session.commit()
        return {
            "slug": product.slug,
            "variant_id": variant.id,
            "store_id": tianhe.id,
            "store_name": tianhe.name,
        }


def _stock(app, variant_id: int) -> int:
    with app.app_context():
        return db.session.get(Variant, variant_id).stock


def _order_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Order.id)))


def _count_loads(page) -> list[str]:
    loads: list[str] = []
    page.on("load", lambda p: loads.append(p.url))
    return loads


def _buy_now(page, live_server, catalog, quantity: int):
    page.goto(live_server(f"/p/{catalog['slug']}"))
    page.get_by_label("Quantity").fill(str(quantity))
    page.get_by_role("button", name="Buy now").click()
    page.wait_for_url(re.compile(r"/checkout\?"))


def test_product_link_to_pay_at_store_order_in_three_loads(app, live_server, page, catalog):
    loads = _count_loads(page)

    page.goto(live_server(f"/p/{catalog['slug']}"))
    countdown = page.locator(".countdown[data-ends]")
    assert re.search(r"Ends in 1d 23:5\d:\d\d", countdown.inner_text())
    assert "Only 10 left" in page.locator(".variant").inner_text()
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Buy now").click()

    page.wait_for_url(re.compile(r"/checkout\?"))
    assert "¥78.00" in page.locator(".summary").inner_text()
    page.get_by_label("Mobile number").fill("138 1234 1234")
    page.get_by_label("Name").fill("Li Lei")
    page.get_by_label("Pick up in store").check()
    page.locator("select[name=pickup_store]").select_option(str(catalog["store_id"]))
    page.get_by_label("Pay at the store").check()
    page.get_by_role("button", name="Place order").click()

    page.wait_for_url(re.compile(r"/o/[\w-]+$"))
    status = page.locator(".status").inner_text()
    assert "Pay when you collect it at the store" in status
    assert catalog["store_name"] in page.locator(".details").inner_text()
    assert "138****1234" in page.locator(".details").inner_text()
    assert len(loads) <= 3, loads

    assert _stock(app, catalog["variant_id"]) == STOCK - 2
    with app.app_context():
        order = db.session.scalar(select(Order))
        assert order.status == OrderStatus.AWAITING_PAYMENT
        assert order.payment_method == "store"
        assert order.fulfilment == "pickup"
        assert order.store_id == catalog["store_id"]
        assert order.total == 2 * SALE_PRICE
        assert page.url.endswith(f"/o/{order.token}")


def test_product_page_shows_a_recent_buyer_by_city_only(app, live_server, page, catalog):
    with app.app_context():
        store = db.session.get(Store, catalog["store_id"])
        variant = db.session.get(Variant, catalog["variant_id"])
        order = order_for(variant, store, quantity=1, name="Zhang Wei", phone="13955556666")
        orders.mark_paid_at_store(order.id, make_staff("owner@example.com", "pw-123456789"))

    page.goto(live_server(f"/p/{catalog['slug']}"))
    recent = page.locator(".recent").inner_text()
    assert re.fullmatch(r"Someone in Guangzhou just bought this \(\d+ seconds? ago\)", recent)
    body = page.locator("main").inner_text()
    assert "Zhang" not in body and "5666" not in body
    assert "Only 9 left" in page.locator(".variant").inner_text()


def test_returning_customer_finds_the_form_filled_in(app, live_server, page, catalog):
    _buy_now(page, live_server, catalog, 1)
    page.get_by_label("Mobile number").fill("13812341234")
    page.get_by_label("Name").fill("Han Meimei")
    page.locator("select[name=pickup_store]").select_option(str(catalog["store_id"]))
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/o/"))

    _buy_now(page, live_server, catalog, 1)
    assert page.get_by_label("Mobile number").input_value() == "13812341234"
    assert page.get_by_label("Name").input_value() == "Han Meimei"
    assert page.locator("select[name=pickup_store]").input_value() == str(catalog["store_id"])
    assert page.get_by_label("Pick up in store").is_checked()
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/o/"))

    assert _order_count(app) == 2
    assert _stock(app, catalog["variant_id"]) == STOCK - 2
    page.goto(live_server("/orders"))
    assert page.locator("ul.orders li").count() == 2


@pytest.mark.parametrize(
    ("quantity", "phone", "message"),
    [
        ("0", "13812341234", "Quantity must be at least 1."),
        ("2", "12345", "Enter a valid mobile number"),
        ("100", "13812341234", "You can buy at most 99 at a time."),
    ],
    ids=["quantity-0", "bad-phone", "quantity-too-big"],
)
def test_bad_input_shows_the_error_and_places_nothing(
    app,
    live_server,
    page,
    catalog,
    quantity,
    phone,
    message,
):
    _buy_now(page, live_server, catalog, 1)
    page.get_by_label("Quantity").fill(quantity)
    page.get_by_label("Mobile number").fill(phone)
    page.get_by_label("Name").fill("Li Lei")
    page.locator("select[name=pickup_store]").select_option(str(catalog["store_id"]))
    page.get_by_role("button", name="Place order").click()
    page.wait_for_load_state()

    assert message in page.locator(".flash.error").inner_text()
    assert page.url == live_server("/checkout")
    assert page.get_by_label("Name").input_value() == "Li Lei"
    assert _order_count(app) == 0
    assert _stock(app, catalog["variant_id"]) == STOCK

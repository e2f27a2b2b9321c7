"""A customer on a phone, in headless Chromium: product link -> checkout -> pay-at-store order.

The product says at most 3 page loads from a shared link to the payment step; for a pick-up
order paid at the store, the payment step is the order page telling the customer to pay there.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from shop.catalog.models import Store, Variant
from shop.demo.factories import make_category, make_product, make_staff, make_store
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus
from tests.support import browser
from tests.support.shop import order_for

pytestmark = pytest.mark.browser

# The shared fixtures of tests/support/browser.py used here (app_config turns CSRF on).
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
    expect(countdown).to_contain_text(re.compile(r"Ends in 1d 23:5\d:\d\d"))
    expect(page.locator(".variant")).to_contain_text("Only 10 left")
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Buy now").click()

    page.wait_for_url(re.compile(r"/checkout\?"))
    expect(page.locator(".summary")).to_contain_text("¥78.00")
    page.get_by_label("Mobile number").fill("138 1234 1234")
    page.get_by_label("Name").fill("Li Lei")
    page.get_by_label("Pick up in store").check()
    page.locator("select[name=pickup_store]").select_option(str(catalog["store_id"]))
    page.get_by_label("Pay at the store").check()
    page.get_by_role("button", name="Place order").click()

    page.wait_for_url(re.compile(r"/o/[\w-]+$"))
    expect(page.locator(".status")).to_contain_text("Pay when you collect it at the store")
    expect(page.locator(".details")).to_contain_text(catalog["store_name"])
    expect(page.locator(".details")).to_contain_text("138****1234")
    assert len(loads) <= 3, loads

    assert _stock(app, catalog["variant_id"]) == STOCK - 2
    with app.app_context():
        order = db.session.scalar(select(Order))
        assert order.status == OrderStatus.AWAITING_PAYMENT
        assert order.payment_method == "store"
        assert order.fulfilment == "pickup"
        assert order.store_id == catalog["store_id"]
        assert order.total == 2 * SALE_PRICE
        expect(page).to_have_url(re.compile(re.escape(f"/o/{order.token}") + "$"))


def test_product_page_shows_a_recent_buyer_by_city_only(app, live_server, page, catalog):
    with app.app_context():
        store = db.session.get(Store, catalog["store_id"])
        variant = db.session.get(Variant, catalog["variant_id"])
        order = order_for(variant, store, quantity=1, name="Zhang Wei", phone="13955556666")
        with unit_of_work():
            orders.mark_paid_at_store(order.id, make_staff("owner@example.com", "pw-123456789"))

    page.goto(live_server(f"/p/{catalog['slug']}"))
    expect(page.locator(".recent")).to_have_text(
        re.compile(r"^Someone in Guangzhou just bought this \(\d+ seconds? ago\)$"),
        use_inner_text=True,
    )
    expect(page.locator("main")).not_to_contain_text("Zhang")
    expect(page.locator("main")).not_to_contain_text("5666")
    expect(page.locator(".variant")).to_contain_text("Only 9 left")


def test_returning_customer_finds_the_form_filled_in(app, live_server, page, catalog):
    _buy_now(page, live_server, catalog, 1)
    page.get_by_label("Mobile number").fill("13812341234")
    page.get_by_label("Name").fill("Han Meimei")
    page.locator("select[name=pickup_store]").select_option(str(catalog["store_id"]))
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/o/"))

    _buy_now(page, live_server, catalog, 1)
    expect(page.get_by_label("Mobile number")).to_have_value("13812341234")
    expect(page.get_by_label("Name")).to_have_value("Han Meimei")
    expect(page.locator("select[name=pickup_store]")).to_have_value(str(catalog["store_id"]))
    expect(page.get_by_label("Pick up in store")).to_be_checked()
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/o/"))

    assert _order_count(app) == 2
    assert _stock(app, catalog["variant_id"]) == STOCK - 2
    page.goto(live_server("/orders"))
    expect(page.locator("ul.orders li")).to_have_count(2)


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

    # The error is on the page the server answered with (the form's own page has none), so
    # the checks after it are about that page too.
    expect(page.locator(".flash.error")).to_contain_text(message)
    expect(page).to_have_url(live_server("/checkout"))
    expect(page.get_by_label("Name")).to_have_value("Li Lei")
    assert _order_count(app) == 0
    assert _stock(app, catalog["variant_id"]) == STOCK

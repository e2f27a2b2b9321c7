"""Checkout renders the chosen fulfilment on the server: with JavaScript off exactly one total
and one fulfilment section show, and switching is a submit that renders the page again; with
JavaScript on it switches in place. Every error shows at once, by its field. The delivery
address is picked province → city → district."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from shop.extensions import db
from shop.orders.models import Order
from tests.support import browser
from tests.support.shop import small_catalog

pytestmark = pytest.mark.browser

app_config = browser.app_config
chromium = browser.chromium
phone_context = browser.phone_context
page = browser.page
live_server = browser.live_server


@pytest.fixture
def no_js_page(chromium):
    context = chromium.new_context(**browser.PHONE, java_script_enabled=False)
    context.set_default_timeout(30_000)  # a busy 2-core CI machine
    yield context.new_page()
    context.close()


@pytest.fixture
def tea(app):
    with app.app_context():
        store, _, product = small_catalog(stock_qty=10, price=3000)  # below free delivery
        return {"variant": product.variants[0].id, "store": store.id}


def _totals(page):
    return page.locator(".summary tr.total:visible")


def test_checkout_without_javascript_shows_one_total(app, live_server, no_js_page, tea):
    page = no_js_page
    page.goto(live_server(f"/checkout?variant={tea['variant']}&qty=1"))
    expect(_totals(page)).to_have_count(1)
    expect(_totals(page)).to_contain_text("¥30.00")
    expect(page.locator("select[name=pickup_store]")).to_be_visible()
    expect(page.locator("select[name=province]")).to_be_hidden()

    page.get_by_label("Mobile number").fill("13812341234")
    page.get_by_label("Name").fill("Li Lei")
    page.get_by_label("Delivery", exact=True).check()
    page.get_by_role("button", name="Update").click()
    expect(_totals(page)).to_have_count(1)
    expect(_totals(page)).to_contain_text("¥40.00")  # with the delivery fee
    expect(page.locator("select[name=pickup_store]")).to_be_hidden()
    expect(page.get_by_label("Name")).to_have_value("Li Lei")

    page.get_by_label("Province").select_option("广东省")
    page.get_by_role("button", name="Show its cities and districts").click()
    page.get_by_label("City").select_option("广州市")
    page.get_by_role("button", name="Show its cities and districts").click()
    page.get_by_label("District").select_option("天河区")
    page.get_by_label("Address").fill("88 Tianhe Rd, room 1203")
    page.get_by_role("button", name="Place order").click()

    page.wait_for_url(re.compile(r"/o/[\w-]+$"))
    expect(page.locator(".details")).to_contain_text("广东省 广州市 天河区 88 Tianhe Rd, room 1203")
    with app.app_context():
        order = db.session.scalar(select(Order))
        assert (order.fulfilment, order.total) == ("delivery", 4000)
        assert (order.province, order.city, order.district) == ("广东省", "广州市", "天河区")


def test_switching_with_javascript_needs_no_round_trip(app, live_server, page, tea):
    page.goto(live_server(f"/checkout?variant={tea['variant']}&qty=1"))
    expect(_totals(page)).to_have_count(1)
    expect(page.get_by_role("button", name="Update")).to_have_count(0)  # <noscript> only
    page.get_by_label("Delivery", exact=True).check()
    expect(_totals(page)).to_have_count(1)
    expect(_totals(page)).to_contain_text("¥40.00")
    page.get_by_label("Province").select_option("北京市")
    page.get_by_label("City").select_option("北京市")
    page.get_by_label("District").select_option("朝阳区")
    page.get_by_label("Pick up in store").check()
    expect(_totals(page)).to_contain_text("¥30.00")
    expect(page.locator("select[name=province]")).to_be_hidden()


def test_every_error_shows_at_once_by_its_field(app, live_server, page, tea):
    page.goto(live_server(f"/checkout?variant={tea['variant']}&qty=1"))
    page.get_by_label("Mobile number").fill("12345")
    page.get_by_label("Delivery", exact=True).check()
    page.get_by_role("button", name="Place order").click()

    expect(page.locator(".flash.error li")).to_have_count(4)
    expect(page.locator("#err-phone")).to_contain_text("Enter a valid mobile number")
    expect(page.locator("#err-name")).to_have_text("Please enter your name.")
    expect(page.locator("#err-district")).to_have_text(
        "Please choose the province, city and district."
    )
    expect(page.locator("#err-address")).to_be_visible()
    expect(page.get_by_label("Mobile number")).to_have_attribute("aria-invalid", "true")
    expect(_totals(page)).to_have_count(1)
    with app.app_context():
        assert db.session.scalar(select(Order)) is None

"""A member on a phone, in headless Chromium: the checkout total follows the quantity typed,
coupons included, and the order costs the total the page showed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.members import coupons
from shop.orders.models import Order
from tests.support import browser
from tests.support.members import SENT, make_customer, make_template
from tests.support.shop import small_catalog

pytestmark = pytest.mark.browser

chromium = browser.chromium
phone_context = browser.phone_context
page = browser.page
live_server = browser.live_server


@pytest.fixture
def app_config(app_config) -> dict:
    """Real CSRF-protected forms; sign-in codes kept in ``SENT``."""
    return {
        **app_config,
        "WTF_CSRF_ENABLED": True,
        "SMS_SENDER": "tests.support.members.CapturingSender",
    }


@pytest.fixture
def member_with_coupon(app):
    """A ¥38 tea, and a member holding ¥10 off when spending ¥50 (so it applies to two)."""
    with app.app_context():
        store, _, product = small_catalog(stock_qty=10, price=3800)
        customer = make_customer("Han Mei")
        template = make_template("Ten off fifty", "threshold", value=1000, threshold=5000)
        with unit_of_work():
            coupons.issue(template.id, customer.id)
        return {"variant_id": product.variants[0].id, "store_id": store.id, "phone": customer.phone}


def _sign_in(page, live_server, phone: str, next_path: str) -> None:
    page.goto(live_server(f"/signin?next={next_path}"))
    page.get_by_label("Mobile number").fill(phone)
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_label("Code")).to_be_visible()
    code = re.search(r"\b(\d{6})\b", SENT[-1][1]).group(1)
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Sign in").click()


def test_a_member_changing_the_quantity_sees_the_new_total_and_pays_it(
    app, live_server, page, member_with_coupon
):
    checkout = f"/checkout?variant={member_with_coupon['variant_id']}%26qty=2"
    _sign_in(page, live_server, member_with_coupon["phone"], checkout)
    summary = page.locator(".summary")
    expect(summary).to_contain_text("−¥10.00")
    expect(page.locator(".pickup-total")).to_have_text("¥66.00")

    page.get_by_label("Name").fill("Han Mei")
    page.get_by_label("Pay at the store").check()
    page.get_by_label("Quantity").fill("1")
    # Placing the order straight after typing prices the page again instead: for one, the
    # coupon no longer applies, and nothing is placed at a total the page did not show.
    page.get_by_role("button", name="Place order").click()
    expect(page.locator(".flash.warn")).to_have_text(
        "The total was updated for your changes. Check it, then place the order."
    )
    expect(page.locator(".pickup-total")).to_have_text("¥38.00")
    expect(summary).not_to_contain_text("−¥10.00")
    expect(page.get_by_label("Quantity")).to_have_value("1")
    with app.app_context():
        assert db.session.scalar(select(func.count(Order.id))) == 0

    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/o/[\w-]+$"))
    with app.app_context():
        order = db.session.scalar(select(Order))
        assert (order.total, order.coupon_discount) == (3800, 0)


def test_a_member_choosing_no_coupon_sees_the_total_without_it(
    app, live_server, page, member_with_coupon
):
    checkout = f"/checkout?variant={member_with_coupon['variant_id']}%26qty=2"
    _sign_in(page, live_server, member_with_coupon["phone"], checkout)
    expect(page.locator(".pickup-total")).to_have_text("¥66.00")
    page.locator("select[name=coupon]").select_option("none")
    expect(page.locator(".pickup-total")).to_have_text("¥76.00")
    expect(page.locator("select[name=coupon]")).to_have_value("none")

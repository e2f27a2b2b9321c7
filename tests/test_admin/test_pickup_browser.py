"""Headless Chromium at the counter: the customer's order page shows a pick-up code and its
QR code; a store manager types the code in the admin and hands the order over (marked paid,
then picked up, both audited). Another store's code finds nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from shop.extensions import db
from shop.orders.models import Order, OrderStatus
from shop.staff.models import AuditLog, Role
from tests.support import browser
from tests.test_admin.conftest import EMAILS, PASSWORD

pytestmark = pytest.mark.browser

app_config = browser.app_config
chromium = browser.chromium
live_server = browser.live_server

DESKTOP = {"viewport": {"width": 1280, "height": 800}, "locale": "en-US"}


@pytest.fixture
def counter(chromium, live_server):
    context = chromium.new_context(**DESKTOP)
    context.set_default_timeout(30_000)  # a busy 2-core CI machine
    page = context.new_page()
    page.goto(live_server("/admin/login"))
    page.get_by_label("E-mail").fill(EMAILS[Role.MANAGER])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/admin/?$"))
    yield page
    context.close()


def _order(app, order_id: int) -> Order:
    with app.app_context():
        order = db.session.get(Order, order_id)
        db.session.expunge(order)
        return order


def test_a_pickup_code_typed_in_the_admin_marks_the_order_picked_up(
    app, chromium, live_server, shop_data, counter
):
    order = _order(app, shop_data.order_a)
    customer = chromium.new_context(**browser.PHONE).new_page()
    customer.goto(live_server(f"/o/{order.token}"))
    shown = f"{order.pickup_code[:4]} {order.pickup_code[4:]}"
    expect(customer.locator(".pickup-code .code")).to_have_text(shown)
    expect(customer.locator(".pickup-code svg")).to_be_visible()

    counter.goto(live_server("/admin/pickup/"))
    counter.get_by_label("Code the customer shows").fill(shown)
    counter.get_by_role("button", name="Find the order").click()
    found = counter.locator(".pickup-order")
    expect(found).to_contain_text(order.number)
    expect(found).to_contain_text("not paid yet")
    questions = []

    def confirm(dialog):  # taking money asks first, like every money action in the admin
        questions.append(dialog.message)
        dialog.accept()

    counter.on("dialog", confirm)
    found.get_by_role("button", name=re.compile(r"^Paid ¥96\.00: hand over$")).click()

    expect(counter.locator(".alert")).to_contain_text(f"Order {order.number} is marked picked up.")
    assert questions == [
        f"Confirm that ¥96.00 was received for order {order.number}, then hand it over?"
    ]
    with app.app_context():
        assert db.session.get(Order, order.id).status == OrderStatus.PICKED_UP
        actions = db.session.scalars(
            select(AuditLog.action).where(AuditLog.object_id == str(order.id))
        ).all()
        assert set(actions) >= {"order.mark_paid", "order.picked_up"}

    customer.reload()
    expect(customer.locator(".status")).to_contain_text("Picked up.")
    expect(customer.locator(".pickup-code")).to_have_count(0)

    # The same code again: the order is found, and says it was picked up already.
    counter.get_by_label("Code the customer shows").fill(order.pickup_code)
    counter.get_by_role("button", name="Find the order").click()
    expect(counter.locator(".pickup-order")).to_contain_text("Already picked up.")


def test_another_stores_code_finds_nothing(app, live_server, shop_data, counter):
    other = _order(app, shop_data.order_b)  # store B's; the manager runs store A
    counter.goto(live_server("/admin/pickup/"))
    counter.get_by_label("Code the customer shows").fill(other.pickup_code)
    counter.get_by_role("button", name="Find the order").click()
    expect(counter.locator(".alert")).to_contain_text("No pick-up order has this code.")
    expect(counter.locator(".pickup-order")).to_have_count(0)

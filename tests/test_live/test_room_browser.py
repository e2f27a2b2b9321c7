"""Headless Chromium on phones: the host goes live and pins a product from the console; the
viewer's room shows the status, the pinned product at its live price (or at its own price,
where that is lower) and the units left without a reload; the viewer's comment reaches the
host's console."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from live.models import ShelfItem
from shop.extensions import db
from shop.infra.clock import utcnow
from tests.support import browser
from tests.support.live_room import HOST_EMAIL, HOST_PASSWORD, make_room

pytestmark = pytest.mark.browser

app_config = browser.app_config
chromium = browser.chromium
live_server = browser.live_server


@pytest.fixture
def room(app):
    with app.app_context():
        return make_room(status="scheduled")


def phone(chromium):
    context = chromium.new_context(**browser.PHONE)
    context.set_default_timeout(30_000)  # a busy 2-core CI machine
    return context


def test_the_host_pins_a_product_and_the_viewer_sees_it_without_reload(
    app, chromium, live_server, room
):
    viewer = phone(chromium).new_page()
    viewer.goto(live_server(f"/live/{room.session_id}"))
    expect(viewer.get_by_role("heading", name="Spring tea live")).to_be_visible()
    expect(viewer.locator("#live-status")).to_have_text("Scheduled")
    expect(viewer.locator("#live-pinned")).to_be_hidden()

    host = phone(chromium).new_page()
    host.goto(live_server(f"/live/{room.session_id}/host"))
    host.get_by_label("E-mail").fill(HOST_EMAIL)
    host.get_by_label("Password").fill(HOST_PASSWORD)
    host.get_by_role("button", name="Sign in").click()
    host.wait_for_url(live_server(f"/live/{room.session_id}/host"))
    expect(host.get_by_role("button", name="Pause")).to_be_disabled()  # not on air yet
    expect(host.get_by_role("button", name="Unpin")).to_be_disabled()  # nothing pinned yet
    host.get_by_role("button", name="Go live").click()
    expect(host.locator("#host-note")).to_have_text("You are live.")
    expect(host.get_by_role("button", name="Go live")).to_be_disabled()
    expect(host.get_by_role("button", name="Pause")).to_be_enabled()
    expect(viewer.locator("#live-status")).to_have_text("Live now")

    host.locator(".host-shelf li", has_text="Green Tea").get_by_role("button", name="Pin").click()
    expect(host.locator("#host-note")).to_have_text("Pinned: Green Tea")
    expect(host.get_by_role("button", name="Unpin")).to_be_enabled()

    pinned = viewer.locator("#live-pinned")
    expect(pinned).to_be_visible()
    expect(pinned.locator("#pin-name")).to_have_text("Green Tea")
    expect(pinned.locator("#pin-price")).to_have_text("¥69.00")
    expect(pinned.locator("#pin-left")).to_have_text("40 left · Limit 2 per customer")
    expect(pinned.locator("#pin-was")).to_have_text("¥99.00")
    expect(pinned.locator("#pin-buy")).to_have_text("Buy at the live price")

    with app.app_context():  # Oolong's limited-time ¥35 is below its ¥39 live price
        oolong = db.session.get(ShelfItem, room.items[1]).product.variants[0]
        now = utcnow()
        oolong.sale_price, oolong.sale_starts_at = 3500, now - timedelta(hours=1)
        oolong.sale_ends_at = now + timedelta(hours=1)
        db.session.commit()
    host.locator(".host-shelf li", has_text="Oolong").get_by_role("button", name="Pin").click()
    expect(pinned.locator("#pin-name")).to_have_text("Oolong")
    expect(pinned.locator("#pin-price")).to_have_text("¥35.00")
    expect(pinned.locator("#pin-was")).to_have_text("¥59.00")  # its regular price
    expect(pinned.locator("#pin-buy")).to_have_text("Buy now")

    viewer.get_by_placeholder("Say something").fill("Is it this year's tea?")
    viewer.get_by_role("button", name="Send").click()
    expect(host.locator("#live-comments")).to_contain_text("Is it this year's tea?")
    expect(viewer.get_by_placeholder("Say something")).to_have_value("")  # sent, so cleared
    viewer.get_by_placeholder("Say something").fill("And the oolong?")
    viewer.get_by_role("button", name="Send").click()
    expect(viewer.locator("#comment-error")).to_have_text("Please wait 2 seconds between comments.")

    host.get_by_role("button", name="End").click()
    expect(viewer.locator("#live-status")).to_have_text("Ended")
    for name in ("Go live", "Pause", "End", "Unpin"):
        expect(host.get_by_role("button", name=name, exact=True)).to_be_disabled()
    expect(host.locator(".host-shelf").get_by_role("button", name="Pin")).to_have_count(2)
    for button in host.locator(".host-shelf").get_by_role("button", name="Pin").all():
        expect(button).to_be_disabled()

"""Headless Chromium on a phone: a customer who opens a Guangzhou guide's link is offered that
guide's store for pick-up (not the first store by name), and the order belongs to it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from distribution.links import make_link
from shop.catalog.models import Store
from shop.demo.factories import make_category, make_product, make_store
from shop.extensions import db
from shop.orders.models import Order
from tests.support import browser
from tests.test_distribution.test_workbench import make_guide

pytestmark = pytest.mark.browser

app_config = browser.app_config
chromium = browser.chromium
phone_context = browser.phone_context
page = browser.page
live_server = browser.live_server


@pytest.fixture
def guangzhou_link(app):
    """Two stores (Shanghai's first by name), a head-office product, a Guangzhou guide's link."""
    with app.app_context():
        shanghai = make_store("Jing'an Flagship", "Shanghai", "1 Nanjing West Rd")
        shanghai.is_default = True
        guangzhou = make_store("Tianhe Store", "Guangzhou", "88 Tianhe Rd")
        product = make_product("Longjing Green Tea", price=5800, category=make_category("Tea"))
        guide = make_guide(guangzhou, "Chen Jie", "chen@guides.test")
        link = make_link(guide, f"product:{product.id}", "wechat-group")
        db.session.commit()
        return {
            "slug": product.slug,
            "code": link.code,
            "guangzhou": guangzhou.id,
            "shanghai": shanghai.id,
        }


def test_a_guangzhou_guides_link_preselects_the_guangzhou_store(
    app, live_server, page, guangzhou_link
):
    page.goto(live_server(f"/s/{guangzhou_link['code']}"))
    page.wait_for_url(re.compile(r"/p/"))
    page.get_by_role("button", name="Buy now").click()
    page.wait_for_url(re.compile(r"/checkout\?"))

    store = page.locator("select[name=pickup_store]")
    expect(store).to_have_value(str(guangzhou_link["guangzhou"]))
    expect(store.locator("option:checked")).to_have_text("Tianhe Store · Guangzhou")
    page.get_by_label("Mobile number").fill("13812345678")
    page.get_by_label("Name").fill("Zhou Yu")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/o/[\w-]+$"))
    expect(page.locator(".details")).to_contain_text("Tianhe Store")

    with app.app_context():
        order = db.session.scalar(select(Order))
        assert order.store_id == guangzhou_link["guangzhou"]


def test_without_a_link_the_default_store_is_offered(app, live_server, page, guangzhou_link):
    with app.app_context():
        db.session.get(Store, guangzhou_link["shanghai"]).is_default = False
        db.session.get(Store, guangzhou_link["guangzhou"]).is_default = True
        db.session.commit()
    page.goto(live_server(f"/p/{guangzhou_link['slug']}"))
    page.get_by_role("button", name="Buy now").click()
    page.wait_for_url(re.compile(r"/checkout\?"))
    expect(page.locator("select[name=pickup_store]")).to_have_value(
        str(guangzhou_link["guangzhou"])
    )

"""Headless Chromium on phones, in Chinese: a guide starts a session in one tap from the
workbench, fills the shelf from the host console (a refusal first, in Chinese, changing
nothing), goes live and pins the product; the viewer's room shows it without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from distribution.factories import make_guide
from shop.demo.factories import make_product
from shop.extensions import db
from tests.support import browser
from tests.support.shop import small_catalog

pytestmark = pytest.mark.browser

app_config = browser.app_config
chromium = browser.chromium
live_server = browser.live_server

EMAIL, PASSWORD = "li.na@guides.test", "guide-password-2"
PHONE_ZH = {**browser.PHONE, "locale": "zh-CN"}


@pytest.fixture
def guide(app):
    with app.app_context():
        store, category, _tea = small_catalog(stock_qty=100)
        make_product("茉莉花茶", price=4800, stock_qty=30, category=category, store=store)
        make_guide(store, "李娜", email=EMAIL, password=PASSWORD)
        db.session.commit()


def phone(chromium):
    context = chromium.new_context(**PHONE_ZH, extra_http_headers={"Accept-Language": "zh-CN"})
    context.set_default_timeout(30_000)
    return context


def test_the_host_fills_the_shelf_and_pins_and_the_viewer_sees_it(chromium, live_server, guide):
    host = phone(chromium).new_page()
    host.goto(live_server("/guide/live/"))
    host.get_by_label("邮箱").fill(EMAIL)
    host.get_by_label("密码").fill(PASSWORD)
    host.get_by_role("button", name="登录").click()
    host.get_by_role("button", name="立即开播").click()
    expect(host.get_by_role("heading", name="李娜 的直播")).to_be_visible()
    session_path = host.url.removeprefix(live_server("")).removesuffix("/host")

    viewer = phone(chromium).new_page()
    viewer.goto(live_server(session_path))
    expect(viewer.locator("#live-shelf")).to_contain_text("货架上还没有商品。")

    form = host.locator("#shelf-form")
    expect(form).to_be_visible()  # open while the shelf is empty
    form.get_by_label("商品").select_option(label="茉莉花茶 · ¥48.00 · 库存 30")
    form.get_by_label("直播价", exact=True).fill("0")
    form.get_by_role("button", name="上架").click()
    expect(host.locator("#host-note")).to_have_text("直播价必须大于零。")
    expect(host.locator("#host-shelf")).to_contain_text("货架上还没有商品。")

    form.get_by_label("直播价", exact=True).fill("39.00")
    form.get_by_label("每人限购").fill("2")
    form.get_by_label("本场库存上限").fill("20")
    form.get_by_role("button", name="上架").click()
    expect(host.locator("#host-note")).to_have_text("已上架：茉莉花茶")
    line = host.locator("#host-shelf li", has_text="茉莉花茶")
    expect(line).to_contain_text("¥39.00")
    expect(viewer.locator("#live-shelf")).to_contain_text("茉莉花茶")

    host.get_by_role("button", name="开播").click()
    expect(host.locator("#host-note")).to_have_text("你已开播。")
    line.get_by_role("button", name="置顶").click()
    expect(host.locator("#host-note")).to_have_text("已置顶：茉莉花茶")

    pinned = viewer.locator("#live-pinned")
    expect(pinned).to_be_visible()
    expect(pinned.locator("#pin-name")).to_have_text("茉莉花茶")
    expect(pinned.locator("#pin-price")).to_have_text("¥39.00")
    expect(pinned.locator("#pin-left")).to_have_text("剩 20 件")
    expect(viewer.locator("#live-status")).to_have_text("直播中")

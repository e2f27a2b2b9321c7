"""Headless Chromium on phones, in Chinese: a guide starts a session in one tap from the
workbench, fills the shelf from the host console (a refusal first, in Chinese, changing
nothing), goes live and pins the product; the viewer's room shows it without a reload; the
viewer buys it at the live price and the session's report counts the order (unpaid apart until
staff take the money at the store, then as a paid sale)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from distribution.factories import make_guide
from shop.demo.factories import make_product
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Order
from shop.staff.models import Staff
from tests.support import browser
from tests.support.shop import small_catalog

pytestmark = pytest.mark.browser

app_config = browser.app_config
chromium = browser.chromium
live_server = browser.live_server

EMAIL, PASSWORD = "li.na@guides.test", "guide-password-2"
PHONE_ZH = {**browser.PHONE, "locale": "zh-CN"}

PLAYBACK = "https://cdn.example/live/li-na.m3u8"


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


def test_the_host_fills_the_shelf_and_pins_and_the_viewer_buys_at_the_live_price(
    app, chromium, live_server, guide
):
    host = phone(chromium).new_page()
    host.goto(live_server("/guide/live/"))
    host.get_by_label("邮箱").fill(EMAIL)
    host.get_by_label("密码").fill(PASSWORD)
    host.get_by_role("button", name="登录").click()
    host.get_by_role("button", name="立即开播").click()
    expect(host.get_by_role("heading", name="李娜的直播")).to_be_visible()
    session_path = host.url.removeprefix(live_server("")).removesuffix("/host")

    viewer = phone(chromium).new_page()
    viewer.goto(live_server(session_path))
    expect(viewer.locator("#live-shelf")).to_contain_text("货架上还没有商品。")

    # A one-tap session has no stream yet: the console says so and takes the playback address;
    # the viewer's room loads it at once.
    expect(viewer.locator(".live-noplayer")).to_have_text("直播流尚未设置。")
    stream = host.locator("#host-stream")
    expect(stream).to_contain_text("尚未设置：观众看不到画面")
    stream.get_by_label("直播流地址").fill(PLAYBACK)
    stream.get_by_role("button", name="保存直播流").click()
    expect(host.locator("#host-note")).to_have_text("直播流已保存，观众现在就能看到。")
    # Each viewer's room reloads within 5 s of the change (not all at once).
    expect(viewer.locator("#live-video")).to_have_attribute("data-hls", PLAYBACK, timeout=20_000)

    form = host.locator("#shelf-form")
    expect(form).to_be_visible()  # open while the shelf is empty
    form.get_by_label("商品").select_option(label="茉莉花茶 · ¥48.00 · 库存 30")
    form.get_by_label("直播价", exact=True).fill("0")
    form.get_by_role("button", name="上架").click()
    expect(host.locator("#shelf-error")).to_have_text("直播价必须大于零。")  # by the form
    expect(host.locator("#host-shelf")).to_contain_text("货架上还没有商品。")

    form.get_by_label("直播价", exact=True).fill("39.00")
    form.get_by_label("每人限购").fill("2")
    form.get_by_label("本场库存上限").fill("20")
    form.get_by_role("button", name="上架").click()
    expect(host.locator("#host-note")).to_have_text("已上架：茉莉花茶")
    expect(host.locator("#shelf-error")).to_be_hidden()
    line = host.locator("#host-shelf li", has_text="茉莉花茶")
    expect(line).to_contain_text("¥39.00")
    expect(viewer.locator("#live-shelf")).to_contain_text("茉莉花茶")
    # The row the script added has a way to the product's page beside its buy link.
    details = viewer.locator("#live-shelf li", has_text="茉莉花茶").get_by_role("link", name="详情")
    expect(details).to_have_attribute("href", re.compile(r"^/p/[\w-]+$"))

    host.get_by_role("button", name="开播").click()
    expect(host.locator("#host-note")).to_have_text("你已开播。")
    line.get_by_role("button", name="置顶").click()
    expect(host.locator("#host-note")).to_have_text("已置顶：茉莉花茶")

    pinned = viewer.locator("#live-pinned")
    expect(pinned).to_be_visible()
    expect(pinned.locator("#pin-name")).to_have_text("茉莉花茶")
    expect(pinned.locator("#pin-name")).to_have_attribute("href", re.compile(r"^/p/[\w-]+$"))
    expect(pinned.locator("#pin-price")).to_have_text("¥39.00")
    expect(pinned.locator("#pin-left")).to_have_text("剩 20 件 · 每人限购 2 件")
    expect(viewer.locator("#live-status")).to_have_text("直播中")

    # The viewer buys the pinned product at the live price through the short checkout.
    pinned.get_by_role("link", name="以直播价购买").click()
    expect(viewer.locator("main")).to_contain_text("直播价")
    viewer.get_by_label("手机号").fill("13700001234")
    viewer.get_by_label("姓名").fill("周敏")
    viewer.get_by_role("button", name="提交订单").click()
    expect(viewer.get_by_role("heading", name=re.compile("订单 SY"))).to_be_visible()
    expect(viewer.locator("main")).to_contain_text("¥39.00")
    expect(viewer.locator("main")).not_to_contain_text("¥48.00")

    # Unpaid, it is not a sale; once staff take the money at the store, the report counts it.
    report = host.context.new_page()
    report.goto(live_server(session_path.replace("/live/", "/guide/live/")))
    live_row = report.locator("tr", has=report.get_by_role("rowheader", name="直播"))
    expect(live_row).to_contain_text("1 · ¥39.00")
    with app.app_context():
        staff = db.session.scalar(select(Staff).where(Staff.email == EMAIL))
        (order_id,) = db.session.scalars(select(Order.id)).all()  # the viewer's, the only one
        with unit_of_work():
            orders.mark_paid_at_store(order_id, staff)
    report.reload()
    expect(live_row.locator("td").nth(0)).to_have_text("1")
    expect(live_row.locator("td").nth(2)).to_have_text("¥39.00")

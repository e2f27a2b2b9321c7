"""Headless Chromium on a phone set to Chinese: a guide opens the poster of their link from the
workbench, and it reads in Chinese: its title is drawn in real glyphs, not missing-glyph boxes,
and its price with "¥"."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops
from playwright.sync_api import expect

from distribution import posters, qr
from distribution.models import LinkTarget
from distribution.sharing import link_for
from shop.demo.factories import make_product, make_store
from shop.extensions import db
from tests.support import browser
from tests.test_distribution.test_posters import LINE_BAND, TITLE_BAND, require_cjk_font
from tests.test_distribution.test_workbench import PASSWORD, make_guide

pytestmark = pytest.mark.browser

app_config = browser.app_config
chromium = browser.chromium
live_server = browser.live_server


@pytest.fixture
def shop(app):
    with app.app_context():
        store = make_store("天河店", "广州")
        guide = make_guide(store, "李娜", "li@guides.test")
        product = make_product("明前龙井", price=6800, store=store)
        boxes = make_product(qr.MISSING * 4, price=6800, store=store)
        db.session.commit()
        return {
            "code": link_for(guide, LinkTarget.PRODUCT, product.id, "poster").code,
            "boxes": link_for(guide, LinkTarget.PRODUCT, boxes.id, "poster").code,
        }


def _image(body: bytes) -> Image.Image:
    return Image.open(io.BytesIO(body)).convert("RGB")


def test_a_guide_s_chinese_poster_reads_in_chinese(app, chromium, live_server, shop, monkeypatch):
    require_cjk_font()
    context = chromium.new_context(**{**browser.PHONE, "locale": "zh-CN"})
    context.set_default_timeout(30_000)  # a busy 2-core CI machine
    page = context.new_page()
    page.goto(live_server("/guide/login"))
    page.get_by_label("邮箱").fill("li@guides.test")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server("/guide"))

    link = page.locator(f"#link-{shop['code']}")
    link.locator("summary").click()
    poster_link = link.get_by_role("link", name="海报", exact=True)
    expect(poster_link).to_be_visible()
    with page.expect_response(lambda r: r.url.endswith("/poster.png")) as answer:
        poster_link.click()
    assert answer.value.status == 200
    poster = _image(answer.value.body())

    # The same poster's title drawn in characters no font has: what boxes look like.
    boxes = _image(context.request.get(live_server(f"/s/{shop['boxes']}/poster.png")).body())
    assert ImageChops.difference(poster.crop(TITLE_BAND), boxes.crop(TITLE_BAND)).getbbox()
    # And its price with the "¥" replaced by a box: the real sign is drawn.
    monkeypatch.setattr(posters, "price_text", lambda product: (qr.MISSING + "68.00", ""))
    boxed = _image(context.request.get(live_server(f"/s/{shop['code']}/poster.png")).body())
    assert ImageChops.difference(poster.crop(LINE_BAND), boxed.crop(LINE_BAND)).getbbox()
    context.close()

"""A shopper on a phone searches the catalog in Chinese and in English, in headless Chromium:
"茶" and "tea" find the same teas, each shown by its name in the shopper's language."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from shop.demo.factories import make_category, make_product, make_store
from shop.extensions import db
from tests.support import browser

pytestmark = pytest.mark.browser

app_config = browser.app_config
chromium = browser.chromium
phone_context = browser.phone_context
page = browser.page
live_server = browser.live_server


@pytest.fixture
def catalog(app):
    with app.app_context():
        store = make_store("天河店", "Guangzhou", name_en="Tianhe Store")
        tea = make_category("茶叶", name_en="Tea")
        make_product("茉莉绿茶", name_en="Jasmine Green Tea", category=tea, store=store)
        make_product("普洱茶饼", name_en="Pu'er Cake", category=tea, store=store)
        make_product("亚麻托特包", name_en="Linen Tote Bag", store=store)
        db.session.commit()


def _search(page, text: str) -> None:
    box = page.locator("form.search input[name=q]")
    box.fill(text)
    box.press("Enter")


def test_search_in_chinese_and_in_english(page, live_server, catalog):
    page.goto(live_server("/lang/zh_Hans_CN?next=/"))
    _search(page, "茶")
    names = page.locator(".grid .card .name")
    expect(names).to_have_count(2)
    expect(names.filter(has_text="茉莉绿茶")).to_be_visible()
    expect(names.filter(has_text="普洱茶饼")).to_be_visible()
    expect(page.locator(".grid")).not_to_contain_text("托特包")

    _search(page, "tea")  # an English word, a Chinese reader: Chinese names
    expect(names).to_have_count(2)
    expect(names.filter(has_text="茉莉绿茶")).to_be_visible()

    page.goto(live_server("/lang/en?next=/"))
    _search(page, "tea")
    expect(names).to_have_count(2)
    expect(names.filter(has_text="Jasmine Green Tea")).to_be_visible()
    expect(names.filter(has_text="Pu'er Cake")).to_be_visible()
    expect(page.locator(".grid")).not_to_contain_text("茉莉")

    _search(page, "茶")  # a Chinese word, an English reader: English names
    expect(names).to_have_count(2)
    expect(names.filter(has_text="Jasmine Green Tea")).to_be_visible()
    expect(page).to_have_url(live_server("/search?q=%E8%8C%B6"))

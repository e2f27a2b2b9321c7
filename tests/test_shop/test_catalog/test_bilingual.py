"""The catalog in both languages: each reader sees the names and descriptions of their own
language (the other's when one is missing), search finds a product by either name, and times
are written the way the reader's locale writes them."""

from __future__ import annotations

import html
import re
from datetime import datetime

import pytest

from shop.catalog.models import Store, Variant
from shop.demo.factories import make_category, make_product, make_store
from shop.extensions import db
from shop.i18n import medium_datetime
from tests.support.shop import order_for

EN, ZH = "en", "zh_Hans_CN"


@pytest.fixture
def teas(app):
    """Plain values: no app context stays pushed (it would keep one request's language for
    the next)."""
    with app.app_context():
        return _teas()


def _teas() -> dict:
    store = make_store("天河店", "Guangzhou", "88 Tianhe Rd", name_en="Tianhe Store")
    tea = make_category("茶叶", name_en="Tea", description="好茶", description_en="Good tea")
    jasmine = make_product(
        "茉莉绿茶",
        name_en="Jasmine Green Tea",
        category=tea,
        store=store,
        description="<p>福建春茶</p>",
        description_en="<p>Spring tea from Fujian</p>",
        variants=[("小罐", 4800, 10, "Small tin")],
    )
    make_product("桂花乌龙", category=tea, store=store)
    make_product("青瓷茶杯", name_en="Celadon Cup", store=store)
    db.session.commit()
    return {
        "store": store.id,
        "tea": tea.slug,
        "jasmine": jasmine.slug,
        "variant": jasmine.variants[0].id,
    }


def _page(client, path: str, language: str) -> str:
    client.set_cookie("lang", language)
    response = client.get(path)
    assert response.status_code == 200, path
    return html.unescape(response.get_data(as_text=True))


def _listing(page: str) -> str:
    """The page below the search box (which repeats the query)."""
    return page.split("</form>", 1)[1]


def test_each_reader_sees_names_and_descriptions_in_their_language(client, teas):
    slug = teas["jasmine"]
    english = _page(client, f"/p/{slug}", EN)
    assert "Jasmine Green Tea" in english and "Spring tea from Fujian" in english
    assert "茉莉绿茶" not in english and "福建春茶" not in english
    assert "Small tin" in english and "小罐" not in english  # its variant
    assert ">Tea</a>" in english  # its category

    chinese = _page(client, f"/p/{slug}", ZH)
    assert "茉莉绿茶" in chinese and "福建春茶" in chinese
    assert "Jasmine Green Tea" not in chinese and "Spring tea from Fujian" not in chinese
    assert "小罐" in chinese and "Small tin" not in chinese
    assert ">茶叶</a>" in chinese

    home = _listing(_page(client, "/", EN))
    assert "Jasmine Green Tea" in home and "Celadon Cup" in home
    assert "桂花乌龙" in home  # no English name: the Chinese one rather than nothing
    category = _page(client, f"/c/{teas['tea']}", EN)
    assert "<h1>Tea</h1>" in category and "Good tea" in category
    assert "<h1>茶叶</h1>" in _page(client, f"/c/{teas['tea']}", ZH)


@pytest.mark.parametrize("language", [EN, ZH])
@pytest.mark.parametrize("query", ["茶", "tea", "TEA", "茉莉", "jasmine"])
def test_search_finds_a_product_by_either_name(client, teas, language, query):
    found = _listing(_page(client, f"/search?q={query}", language))
    name = "Jasmine Green Tea" if language == EN else "茉莉绿茶"
    assert name in found


def test_search_by_category_name_in_either_language(client, teas):
    assert "桂花乌龙" in _listing(_page(client, "/search?q=tea", ZH))  # its category is Tea
    found = _listing(_page(client, "/search?q=茶叶", EN))
    assert "Jasmine Green Tea" in found and "Celadon Cup" not in found


def _order(app, teas) -> str:
    with app.app_context():
        variant, store = (
            db.session.get(Variant, teas["variant"]),
            db.session.get(Store, teas["store"]),
        )
        return order_for(variant, store).token


def test_basket_and_order_pages_name_things_in_the_reader_s_language(app, client, teas):
    client.post("/cart/add", data={"variant": teas["variant"], "qty": 1})
    assert "Jasmine Green Tea" in _page(client, "/cart", EN)
    assert "茉莉绿茶" in _page(client, "/cart", ZH)

    token = _order(app, teas)
    assert "Tianhe Store" in _page(client, f"/o/{token}", EN)
    assert "天河店" in _page(client, f"/o/{token}", ZH)


def test_times_are_written_the_locale_s_way(app):
    moment = datetime(2026, 12, 6, 8, 13)  # stored in UTC; the shop is in Asia/Shanghai
    with app.test_request_context(headers={"Cookie": f"lang={EN}"}):
        assert medium_datetime(moment).replace("\u202f", " ") == "Dec 6, 2026, 4:13 PM"
    with app.test_request_context(headers={"Cookie": f"lang={ZH}"}):
        assert medium_datetime(moment) == "2026年12月6日 16:13"


def test_the_order_page_never_writes_a_date_in_digits_only(app, client, teas):
    token = _order(app, teas)
    all_digits = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b")
    english = _page(client, f"/o/{token}", EN)
    assert not all_digits.search(english)
    assert re.search(r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s[AP]M", english)
    chinese = _page(client, f"/o/{token}", ZH)
    assert not all_digits.search(chinese)
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d{1,2}:\d{2}", chinese)

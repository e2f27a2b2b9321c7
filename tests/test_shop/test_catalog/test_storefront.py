"""The storefront: listings, search, the product page, reviews, languages."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta

import pytest
from flask_babel import get_locale, refresh
from sqlalchemy import select

from shop.catalog import queries, reviews
from shop.catalog.models import Review
from shop.catalog.places import known_city
from shop.demo.factories import make_category, make_product
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Order
from tests.support.members import make_template
from tests.support.shop import make_owner, order_for, small_catalog


def _page(client, path: str, **kwargs) -> str:
    response = client.open(path, **kwargs)
    assert response.status_code == 200, path
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def catalog(ctx):
    store, tea_category, tea = small_catalog(stock_qty=5, price=9900)
    cups = make_category("Cups")
    cup = make_product("Celadon Cup", price=2500, stock_qty=50, category=cups, store=store)
    cotton = make_product("100% Cotton Bag", stock_qty=3, category=cups, store=store)
    snake = make_product("Green_Tea Tin", stock_qty=3, category=tea_category, store=store)
    retired = make_product("Retired Teapot", stock_qty=3, category=cups, store=store)
    retired.active = False
    db.session.commit()
    return {
        "store": store,
        "tea": tea,
        "cup": cup,
        "cotton": cotton,
        "snake": snake,
        "retired": retired,
        "tea_category": tea_category,
        "cups": cups,
    }


def test_home_and_category_list_active_products(client, catalog):
    home = _page(client, "/")
    for name in ("Green Tea", "Celadon Cup", "100% Cotton Bag", "Green_Tea Tin"):
        assert name in home
    assert "Retired Teapot" not in home

    cups = _page(client, f"/c/{catalog['cups'].slug}")
    assert "Celadon Cup" in cups and "100% Cotton Bag" in cups
    assert "Green Tea" not in cups and "Retired Teapot" not in cups
    assert client.get(f"/p/{catalog['retired'].slug}").status_code == 404


SEARCHES = [
    ("%", ["100% Cotton Bag"], ["Green Tea", "Celadon Cup", "Green_Tea Tin"]),
    ("_", ["Green_Tea Tin"], ["Green Tea", "Celadon Cup", "100% Cotton Bag"]),
    ("green", ["Green Tea", "Green_Tea Tin"], ["Celadon Cup"]),
    ("teapot", [], ["Retired Teapot"]),
    ("\\", [], ["Green Tea", "Celadon Cup"]),
    ("x" * 1000, [], ["Green Tea"]),
]


def test_search_treats_wildcards_as_text(client, catalog):
    for query, found, not_found in SEARCHES:
        page = client.get("/search", query_string={"q": query})
        assert page.status_code == 200
        listing = html.unescape(page.get_data(as_text=True)).split("</form>", 1)[1]
        for name in found:
            assert name in listing, (query, name)
        for name in not_found:
            assert name not in listing, (query, name)


def test_search_query_is_escaped(client, catalog):
    raw = client.get("/search", query_string={"q": '"><script>alert(1)</script>'}).get_data(
        as_text=True
    )
    assert "<script>alert(1)" not in raw
    assert "&lt;script&gt;alert(1)" in raw


def test_product_page_shows_price_sale_countdown_and_stock(client, catalog):
    tea = catalog["tea"].variants[0]
    ends = (utcnow() + timedelta(hours=5)).replace(microsecond=0)
    tea.sale_price = 6600
    tea.sale_starts_at = utcnow() - timedelta(hours=1)
    tea.sale_ends_at = ends
    tea.compare_at_price = 12000
    db.session.commit()

    page = _page(client, f"/p/{catalog['tea'].slug}")
    assert '<span class="price sale">¥66.00</span> <s>¥99.00</s>' in page
    assert f'data-ends="{ends.strftime("%Y-%m-%dT%H:%M:%SZ")}"' in page
    assert "Only 5 left" in page

    cup_page = _page(client, f"/p/{catalog['cup'].slug}")
    assert "¥25.00" in cup_page and "In stock" in cup_page
    assert 'data-ends="' not in cup_page


def test_a_sale_not_started_or_over_shows_the_normal_price(client, catalog):
    tea = catalog["tea"].variants[0]
    tea.sale_price = 6600
    tea.sale_starts_at = utcnow() + timedelta(hours=1)
    tea.sale_ends_at = utcnow() + timedelta(hours=2)
    sold_out = catalog["cotton"].variants[0]
    sold_out.sale_price = 100
    sold_out.sale_starts_at = utcnow() - timedelta(hours=2)
    sold_out.sale_ends_at = utcnow() - timedelta(hours=1)
    db.session.commit()

    tea_page = _page(client, f"/p/{catalog['tea'].slug}")
    assert '<span class="price">¥99.00</span>' in tea_page and "¥66.00" not in tea_page
    assert 'data-ends="' not in tea_page
    assert "¥1.00" not in _page(client, f"/p/{catalog['cotton'].slug}")


def test_sold_out_variant_cannot_be_chosen(client, ctx):
    store, _, _ = small_catalog()
    product = make_product(
        "Two Sizes", variants=[("Small", 1000, 0), ("Large", 2000, 4)], store=store
    )
    db.session.commit()
    small, large = product.variants

    page = _page(client, f"/p/{product.slug}")
    radios = dict(re.findall(r'<input type="radio" name="variant" value="(\d+)"([^>]*)>', page))
    assert radios[str(small.id)].split() == ["disabled"]
    assert radios[str(large.id)].split() == ["checked"]
    assert "Sold out" in page and "Only 4 left" in page


def test_description_is_sanitized(client, ctx):
    store, _, _ = small_catalog()
    product = make_product(
        "Pu-erh",
        store=store,
        description=(
            "<p>Aged <strong>ten</strong> years</p><script>alert('x')</script>"
            '<img src="x" onerror="alert(1)"><a href="javascript:alert(2)">trick</a>'
            '<a href="https://example.com/tea" onclick="steal()">farm</a>'
        ),
    )
    db.session.commit()

    response = client.get(f"/p/{product.slug}")
    raw = response.get_data(as_text=True)
    assert "<p>Aged <strong>ten</strong> years</p>" in raw
    assert "<script>alert" not in raw and "alert('x')" not in raw
    assert "onerror" not in raw and "onclick" not in raw and "javascript:" not in raw
    assert 'href="https://example.com/tea"' in raw


def test_a_description_written_straight_to_the_database_is_cleaned_when_shown(client, ctx):
    store, _, product = small_catalog()
    product.description_html = '<p>Fresh</p><script>alert("x")</script><b onclick="x()">b</b>'
    db.session.commit()

    raw = client.get(f"/p/{product.slug}").get_data(as_text=True)
    assert "<p>Fresh</p>" in raw
    assert "<script>alert" not in raw and "onclick" not in raw


def _paid_order(variant, store, staff, **overrides) -> Order:
    order = order_for(variant, store, **overrides)
    with unit_of_work():
        orders.mark_paid_at_store(order.id, staff)
    return db.session.get(Order, order.id)


def test_recent_buyers_come_from_paid_orders_and_show_only_the_city(client, catalog):
    store, tea = catalog["store"], catalog["tea"].variants[0]
    staff = make_owner()
    delivery = {"fulfilment": "delivery", "address": "8 Canal St"}
    _paid_order(
        tea, store, staff, city="Suzhou", name="Han Meimei", phone="13900004444", **delivery
    )
    order_for(tea, store, city="Ningbo", phone="13900005555", **delivery)  # unpaid
    cancelled = order_for(tea, store, city="Wuxi", phone="13900006666", **delivery)
    with unit_of_work():
        orders.cancel(cancelled.id, "changed mind", staff=staff)
    refunded = _paid_order(tea, store, staff, city="Jinan", phone="13900007777", **delivery)
    line = refunded.lines[0]
    with unit_of_work():
        orders.refund(refunded.id, {line.id: 1}, staff=staff, idempotency_key=uuid.uuid4().hex)

    page = _page(client, f"/p/{catalog['tea'].slug}")

    assert "Someone in Suzhou just bought this" in page
    for hidden in ("Ningbo", "Wuxi", "Jinan", "Han Meimei", "13900004444", "139****4444"):
        assert hidden not in page
    assert "just bought" not in _page(client, f"/p/{catalog['cup'].slug}")


def test_only_approved_reviews_are_shown(client, catalog):
    store, tea = catalog["store"], catalog["tea"].variants[0]
    staff = make_owner()
    first = _paid_order(tea, store, staff, name="Han Meimei", phone="13900004444")
    second = _paid_order(tea, store, staff, name="Li Lei", phone="13900005555")
    for order in (first, second):
        with unit_of_work():
            orders.mark_picked_up(order.id, staff)
    with unit_of_work():
        approved = reviews.submit_review(
            first, first.lines[0].id, "5", "<b>Lovely</b> <script>x()</script>"
        )
    with unit_of_work():
        reviews.submit_review(second, second.lines[0].id, "1", "Pending rant")
    with unit_of_work():
        reviews.moderate(approved, "approved", staff)

    raw = client.get(f"/p/{catalog['tea'].slug}").get_data(as_text=True)

    assert "&lt;b&gt;Lovely&lt;/b&gt; &lt;script&gt;x()&lt;/script&gt;" in raw
    assert "<script>x()" not in raw
    assert "Pending rant" not in raw
    assert "H**" in raw and "Han Meimei" not in raw
    assert "★ 5.0 · 1 review" in html.unescape(raw)


def test_review_from_the_order_page_after_pick_up_once_per_line(client, catalog):
    store, tea = catalog["store"], catalog["tea"].variants[0]
    order = order_for(tea, store, quantity=2)
    line_id = order.lines[0].id
    url = f"/o/{order.token}/review"
    form = {"line": str(line_id), "rating": "4", "body": "Fresh and green"}
    refused = "You can review what you bought once it has been shipped or picked up."
    staff = make_owner()

    unpaid = _page(client, url, method="POST", data=form, follow_redirects=True)
    assert refused in unpaid
    assert "Send review" not in unpaid
    with unit_of_work():
        orders.mark_paid_at_store(order.id, staff)
    paid = _page(client, url, method="POST", data=form, follow_redirects=True)
    assert refused in paid  # paid, but not in the customer's hands yet
    assert "Send review" not in paid
    assert db.session.scalar(select(Review.id)) is None

    with unit_of_work():
        orders.mark_picked_up(order.id, staff)
    assert "Send review" in _page(client, f"/o/{order.token}")
    for bad, message in [
        ({"rating": "9"}, "Choose a rating from 1 to 5 stars."),
        ({"rating": "x"}, "Choose a rating from 1 to 5 stars."),
        ({"line": str(line_id + 999)}, "That item is not part of this order."),
        ({"body": "x" * 2001}, "Please keep your review under 2000 characters."),
    ]:
        page = _page(client, url, method="POST", data={**form, **bad}, follow_redirects=True)
        assert message in page, bad
    assert db.session.scalar(select(Review.id)) is None

    done = _page(client, url, method="POST", data=form, follow_redirects=True)
    assert "Thank you! Your review will appear once it has been checked." in done
    again = _page(client, url, method="POST", data=form, follow_redirects=True)
    assert "You have already reviewed this item." in again

    review = db.session.scalars(select(Review)).one()
    assert (review.status, review.rating, review.body) == ("pending", 4, "Fresh and green")
    assert review.product_id == catalog["tea"].id


def test_language_switch_sets_a_cookie_and_returns_inside_the_shop(client, ctx):
    response = client.get("/lang/zh_Hans_CN", query_string={"next": "/search?q=tea"})

    assert response.status_code == 302
    assert response.headers["Location"] == "/search?q=tea"
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "zh_Hans_CN"
    assert '<html lang="zh-CN">' in client.get("/").get_data(as_text=True)

    stranger = client.application.test_client()
    stranger.get("/lang/klingon")
    assert stranger.get_cookie("lang") is None


def test_language_switch_refuses_to_leave_the_shop(client, ctx):
    for target in [
        "//evil.com",
        "https://evil.com/",
        "/\\evil.com",
        "\\\\evil.com",
        "/\t/evil.com",
        "/\n/evil.com",
        " //evil.com",
        "javascript:alert(1)",
        "",
    ]:
        response = client.get("/lang/en", query_string={"next": target})

        assert response.status_code == 302, target
        assert response.headers["Location"] == "/", target


def test_locale_is_chosen_by_cookie_then_browser_language(app):
    for cookie, accept, expected in [
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh_Hans_CN"),
        (None, "zh-Hans", "zh_Hans_CN"),
        (None, "en-GB,en;q=0.9", "en"),
        (None, "fr-FR", "en"),
        (None, None, "en"),
        ("zh_Hans_CN", "en-US", "zh_Hans_CN"),
        ("en", "zh-CN", "en"),
        ("xx", "zh-CN", "zh_Hans_CN"),
    ]:
        headers = {"Accept-Language": accept} if accept else {}
        if cookie:
            headers["Cookie"] = f"lang={cookie}"

        with app.test_request_context("/", headers=headers):
            assert str(get_locale()) == expected, (cookie, accept)


@pytest.mark.parametrize(
    "typed",
    [
        "加微信 tea8888 领红包",  # an ad
        "wxid_abc123",  # a WeChat id
        '=HYPERLINK("http://evil.example","Suzhou")',  # a formula
        "<b>Suzhou</b>",
        "Springfield",  # a place, but not a known one
    ],
)
def test_just_bought_never_shows_what_a_buyer_typed(client, catalog, typed):
    store, tea = catalog["store"], catalog["tea"].variants[0]
    delivery = {"fulfilment": "delivery", "address": "8 Canal St"}
    _paid_order(tea, store, make_owner(), city=typed, **delivery)

    page = _page(client, f"/p/{catalog['tea'].slug}")

    assert "just bought" not in page
    for fragment in ("tea8888", "wxid", "HYPERLINK", "Springfield", "<b>Suzhou"):
        assert fragment not in page


def test_just_bought_names_a_known_city_in_the_reader_s_language(client, catalog):
    store, tea = catalog["store"], catalog["tea"].variants[0]
    _paid_order(
        tea, store, make_owner(), city=" 江苏省苏州市 ", fulfilment="delivery", address="8 Canal St"
    )
    assert "Someone in Suzhou just bought this" in _page(client, f"/p/{catalog['tea'].slug}")
    with client.application.test_request_context(headers={"Accept-Language": "zh-CN"}):
        refresh()  # the test's app context remembers the locale of the last request
        assert [r.city for r in queries.recent_purchases(catalog["tea"].id)] == ["苏州"]


def test_just_bought_a_pick_up_names_the_store_s_city_not_the_typed_one(client, catalog):
    store, tea = catalog["store"], catalog["tea"].variants[0]  # the store is in Hangzhou
    _paid_order(tea, store, make_owner(), city="Call 13900001111 for cheap tea")
    page = _page(client, f"/p/{catalog['tea'].slug}")
    assert "Someone in Hangzhou just bought this" in page
    assert "13900001111" not in page


@pytest.mark.parametrize(
    ("typed", "known"),
    [
        ("杭州", "Hangzhou"),
        ("杭州市", "Hangzhou"),
        ("浙江省杭州市", "Hangzhou"),
        (" hangzhou ", "Hangzhou"),
        ("Hangzhou City", "Hangzhou"),
        ("ＨＡＮＧＺＨＯＵ", "Hangzhou"),
        ("xian", "Xi'an"),
        ("内蒙古自治区呼和浩特市", "Hohhot"),
        ("中国上海", "Shanghai"),
        ("广东省 广州市 天河区", "Guangzhou"),
        ("上海市浦东新区", "Shanghai"),
        ("", None),
        ("杭州 加微信", None),
        ("=1+1", None),
    ],
)
def test_known_cities(typed, known):
    found = known_city(typed)
    assert (found.en if found else None) == known


def test_product_page_shows_sales_compare_at_price_and_the_coupons_that_apply(client, catalog):
    store, tea, cup = catalog["store"], catalog["tea"], catalog["cup"]
    staff = make_owner()
    tea.variants[0].compare_at_price = 12900
    for _ in range(2):
        _paid_order(tea.variants[0], store, staff, quantity=2)
    order_for(tea.variants[0], store)  # unpaid: not a sale
    tea_id, category_id, cup_id = tea.id, catalog["tea_category"].id, cup.id
    now = utcnow()
    for name, values in [
        ("Everything", {"value": 1000}),
        ("Teas", {"value": 2000, "scope": "categories", "scope_ids": [category_id]}),
        ("This tea", {"value": 500, "scope": "products", "scope_ids": [tea_id]}),
        ("Cups only", {"value": 700, "scope": "products", "scope_ids": [cup_id]}),
        ("Not claimable", {"value": 800, "claimable": False}),
        ("Over", {"value": 900, "valid_until": now - timedelta(days=1)}),
        ("All gone", {"value": 600, "total_quantity": 1, "claimed_count": 1}),
    ]:
        make_template(name, **values)

    page = _page(client, f"/p/{tea.slug}")
    assert "4 sold" in page
    assert "<s>¥129.00</s>" in page
    chips = re.findall(r'<a class="chip" href="/coupons/\d+">([^<]+)</a>', page)
    assert chips == ["¥20.00 off", "¥10.00 off", "¥5.00 off"]  # biggest first
    assert "sold" not in _page(client, f"/p/{cup.slug}").split("<h1>")[0]  # none sold yet


def _card(page: str, name: str) -> str:
    return page.split(f'<span class="name">{name}</span>', 1)[1].split("</a>", 1)[0]


def test_a_product_card_shows_its_cheapest_price_from_when_variants_differ(app):
    """The card shows what the cheapest variant costs now, "from" it when prices differ (as
    the poster does); a product of one price shows that price alone."""
    with app.app_context():  # its own: each language's requests get theirs
        store, category, _tea = small_catalog()
        make_product("Celadon Cup", price=2500, category=category, store=store)
        make_product(
            "Mooncake Box",
            variants=[("莲蓉", 16800, 5, "Lotus"), ("红豆", 15800, 5, "Red bean")],
            category=category,
            store=store,
        )
        db.session.commit()
    english = _page(app.test_client(), "/")
    assert '<span class="price">From ¥158.00</span>' in _card(english, "Mooncake Box")
    assert '<span class="price">¥25.00</span>' in _card(english, "Celadon Cup")
    chinese = _page(app.test_client(), "/", headers={"Accept-Language": "zh-CN"})
    assert '<span class="price">¥158.00 起</span>' in _card(chinese, "Mooncake Box")

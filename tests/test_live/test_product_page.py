"""The product page shows a live session's viewers its live price while the price holds, as
checkout charges it; everyone else sees the product's own price. The page is kept once per
product, language and price state (``shop.hooks.price_state``): one render serves every viewer
of a session, and a live price opening or ending shows on the next view."""

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from live.factories import make_session, shelve
from live.models import LiveClaim, LiveSession, ShelfItem
from shop.catalog.models import Variant
from shop.demo.factories import make_product, make_store
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.orders.models import Order
from tests.support.live import on_air, watching
from tests.support.shop import checkout_form


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PAGE_CACHE_SECONDS": 60}


@pytest.fixture
def live(app):
    """ids: (store, variant, guide, session, shelf item), and the product's page."""
    with app.app_context():
        ids = on_air(price=9900, live_price=5900)
        slug = db.session.get(Variant, ids[1]).product.slug
    return ids, f"/p/{slug}"


def _viewer(app, session_id: int):
    client = app.test_client()
    watching(client, session_id)
    return client


def _at(monkeypatch, moment) -> None:
    for module in ("live.flash", "shop.catalog.models", "shop.catalog.views", "shop.web.pagecache"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: moment)


def _change(model, row_id: int, **values) -> None:
    row = db.session.get(model, row_id)
    for name, value in values.items():
        setattr(row, name, value)
    db.session.commit()


def test_a_viewer_sees_the_live_price_and_checkout_charges_it(app, live):
    (store_id, variant_id, _, session_id, _), page = live
    viewer = _viewer(app, session_id)
    html = viewer.get(page).get_data(as_text=True)
    big = html.split("data-variant-price>", 1)[1].split("</p>", 1)[0]
    assert "¥59.00" in big and "<s>¥99.00</s>" in big and "Live price" in big
    placed = viewer.post("/checkout", data=checkout_form(variant_id, store_id))
    assert placed.status_code == 303
    with app.app_context():
        order = db.session.scalar(select(Order))
        assert order.lines[0].unit_price == 5900 and order.live_session_id == session_id


def test_a_visitor_from_elsewhere_sees_the_products_own_price(app, live):
    (_, _, _, session_id, _), page = live
    _viewer(app, session_id).get(page)  # the live page is kept first: it must not leak
    html = app.test_client().get(page).get_data(as_text=True)
    assert "¥99.00" in html and "59.00" not in html and "Live price" not in html


def test_one_render_serves_every_viewer_of_the_session(app, live):
    (_, _, _, session_id, _), page = live
    assert "¥59.00" in _viewer(app, session_id).get(page).get_data(as_text=True)
    sent = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: sent.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        html = _viewer(app, session_id).get(page).get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert "¥59.00" in html and sent == []


def test_the_viewers_of_another_session_see_its_own_live_price(app, live):
    (_, _, guide_id, session_id, _), page = live
    with app.app_context():
        product = db.session.get(LiveSession, session_id).shelf[0].product
        other = make_session(product.store, "Evening tea live", on_air=True)
        shelve(other, product, 6900)
        db.session.commit()
        other_id = other.id
    assert "¥59.00" in _viewer(app, session_id).get(page).get_data(as_text=True)
    html = _viewer(app, other_id).get(page).get_data(as_text=True)
    assert "¥69.00" in html and "59.00" not in html


# The kept pages live 60 s here: each moment below falls within that, so the page shows the
# change only because it says when its prices change next.


def test_the_live_price_shows_on_the_next_view_once_its_window_opens(app, live, monkeypatch):
    (_, _, _, session_id, item_id), page = live
    opens = utcnow() + timedelta(seconds=20)
    with app.app_context():
        _change(ShelfItem, item_id, starts_at=opens)
    viewer = _viewer(app, session_id)
    before = viewer.get(page).get_data(as_text=True)
    assert "59.00" not in before and "¥99.00" in before

    _at(monkeypatch, opens + timedelta(seconds=1))
    assert "¥59.00" in viewer.get(page).get_data(as_text=True)


def test_the_live_price_is_gone_on_the_next_view_once_the_grace_has_passed(app, live, monkeypatch):
    (_, _, _, session_id, _), page = live
    now = utcnow()
    with app.app_context():  # the checkout grace (15 minutes) runs out in 30 s
        _change(LiveSession, session_id, last_heartbeat_at=now - timedelta(minutes=15, seconds=-30))
    viewer = _viewer(app, session_id)
    assert "¥59.00" in viewer.get(page).get_data(as_text=True)
    _at(monkeypatch, now + timedelta(seconds=31))
    html = viewer.get(page).get_data(as_text=True)
    assert "59.00" not in html and "Live price" not in html and "¥99.00" in html


def test_a_shelf_item_ending_shows_on_the_next_view_once_its_grace_has_passed(
    app, live, monkeypatch
):
    (_, _, _, session_id, item_id), page = live
    now = utcnow()
    with app.app_context():
        _change(ShelfItem, item_id, ends_at=now - timedelta(minutes=15, seconds=-30))
    viewer = _viewer(app, session_id)
    assert "¥59.00" in viewer.get(page).get_data(as_text=True)
    _at(monkeypatch, now + timedelta(seconds=31))
    assert "59.00" not in viewer.get(page).get_data(as_text=True)


def test_a_live_price_change_shows_on_the_next_view(app, live):
    (_, _, _, session_id, item_id), page = live
    viewer = _viewer(app, session_id)
    assert "¥59.00" in viewer.get(page).get_data(as_text=True)
    with app.app_context():
        _change(ShelfItem, item_id, live_price=4900)
    assert "¥49.00" in viewer.get(page).get_data(as_text=True)


# What is left: a viewer is told how many units the session's cap still allows at the live
# price, and sees the product sold out once the cap is, as checkout refuses it.


def _stock_text(html: str) -> str:
    return html.split('<span class="stock', 1)[1].split("</span>", 1)[0]


def test_a_viewer_sees_the_units_the_sessions_cap_still_allows(app, live):
    (_, _, _, session_id, item_id), page = live
    with app.app_context():  # a cap of 40, 37 taken; the product itself has 1,000 in stock
        _change(ShelfItem, item_id, sold=37)
    assert "Only 3 left" in _stock_text(_viewer(app, session_id).get(page).get_data(as_text=True))
    assert "In stock" in _stock_text(app.test_client().get(page).get_data(as_text=True))


def test_a_viewer_sees_the_product_sold_out_once_the_cap_is_and_checkout_agrees(app, live):
    (store_id, variant_id, _, session_id, item_id), page = live
    with app.app_context():
        _change(ShelfItem, item_id, sold=40)
    viewer = _viewer(app, session_id)
    html = viewer.get(page).get_data(as_text=True)
    assert "Sold out" in _stock_text(html) and "¥59.00" in html
    buy = html.split('<button class="btn primary"', 1)[1].split("</button>", 1)[0]
    assert "disabled" in buy and "Sold out" in buy
    refused = viewer.post("/checkout", data=checkout_form(variant_id, store_id))
    assert "sold out in this live session" in refused.get_data(as_text=True)

    other = app.test_client()
    html = other.get(page).get_data(as_text=True)
    assert "In stock" in _stock_text(html) and "Sold out" not in html
    assert other.post("/checkout", data=checkout_form(variant_id, store_id)).status_code == 303


def test_the_last_units_sold_at_checkout_show_as_sold_out_once_the_kept_page_ends(
    app, live, monkeypatch
):
    (store_id, variant_id, _, session_id, item_id), page = live
    with app.app_context():
        _change(ShelfItem, item_id, sold=38)
    watcher = _viewer(app, session_id)
    assert "Only 2 left" in _stock_text(watcher.get(page).get_data(as_text=True))
    buyer = _viewer(app, session_id)  # takes the last two: a conditional UPDATE, no ORM change
    bought = buyer.post("/checkout", data=checkout_form(variant_id, store_id, qty="2"))
    assert bought.status_code == 303
    assert "Only 2 left" in _stock_text(watcher.get(page).get_data(as_text=True))  # kept 60 s
    _at(monkeypatch, utcnow() + timedelta(seconds=61))
    assert "Sold out" in _stock_text(watcher.get(page).get_data(as_text=True))


# The lowest price wins (``shop.hooks.offered_prices``): coming from a live session never makes
# a buyer pay more, and only those who buy at the live price take the session's units.


def test_a_limited_time_price_below_the_live_price_is_what_a_viewer_sees_and_pays(app, live):
    (store_id, variant_id, _, session_id, item_id), page = live
    now = utcnow()
    with app.app_context():
        _change(
            Variant,
            variant_id,
            sale_price=4900,
            sale_starts_at=now - timedelta(hours=1),
            sale_ends_at=now + timedelta(hours=1),
        )
    viewer = _viewer(app, session_id)
    html = viewer.get(page).get_data(as_text=True)
    big = html.split("data-variant-price>", 1)[1].split("</p>", 1)[0]
    assert "¥49.00" in big and "59.00" not in html and "Live price" not in html
    assert viewer.post("/checkout", data=checkout_form(variant_id, store_id)).status_code == 303
    with app.app_context():
        order = db.session.scalar(select(Order))
        assert order.lines[0].unit_price == 4900 and order.live_session_id == session_id
        assert db.session.get(ShelfItem, item_id).sold == 0
        assert db.session.scalar(select(func.count(LiveClaim.id))) == 0


def test_a_variant_cheaper_than_a_whole_product_live_price_keeps_its_own_price(app):
    with app.app_context():
        store = make_store("Tea House", "Hangzhou", "1 West Lake Rd")
        product = make_product(
            "Green Tea", variants=[("50 g", 3900, 100), ("250 g", 9900, 100)], store=store
        )
        session = make_session(store, on_air=True)
        shelve(session, product, 5900)  # the whole product at ¥59
        db.session.commit()
        small, large = (v.id for v in product.variants)
        ids, page = (store.id, session.id), f"/p/{product.slug}"
    viewer = _viewer(app, ids[1])
    html = viewer.get(page).get_data(as_text=True)
    rows = html.split('<label class="variant', 3)[1:]
    assert "¥39.00" in rows[0] and "Live price" not in rows[0]
    assert "¥59.00" in rows[1] and "<s>¥99.00</s>" in rows[1] and "Live price" in rows[1]
    for variant_id, paid in ((small, 3900), (large, 5900)):
        placed = viewer.post("/checkout", data=checkout_form(variant_id, ids[0]))
        assert placed.status_code == 303
        with app.app_context():
            order = db.session.scalars(select(Order).order_by(Order.id.desc())).first()
            assert order.lines[0].unit_price == paid


def test_a_viewer_is_told_the_per_customer_limit_before_checkout_refuses_it(app, live):
    """The live price's limit of 2 is said on the product page, in the basket and at
    checkout, beside the live price; nobody else is told of it."""
    (_, variant_id, _, session_id, _), page = live
    viewer = _viewer(app, session_id)
    html = viewer.get(page).get_data(as_text=True)
    variant = html.split('class="variant', 1)[1].split("</label>", 1)[0]
    assert '<span class="pill offer">Live price</span> <small class="offer-note">' in variant
    assert "Limit 2 per customer" in variant
    assert "Limit 2" not in app.test_client().get(page).get_data(as_text=True)

    viewer.post("/cart/add", data={"variant": variant_id, "qty": 3})
    basket = viewer.get("/cart").get_data(as_text=True)
    assert "Live price" in basket and "Limit 2 per customer" in basket
    assert "At most 2 per customer at this price." in basket  # 3 in it: said at once
    checkout = viewer.get("/checkout", headers={"Accept-Language": "zh-CN"})
    assert '直播价</span> <small class="offer-note">每人限购 2 件</small>' in checkout.get_data(
        as_text=True
    )

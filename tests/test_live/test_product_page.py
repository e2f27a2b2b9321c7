"""The product page shows a live session's viewers its live price while the price holds, as
checkout charges it; everyone else sees the product's own price. The page is kept once per
product, language and price state (``shop.hooks.price_state``): one render serves every viewer
of a session, and a live price opening or ending shows on the next view."""

from datetime import timedelta

import pytest
from sqlalchemy import event

from live.models import LiveSession, ShelfItem
from shop.catalog.models import Variant
from shop.extensions import db
from shop.infra.clock import utcnow
from tests.support.live import on_air, watching


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
    (_, variant_id, _, session_id, _), page = live
    viewer = _viewer(app, session_id)
    html = viewer.get(page).get_data(as_text=True)
    big = html.split("data-variant-price>", 1)[1].split("</p>", 1)[0]
    assert "¥59.00" in big and "<s>¥99.00</s>" in big and "Live price" in big
    checkout = viewer.get(f"/checkout?variant={variant_id}&qty=1").get_data(as_text=True)
    assert "59.00" in checkout and "Live price" in checkout


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


def test_the_live_price_shows_on_the_next_view_once_its_window_opens(app, live, monkeypatch):
    (_, _, _, session_id, item_id), page = live
    opens = utcnow() + timedelta(minutes=5)
    with app.app_context():
        _change(ShelfItem, item_id, starts_at=opens)
    viewer = _viewer(app, session_id)
    before = viewer.get(page).get_data(as_text=True)
    assert "59.00" not in before and "¥99.00" in before

    _at(monkeypatch, opens + timedelta(seconds=1))
    assert "¥59.00" in viewer.get(page).get_data(as_text=True)


def test_the_live_price_is_gone_on_the_next_view_once_the_grace_has_passed(app, live, monkeypatch):
    (_, _, _, session_id, _), page = live
    viewer = _viewer(app, session_id)
    assert "¥59.00" in viewer.get(page).get_data(as_text=True)
    with app.app_context():
        last = db.session.get(LiveSession, session_id).last_heartbeat_at
    _at(monkeypatch, last + timedelta(minutes=16))  # the checkout grace is 15 minutes
    html = viewer.get(page).get_data(as_text=True)
    assert "59.00" not in html and "Live price" not in html and "¥99.00" in html


def test_a_live_price_change_shows_on_the_next_view(app, live):
    (_, _, _, session_id, item_id), page = live
    viewer = _viewer(app, session_id)
    assert "¥59.00" in viewer.get(page).get_data(as_text=True)
    with app.app_context():
        _change(ShelfItem, item_id, live_price=4900)
    assert "¥49.00" in viewer.get(page).get_data(as_text=True)

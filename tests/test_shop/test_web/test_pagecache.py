"""The product page is rendered once for every visitor and kept (``shop.web.pagecache``);
each visitor's own parts are filled in per request. What a page shows changes on the next
view after a price change, a stock-out or a limited-time price opening. Statement counts here
guard against regressions (a kept page costs none); speed is measured by ``make bench``."""

from datetime import timedelta

import pytest
from sqlalchemy import event

from distribution.factories import make_guide
from shop.catalog import views as catalog_views
from shop.catalog.models import Variant
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.web import pagecache
from tests.conftest import REDIS_URL
from tests.support.shop import small_catalog


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PAGE_CACHE_SECONDS": 60}


@pytest.fixture
def product(app):
    with app.app_context():
        store, _category, product = small_catalog(stock_qty=5, price=9900)
        make_guide(store, "Li Na", "li@guides.test", password="guide-password-1")
        db.session.commit()
        return product.slug, product.variants[0].id


@pytest.fixture
def statements(app):
    sent = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: sent.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    yield sent
    event.remove(engine, "before_cursor_execute", listener)


@pytest.fixture
def rendered(monkeypatch):
    """The product pages rendered in full from here on (their slugs)."""
    slugs = []
    real = catalog_views._product_page

    def counting(slug, *args):
        slugs.append(slug)
        return real(slug, *args)

    monkeypatch.setattr(catalog_views, "_product_page", counting)
    return slugs


@pytest.fixture
def two_processes(app_config, product):
    """Two apps on the same database and Redis, as two web processes; no page kept yet."""
    from shop.app import create_app

    config = {**app_config, "REDIS_URL": REDIS_URL}
    apps = create_app(config), create_app(config)
    with apps[0].app_context():
        pagecache.retire_pages(apps[0])  # nothing kept by an earlier test
    yield apps
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def change_variant(variant_id: int, **values) -> None:
    with unit_of_work():
        variant = db.session.get(Variant, variant_id)
        for name, value in values.items():
            setattr(variant, name, value)


def test_every_visitor_gets_the_kept_page_with_their_own_parts(app, product, statements):
    slug, variant_id = product
    first = app.test_client().get(f"/p/{slug}").get_data(as_text=True)
    assert "Only 5 left" in first and 'class="badge"' not in first

    shopper = app.test_client()
    shopper.post("/cart/add", data={"variant": variant_id, "qty": 2})  # a session, a message
    statements.clear()
    page = shopper.get(f"/p/{slug}").get_data(as_text=True)

    assert statements == []  # the kept page: no statement for a visitor with a session
    assert '<span class="badge">2</span>' in page
    assert 'class="flash' in page
    assert "Only 5 left" in page
    assert 'class="flash' not in shopper.get(f"/p/{slug}").get_data(as_text=True)  # shown once
    assert app.test_client().get(f"/p/{slug}").get_data(as_text=True) == first
    assert "<!--siyu-part" not in page


def test_a_signed_in_member_costs_no_statement(app, product, statements):
    slug, _variant_id = product
    app.test_client().get(f"/p/{slug}")
    member = app.test_client()
    with member.session_transaction() as session:
        session["customer_id"] = 1
        session.permanent = True
    member.get(f"/p/{slug}")  # the sign-in's first page (Flask-Login marks the session once)
    statements.clear()

    response = member.get(f"/p/{slug}")

    assert response.status_code == 200 and statements == []
    assert "Set-Cookie" not in response.headers  # an unchanged session is not re-signed


def test_a_guide_gets_their_share_box_on_the_kept_page(app, product):
    slug, _variant_id = product
    visitor_page = app.test_client().get(f"/p/{slug}").get_data(as_text=True)
    guide = app.test_client()
    guide.post("/guide/login", data={"email": "li@guides.test", "password": "guide-password-1"})

    page = guide.get(f"/p/{slug}").get_data(as_text=True)

    assert "Share this product" in page and 'form="share-make-link"' in page
    assert "Share this product" not in visitor_page
    assert f'data-url="http://localhost/p/{slug}"' in visitor_page


def test_a_price_change_shows_on_the_next_view(app, product):
    slug, variant_id = product
    client = app.test_client()
    assert "99.00" in client.get(f"/p/{slug}").get_data(as_text=True)
    with app.app_context():
        change_variant(variant_id, price=7700)
    page = client.get(f"/p/{slug}").get_data(as_text=True)
    assert "77.00" in page and "99.00" not in page


def test_a_stock_out_shows_on_the_next_view(app, product):
    slug, variant_id = product
    client = app.test_client()
    assert "Only 5 left" in client.get(f"/p/{slug}").get_data(as_text=True)
    with app.app_context():
        change_variant(variant_id, stock=0)
    page = client.get(f"/p/{slug}").get_data(as_text=True)
    assert "Sold out" in page and "Only 5 left" not in page


def test_a_limited_time_price_shows_when_its_window_opens(app, product, monkeypatch):
    slug, variant_id = product
    opens = utcnow() + timedelta(minutes=5)
    with app.app_context():
        change_variant(
            variant_id,
            sale_price=5500,
            sale_starts_at=opens,
            sale_ends_at=opens + timedelta(hours=1),
        )
    client = app.test_client()
    before = client.get(f"/p/{slug}").get_data(as_text=True)
    assert "55.00" not in before and "99.00" in before

    later = opens + timedelta(seconds=1)
    for module in ("shop.catalog.models", "shop.catalog.views", "shop.web.pagecache"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: later)
    page = client.get(f"/p/{slug}").get_data(as_text=True)
    assert "55.00" in page and "Limited-time price" in page


def test_a_page_is_kept_no_longer_than_its_ttl(app, product, monkeypatch):
    slug, variant_id = product
    client = app.test_client()
    client.get(f"/p/{slug}")
    with app.app_context():  # stock sold at checkout: a conditional UPDATE, no ORM change
        db.session.execute(db.update(Variant).where(Variant.id == variant_id).values(stock=3))
        db.session.commit()
    assert "Only 5 left" in client.get(f"/p/{slug}").get_data(as_text=True)
    later = utcnow() + timedelta(seconds=61)
    monkeypatch.setattr("shop.web.pagecache.utcnow", lambda: later)
    assert "Only 3 left" in client.get(f"/p/{slug}").get_data(as_text=True)


def test_near_its_end_a_page_is_renewed_by_one_request_while_the_others_serve_it(
    app, product, monkeypatch, rendered
):
    slug, variant_id = product
    start = utcnow()
    monkeypatch.setattr("shop.web.pagecache.utcnow", lambda: start)
    client = app.test_client()
    client.get(f"/p/{slug}")
    with app.app_context():  # stock sold at checkout: a conditional UPDATE, no ORM change
        db.session.execute(db.update(Variant).where(Variant.id == variant_id).values(stock=3))
        db.session.commit()
    near = start + timedelta(seconds=60 - pagecache.REFRESH_AHEAD / 2)  # the TTL is 60 s here
    monkeypatch.setattr("shop.web.pagecache.utcnow", lambda: near)

    with monkeypatch.context() as busy:  # another request is rendering its successor
        busy.setattr(pagecache.ProcessPages, "renew", lambda self, key: False)
        assert "Only 5 left" in client.get(f"/p/{slug}").get_data(as_text=True)
    assert len(rendered) == 1
    assert "Only 3 left" in client.get(f"/p/{slug}").get_data(as_text=True)  # renews it
    assert "Only 3 left" in client.get(f"/p/{slug}").get_data(as_text=True)  # kept anew
    assert len(rendered) == 2


def test_the_default_keeps_a_page_at_most_a_second(app):
    from shop.config import Config

    assert 0 < Config.PAGE_CACHE_SECONDS <= 1


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (make test sets it in CI)")
def test_with_redis_one_render_serves_every_process(product, two_processes, rendered, monkeypatch):
    slug, variant_id = product
    one, two = two_processes
    first = one.test_client().get(f"/p/{slug}").get_data(as_text=True)
    assert two.test_client().get(f"/p/{slug}").get_data(as_text=True) == first
    assert len(rendered) == 1
    with two.app_context():
        change_variant(variant_id, price=6600)  # committed in the other process
    # The other process learns of it once it reads the catalog's generation again (twice the
    # interval: POSIX seconds as floats would make exactly one interval fall a hair short).
    later = utcnow() + timedelta(seconds=2 * pagecache.GENERATION_READ_EVERY)
    monkeypatch.setattr("shop.web.pagecache.utcnow", lambda: later)
    assert "66.00" in one.test_client().get(f"/p/{slug}").get_data(as_text=True)


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (make test sets it in CI)")
def test_with_redis_a_process_renews_a_page_with_the_one_another_process_rendered(
    product, two_processes, rendered, monkeypatch
):
    slug, variant_id = product
    one, two = two_processes
    start = utcnow()
    monkeypatch.setattr("shop.web.pagecache.utcnow", lambda: start)
    for app in (one, two):
        assert "Only 5 left" in app.test_client().get(f"/p/{slug}").get_data(as_text=True)
    assert len(rendered) == 1
    with one.app_context():  # stock sold at checkout: a conditional UPDATE, no ORM change
        db.session.execute(db.update(Variant).where(Variant.id == variant_id).values(stock=3))
        db.session.commit()
    near = start + timedelta(seconds=60 - pagecache.REFRESH_AHEAD / 2)  # the TTL is 60 s here
    monkeypatch.setattr("shop.web.pagecache.utcnow", lambda: near)

    assert "Only 3 left" in one.test_client().get(f"/p/{slug}").get_data(as_text=True)
    assert len(rendered) == 2  # the first process renewed it by rendering
    assert "Only 3 left" in two.test_client().get(f"/p/{slug}").get_data(as_text=True)
    assert len(rendered) == 2  # the second took that render from Redis


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (make test sets it in CI)")
def test_with_redis_a_process_serves_its_copy_and_reads_the_generation_now_and_then(
    product, two_processes, monkeypatch
):
    """The page's text crosses from Redis once per process and page; views after that read
    nothing from Redis but the catalog generation, at most every GENERATION_READ_EVERY; a
    change committed in the process shows on its next view."""
    slug, variant_id = product
    one, _other = two_processes
    with one.app_context():
        pages = pagecache._pages(one)
    asked = []
    real_get = pages.redis.get
    pages.redis.get = lambda key: asked.append(key) or real_get(key)
    start = utcnow()
    monkeypatch.setattr("shop.web.pagecache.utcnow", lambda: start)
    client = one.test_client()
    first = client.get(f"/p/{slug}").get_data(as_text=True)
    asked.clear()
    assert client.get(f"/p/{slug}").get_data(as_text=True) == first
    assert asked == []
    later = start + timedelta(seconds=2 * pagecache.GENERATION_READ_EVERY)
    monkeypatch.setattr("shop.web.pagecache.utcnow", lambda: later)
    assert client.get(f"/p/{slug}").get_data(as_text=True) == first
    assert asked == [pagecache.GENERATION_KEY]
    with one.app_context():
        change_variant(variant_id, price=7700)
    assert "77.00" in client.get(f"/p/{slug}").get_data(as_text=True)

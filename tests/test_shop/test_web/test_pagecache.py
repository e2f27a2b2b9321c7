"""Product pages are kept briefly for visitors with an empty session, never for others."""

import pytest
from sqlalchemy import update

from shop.catalog.models import Variant
from shop.extensions import db
from tests.support.shop import small_catalog


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PAGE_CACHE_SECONDS": 60}


def test_anonymous_visitors_share_a_cached_page_others_get_theirs(app, client):
    with app.app_context():
        _store, _category, product = small_catalog(stock_qty=5)
        slug, variant_id = product.slug, product.variants[0].id
    first = client.get(f"/p/{slug}").get_data(as_text=True)
    assert "Only 5 left" in first
    with app.app_context():
        db.session.execute(update(Variant).where(Variant.id == variant_id).values(stock=3))
        db.session.commit()
    assert client.get(f"/p/{slug}").get_data(as_text=True) == first  # within the TTL
    assert "Only 3 left" in app.test_client().get(f"/p/{slug}?ref=x").get_data(as_text=True)
    client.post("/cart/add", data={"variant": variant_id, "qty": 1})  # now has a session
    page = client.get(f"/p/{slug}").get_data(as_text=True)
    assert "Only 3 left" in page
    other_language = app.test_client().get(f"/p/{slug}", headers={"Accept-Language": "zh-CN"})
    assert other_language.status_code == 200

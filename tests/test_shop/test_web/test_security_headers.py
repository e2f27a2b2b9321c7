"""Security headers on every page: a content security policy (the staff panel and the guide
workbench never framed), nosniff, a referrer policy; order pages never indexed."""

from __future__ import annotations

from tests.support.shop import checkout_form, small_catalog


def test_storefront_pages_carry_the_headers(ctx, client):
    small_catalog()
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'self'" in policy
    assert "object-src 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "X-Robots-Tag" not in response.headers


def test_the_staff_panel_and_the_workbench_cannot_be_framed(ctx, client):
    for path in ("/admin/login", "/guide/login"):
        response = client.get(path)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
        assert response.headers["X-Frame-Options"] == "DENY", path


def test_order_pages_are_never_indexed(ctx, client):
    store, _category, product = small_catalog()
    placed = client.post("/checkout", data=checkout_form(product.variants[0].id, store.id))
    page = client.get(placed.headers["Location"])
    assert page.status_code == 200
    assert page.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert client.get("/orders").headers["X-Robots-Tag"] == "noindex, nofollow"


def test_error_pages_carry_them_too(ctx, client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["X-Content-Type-Options"] == "nosniff"

"""The open API: keys, scopes, store pinning, pagination, errors, writes with Idempotency-Key,
the audit under the key's name, the rate limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import refresh
from openapi_spec_validator import validate
from sqlalchemy import func, select

from shop.api.models import ApiKey
from shop.catalog.models import Variant
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.orders.models import Order, Refund
from shop.staff.models import AuditLog
from tests.support.api import auth, make_key, posting, two_stores


@pytest.fixture
def shop(ctx):
    return two_stores()


def test_the_openapi_document_is_valid_3_1_and_the_docs_page_loads_its_assets_locally(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)
    for path in (
        "/api/v1/orders",
        "/api/v1/customers",
        "/api/v1/products",
        "/api/v1/commission-entries",
        "/api/v1/payouts",
        "/api/v1/sharers",
        "/api/v1/orders/{order_id}/refunds",
        "/api/v1/variants/{variant_id}/stock-adjustments",
    ):
        assert path in spec["paths"]
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert b"/api/v1/docs/assets/swagger-ui-bundle.js" in page.data
    assert b"//cdn" not in page.data and b"https://" not in page.data
    assert client.get("/api/v1/docs/assets/swagger-ui-bundle.js").status_code == 200


def test_a_key_is_hashed_at_rest_shown_once_and_revocable(ctx, client, shop):
    secret = make_key(["orders:read"])
    key = db.session.scalar(select(ApiKey))
    assert secret not in (key.secret_hash, key.prefix) and key.secret_hash != secret
    assert client.get("/api/v1/orders", headers=auth(secret)).status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).last_used_at is not None
    assert client.get("/api/v1/orders", headers=auth(secret + "x")).status_code == 401
    from shop.api import keys

    keys.revoke(key.id)
    db.session.commit()
    answer = client.get("/api/v1/orders", headers=auth(secret))
    assert answer.status_code == 401 and answer.get_json()["code"] == "unauthenticated"


def test_the_cli_makes_a_key_and_prints_its_secret_once(app, runner, ctx):
    result = runner.invoke(
        args=["api-keys", "create", "Warehouse", "--scope", "orders:read", "--store", "3"]
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("sy_")
    key = db.session.scalar(select(ApiKey))
    assert key.store_ids == [3] and key.scopes == ["orders:read"]
    assert secret not in runner.invoke(args=["api-keys", "list"]).output


def test_orders_page_by_cursor_filter_by_store_status_and_updated_since(ctx, client, shop):
    secret = make_key(["orders:read"])
    first = client.get("/api/v1/orders?limit=1", headers=auth(secret)).get_json()
    assert first["has_more"] is True and len(first["data"]) == 1
    second = client.get(
        f"/api/v1/orders?limit=1&after={first['next_after']}", headers=auth(secret)
    ).get_json()
    assert second["has_more"] is False
    assert [first["data"][0]["id"], second["data"][0]["id"]] == [
        shop.order.id,
        shop.other_order.id,
    ]
    only = client.get(
        f"/api/v1/orders?store_id={shop.other.id}&status=paid", headers=auth(secret)
    ).get_json()
    assert [o["id"] for o in only["data"]] == [shop.other_order.id]
    later = (utcnow() + timedelta(minutes=5)).isoformat() + "Z"
    assert (
        client.get(f"/api/v1/orders?updated_since={later}", headers=auth(secret)).get_json()["data"]
        == []
    )
    order = client.get(f"/api/v1/orders/{shop.order.id}", headers=auth(secret)).get_json()
    assert order["lines"][0]["quantity"] == 2 and order["payments"][0]["amount"] == 10000
    assert order["phone"] == "138****1234"  # no phones:read


def test_a_store_pinned_key_sees_and_changes_only_its_stores(ctx, client, shop):
    secret = make_key(stores=[shop.store.id])
    h = auth(secret)
    for path in ("/api/v1/orders", "/api/v1/customers", "/api/v1/products", "/api/v1/stores"):
        answer = client.get(path, headers=h)
        assert answer.status_code == 200, path
        assert len(answer.get_json()["data"]) == 1, path
    assert client.get(f"/api/v1/orders/{shop.other_order.id}", headers=h).status_code == 404
    assert (
        client.get(f"/api/v1/orders?store_id={shop.other.id}", headers=h).get_json()["data"] == []
    )
    assert (
        client.get(f"/api/v1/customers/{shop.other_order.customer_id}", headers=h).status_code
        == 404
    )
    other_variant = shop.other_product.variants[0]
    assert client.get(f"/api/v1/variants/{other_variant.id}", headers=h).status_code == 404
    assert client.get(f"/api/v1/products/{shop.other_product.id}", headers=h).status_code == 404
    assert client.get(f"/api/v1/stores/{shop.other.id}", headers=h).status_code == 404
    refused = client.post(
        f"/api/v1/variants/{other_variant.id}/stock-adjustments",
        json={"delta": 5},
        headers=posting(secret),
    )
    assert refused.status_code == 404
    refund = client.post(
        f"/api/v1/orders/{shop.other_order.id}/refunds",
        json={"lines": [{"line_id": shop.other_order.lines[0].id, "quantity": 1}]},
        headers=posting(secret),
    )
    assert refund.status_code == 404
    db.session.expire_all()
    assert db.session.get(Variant, other_variant.id).stock == 19
    assert db.session.scalar(select(func.count(Refund.id))) == 0


def test_a_key_without_the_scope_gets_403_with_a_code(ctx, client, shop):
    secret = make_key(["customers:read"])
    answer = client.get("/api/v1/orders", headers=auth(secret))
    assert answer.status_code == 403
    assert answer.get_json()["code"] == "missing_scope"
    write = client.post(f"/api/v1/orders/{shop.order.id}/picked-up", headers=posting(secret))
    assert write.status_code == 403
    read_only = make_key(["orders:read"], name="BI")
    write = client.post(f"/api/v1/orders/{shop.order.id}/picked-up", headers=posting(read_only))
    assert write.status_code == 403


def test_phones_are_shown_only_to_a_key_with_phones_read(ctx, client, shop):
    masked = client.get("/api/v1/customers", headers=auth(make_key(["customers:read"])))
    assert masked.get_json()["data"][0]["phone"] == "138****1234"
    full = client.get(
        "/api/v1/customers", headers=auth(make_key(["customers:read", "phones:read"], name="CRM"))
    )
    assert full.get_json()["data"][0]["phone"] == "13812341234"


@pytest.mark.parametrize(
    "path, field",
    [
        ("/api/v1/orders?limit=0", "limit"),
        ("/api/v1/orders?limit=251", "limit"),
        ("/api/v1/orders?after=x", "after"),
        ("/api/v1/orders?updated_since=yesterday", "updated_since"),
        ("/api/v1/orders?status=lost", "status"),
    ],
)
def test_bad_input_is_a_json_400_naming_the_field(ctx, client, path, field):
    answer = client.get(path, headers=auth(make_key()))
    assert answer.status_code == 400 and answer.is_json
    assert answer.get_json()["code"] == "invalid_input"
    assert answer.get_json()["field"] == field


def test_errors_are_json_in_the_callers_language_never_html(ctx, client):
    secret = make_key()
    missing = client.get("/api/v1/nothing", headers=auth(secret))
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"
    refresh()  # the test's app context (which requests share here) cached English
    chinese = client.get("/api/v1/orders", headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 401 and chinese.is_json
    assert "API" in chinese.get_json()["message"] and "请" in chinese.get_json()["message"]
    wrong_method = client.delete("/api/v1/orders", headers=auth(secret))
    assert wrong_method.status_code == 405 and wrong_method.is_json
    broken = client.post(
        "/api/v1/orders/1/refunds",
        data="{not json",
        headers={**posting(secret), "Content-Type": "application/json"},
    )
    assert broken.status_code == 400 and broken.is_json
    assert client.get("/no-such-page").content_type.startswith("text/html")  # storefront: HTML


def test_a_refund_through_the_api_runs_once_per_idempotency_key_and_is_audited(ctx, client, shop):
    secret = make_key(["orders:write"], name="ERP")
    line = shop.order.lines[0]
    body = {"lines": [{"line_id": line.id, "quantity": 1}], "reason": "damaged"}
    headers = posting(secret, "refund-1")
    first = client.post(f"/api/v1/orders/{shop.order.id}/refunds", json=body, headers=headers)
    assert first.status_code == 201, first.get_json()
    again = client.post(f"/api/v1/orders/{shop.order.id}/refunds", json=body, headers=headers)
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post(
        f"/api/v1/orders/{shop.order.id}/refunds",
        json={**body, "reason": "changed"},
        headers=headers,
    )
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"
    assert db.session.scalar(select(func.count(Refund.id))) == 1
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "order.refund"))
    assert entry.staff_id is None and entry.actor == "API: ERP"
    no_key = client.post(f"/api/v1/orders/{shop.order.id}/refunds", json=body, headers=auth(secret))
    assert no_key.status_code == 400 and no_key.get_json()["field"] == "Idempotency-Key"


def test_refusals_from_the_services_are_json_with_their_code(ctx, client, shop):
    secret = make_key(["orders:write", "stock:write"])
    line = shop.order.lines[0]
    too_many = client.post(
        f"/api/v1/orders/{shop.order.id}/refunds",
        json={"lines": [{"line_id": line.id, "quantity": 5}]},
        headers=posting(secret),
    )
    assert too_many.status_code == 400 and too_many.get_json()["code"] == "invalid_input"
    shipped = client.post(f"/api/v1/orders/{shop.order.id}/fulfil", headers=posting(secret))
    assert shipped.status_code == 409 and shipped.get_json()["code"] == "invalid_transition"
    variant = shop.product.variants[0]
    below_zero = client.post(
        f"/api/v1/variants/{variant.id}/stock-adjustments",
        json={"delta": -1000},
        headers=posting(secret),
    )
    assert below_zero.status_code == 409 and below_zero.get_json()["code"] == "out_of_stock"


def test_stock_adjustment_and_pick_up_through_the_api(ctx, client, shop):
    secret = make_key(["orders:write", "stock:write"], name="WMS")
    variant = shop.product.variants[0]
    answer = client.post(
        f"/api/v1/variants/{variant.id}/stock-adjustments",
        json={"delta": 7, "note": "delivery"},
        headers=posting(secret),
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["variant"]["stock"] == 18 + 7
    picked = client.post(f"/api/v1/orders/{shop.order.id}/picked-up", headers=posting(secret))
    assert picked.status_code == 200 and picked.get_json()["status"] == "picked_up"
    db.session.expire_all()
    assert db.session.get(Order, shop.order.id).status == "picked_up"
    actions = db.session.scalars(
        select(AuditLog.action).where(AuditLog.api_key_id.is_not(None))
    ).all()
    assert set(actions) == {"variant.stock_adjust", "order.picked_up"}


def test_the_rate_limit_answers_429_with_retry_after(ctx, client):
    secret = make_key(["orders:read"], burst=3, rate_per_second=1)
    codes = [client.get("/api/v1/orders", headers=auth(secret)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/api/v1/orders", headers=auth(secret))
    assert limited.get_json()["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    other = make_key(["orders:read"], name="Other")
    assert client.get("/api/v1/orders", headers=auth(other)).status_code == 200  # per key

"""API keys and webhooks in the admin: owners only; a key's secret shown once; endpoints
registered with their events and store; the delivery log replays."""

from __future__ import annotations

import re

from sqlalchemy import select

from shop.api.models import ApiKey, WebhookDelivery, WebhookEndpoint
from shop.extensions import db
from shop.staff.models import AuditLog, Role
from tests.support.api import Receiver, auth


def test_only_owners_reach_the_api_pages(as_role):
    for role in (Role.MANAGER, Role.FINANCE, Role.SUPPORT):
        client = as_role(role)
        for path in ("/admin/api-keys/", "/admin/webhooks/", "/admin/webhook-deliveries/"):
            assert client.get(path).status_code in (302, 403), (role, path)
    owner = as_role(Role.OWNER)
    for path in (
        "/admin/api-keys/",
        "/admin/webhooks/",
        "/admin/webhook-deliveries/",
        "/admin/webhook-attempts/",
    ):
        assert owner.get(path).status_code == 200, path


def test_an_owner_makes_a_store_pinned_key_sees_its_secret_once_and_it_works(
    as_role, shop_data, app
):
    client = as_role(Role.OWNER)
    answer = client.post(
        "/admin/api-keys/new/",
        data={
            "name": "ERP",
            "scope_list": ["orders:read"],
            "store_list": [str(shop_data.store_a)],
            "rate_per_second": "2",
            "burst": "40",
        },
        follow_redirects=True,
    )
    html = answer.get_data(as_text=True)
    secret = re.search(r"not shown again\. (sy_[A-Za-z0-9_-]+)", html).group(1)
    assert secret not in client.get("/admin/api-keys/").get_data(as_text=True)
    orders = client.get("/api/v1/orders", headers=auth(secret)).get_json()["data"]
    assert [o["store_id"] for o in orders] == [shop_data.store_a]
    with app.app_context():
        key = db.session.scalar(select(ApiKey))
        assert key.store_ids == [shop_data.store_a]
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "api_key.create"))


def test_an_owner_registers_an_endpoint_sends_a_test_event_and_replays_it(as_role, shop_data, app):
    receiver = Receiver().start()
    try:
        client = as_role(Role.OWNER)
        answer = client.post(
            "/admin/webhooks/new/",
            data={"address": receiver.url, "description": "ERP", "event_type_list": ["order.paid"]},
        )
        assert answer.status_code == 302
        with app.app_context():
            endpoint = db.session.scalar(select(WebhookEndpoint))
            assert endpoint.event_types == ["order.paid"] and endpoint.secret.startswith("whsec_")
            endpoint_id = endpoint.id
        client.post(
            "/admin/webhooks/action/",
            data={"action": "test", "rowid": [str(endpoint_id)]},
        )
        assert [e["type"] for e in receiver.events()] == ["webhook.test"]
        with app.app_context():
            delivery_id = db.session.scalar(select(WebhookDelivery.id))
        client.post(
            "/admin/webhook-deliveries/action/",
            data={"action": "replay", "rowid": [str(delivery_id)]},
        )
        assert [e["type"] for e in receiver.events()] == ["webhook.test", "webhook.test"]
        log = client.get("/admin/webhook-attempts/").get_data(as_text=True)
        assert "200" in log
    finally:
        receiver.stop()


def test_a_disabled_endpoint_is_flagged_on_the_list_and_the_home_page_until_enabled(
    as_role, shop_data, app
):
    from datetime import timedelta

    from shop.infra.clock import utcnow

    with app.app_context():
        now = utcnow()
        endpoint = WebhookEndpoint(
            url="https://erp.example.com/broken",
            event_types=[],
            secret="whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0",
            active=False,
            failing_since=now - timedelta(hours=25),
            disabled_at=now,
        )
        healthy = WebhookEndpoint(
            url="https://crm.example.com/ok", event_types=[], secret="whsec_x"
        )
        db.session.add_all([endpoint, healthy])
        db.session.commit()
        endpoint_id = endpoint.id
    client = as_role(Role.OWNER)
    listing = client.get("/admin/webhooks/").get_data(as_text=True)
    banner = listing.split('class="alert alert-danger siyu-endpoints-disabled"')[1].split("</div>")[
        0
    ]
    assert "https://erp.example.com/broken" in banner and "crm.example.com" not in banner
    assert "badge-danger" in listing  # the endpoint's row says it too
    home = client.get("/admin/").get_data(as_text=True)
    assert "siyu-webhooks-disabled" in home and "/admin/webhooks/" in home
    manager_home = as_role(Role.MANAGER).get("/admin/").get_data(as_text=True)
    assert "siyu-webhooks-disabled" not in manager_home  # only those who manage the API
    client = as_role(Role.OWNER)
    client.post("/admin/webhooks/action/", data={"action": "enable", "rowid": [str(endpoint_id)]})
    assert "siyu-endpoints-disabled" not in client.get("/admin/webhooks/").get_data(as_text=True)
    assert "siyu-webhooks-disabled" not in client.get("/admin/").get_data(as_text=True)

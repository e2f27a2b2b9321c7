"""Outgoing webhooks: events from the outbox, signed per Standard Webhooks, retried on the
schedule, every attempt logged, replayed on demand."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook

from shop.api import webhooks
from shop.api.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Order
from tests.support.api import MAILED, Receiver, make_key, posting, two_stores
from tests.support.members import owner, pay


@pytest.fixture
def app_config(app_config):
    return {**app_config, "MAIL_SENDER": "tests.support.api.CapturingMailer"}


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def endpoint_for(receiver, types=(), store=None) -> WebhookEndpoint:
    endpoint = webhooks.create_endpoint(receiver.url, list(types), store, owner())
    db.session.commit()
    return endpoint


def make_due(delivery_id=None) -> None:
    """Let the clock pass the next retry: every pending delivery (or one) is due now."""
    query = update(WebhookDelivery).where(WebhookDelivery.status == DeliveryStatus.PENDING)
    if delivery_id:
        query = query.where(WebhookDelivery.id == delivery_id)
    db.session.execute(query.values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def deliveries(event_type: str) -> list[WebhookDelivery]:
    db.session.expire_all()
    return db.session.scalars(
        select(WebhookDelivery)
        .join(WebhookEvent)
        .where(WebhookEvent.type == event_type)
        .order_by(WebhookDelivery.id)
    ).all()


def test_a_paid_and_a_refunded_order_reach_the_receiver_signed_and_verifiable(
    ctx, client, receiver
):
    endpoint = endpoint_for(receiver, ["order.paid", "order.refunded"])
    shop = two_stores()
    secret = make_key(["orders:write"])
    line = shop.order.lines[0]
    client.post(
        f"/api/v1/orders/{shop.order.id}/refunds",
        json={"lines": [{"line_id": line.id, "quantity": 1}]},
        headers=posting(secret),
    )
    events = receiver.events()
    assert [e["type"] for e in events] == ["order.paid", "order.paid", "order.refunded"]
    refunded = events[-1]
    assert set(refunded) == {"id", "type", "created_at", "api_version", "store_id", "data"}
    assert refunded["store_id"] == shop.store.id
    assert refunded["data"]["refund"]["lines"][0]["quantity"] == 1
    assert refunded["data"]["order"]["id"] == shop.order.id
    for headers, body in receiver.received:
        verified = Webhook(endpoint.secret).verify(body, {k.lower(): v for k, v in headers.items()})
        assert verified["id"] == headers["webhook-id"]


def test_a_receiver_that_fails_three_times_gets_the_event_again_each_time_then_no_more(
    ctx, receiver
):
    endpoint_for(receiver, ["order.paid"])
    receiver.script = [500, 503, 502]
    shop = two_stores(paid=False)
    pay(shop.order)
    assert len(receiver.received) == 1
    delivery = deliveries("order.paid")[0]
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert timedelta(seconds=4) < delivery.next_attempt_at - utcnow() <= timedelta(seconds=5)
    waits = []
    for _ in range(3):
        make_due()
        webhooks.redeliver_due()
        delivery = deliveries("order.paid")[0]
        if delivery.next_attempt_at:
            waits.append(delivery.next_attempt_at - utcnow())
    assert len(receiver.received) == 4
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 4
    assert timedelta(minutes=4) < waits[0] <= timedelta(minutes=5)
    assert timedelta(minutes=29) < waits[1] <= timedelta(minutes=30)
    make_due()
    webhooks.redeliver_due()
    assert len(receiver.received) == 4  # delivered: no more
    ids = {headers["webhook-id"] for headers, _body in receiver.received}
    assert len(ids) == 1  # the same event each time
    attempts = db.session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
    assert [a.status_code for a in attempts] == [500, 503, 502, 200]
    assert attempts[-1].response_start == '{"ok": true}'


def test_no_retry_on_a_4xx_but_408_and_429_are_retried_after_retry_after(ctx, receiver):
    endpoint_for(receiver, ["order.paid"])
    receiver.script = [(429, {"Retry-After": "120"}), 400]
    shop = two_stores(paid=False)
    pay(shop.order)
    delivery = deliveries("order.paid")[0]
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at - utcnow() > timedelta(seconds=100)  # Retry-After, not 5 s
    make_due()
    webhooks.redeliver_due()
    delivery = deliveries("order.paid")[0]
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_status == 400
    make_due()
    webhooks.redeliver_due()
    assert len(receiver.received) == 2


def test_an_endpoint_failing_for_a_day_is_disabled_and_the_owners_told(ctx, receiver):
    from shop.staff.models import AuditLog
    from tests.support.shop import make_owner

    endpoint = endpoint_for(receiver, ["order.paid"])
    make_owner("second-owner@example.com")
    receiver.script = [500, 500]
    shop = two_stores(paid=False)
    pay(shop.order)
    db.session.execute(update(WebhookEndpoint).values(failing_since=utcnow() - timedelta(hours=25)))
    db.session.commit()
    MAILED.clear()
    make_due()
    webhooks.redeliver_due()
    owners = sorted(to for to, _subject, _body in MAILED)
    assert owners == ["owner@example.com", "second-owner@example.com"]  # each owner, once
    _to, subject, body = MAILED[0]
    assert "disabled" in subject and receiver.url in body and "/admin/webhooks/" in body
    assert "已停用" in body  # in each of the shop's languages
    assert webhooks.tell_owners(endpoint.id) == 2  # the handler: every active owner
    db.session.expire_all()
    endpoint = db.session.get(WebhookEndpoint, endpoint.id)
    assert endpoint.active is False and endpoint.disabled_at is not None
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "webhook_endpoint.disabled"))
    pay(shop.other_order)
    assert deliveries("order.paid")[-1].event.data["order"]["id"] == shop.order.id  # no more


def test_rotation_signs_with_both_secrets_and_either_verifies(ctx, receiver):
    endpoint = endpoint_for(receiver)
    old = endpoint.secret
    new = webhooks.rotate_secret(endpoint, owner())
    webhooks.send_test(endpoint)
    db.session.commit()
    headers, body = receiver.received[-1]
    headers = {k.lower(): v for k, v in headers.items()}
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers)["type"] == "webhook.test"


def test_a_store_filter_and_event_types_choose_what_an_endpoint_gets(ctx, receiver):
    shop = two_stores(paid=False)
    endpoint_for(receiver, ["order.paid"], store=shop.other.id)
    pay(shop.order)
    pay(shop.other_order)
    with unit_of_work():
        orders.mark_picked_up(shop.other_order.id, owner())
    events = receiver.events()
    assert [(e["type"], e["store_id"]) for e in events] == [("order.paid", shop.other.id)]


def test_order_lifecycle_and_customer_events_are_announced(ctx, receiver):
    endpoint_for(receiver)
    shop = two_stores()
    with unit_of_work():
        orders.mark_picked_up(shop.order.id, owner())
    # order.placed falls due a second after the order (the checkout never waits on the
    # customer's text, which goes out on the same event); the sweep delivers it then.
    from shop.infra import outbox

    db.session.execute(update(outbox.OutboxEvent).values(available_at=utcnow()))
    db.session.commit()
    outbox.redispatch_due()
    types = [e["type"] for e in receiver.events()]
    assert types.count("order.placed") == 2 and types.count("customer.created") == 2
    assert types.count("order.paid") == 2 and types.count("order.picked_up") == 1
    assert types.index("order.paid") < types.index("order.picked_up")


def test_replay_one_delivery_or_a_time_range(ctx, receiver):
    endpoint = endpoint_for(receiver, ["order.paid"])
    shop = two_stores()
    assert len(receiver.received) == 2
    first = deliveries("order.paid")[0]
    webhooks.replay(first.id)
    db.session.commit()
    assert len(receiver.received) == 3
    count = webhooks.replay_range(
        endpoint, utcnow() - timedelta(minutes=5), utcnow() + timedelta(minutes=1)
    )
    db.session.commit()
    assert count == 2 and len(receiver.received) == 5
    assert json.loads(receiver.received[-1][1])["data"]["order"]["id"] == shop.other_order.id


def test_the_log_keeps_attempts_thirty_days(ctx, receiver):
    endpoint_for(receiver, ["order.paid"])
    two_stores()
    db.session.execute(
        update(WebhookAttempt)
        .where(WebhookAttempt.id == 1)
        .values(started_at=utcnow() - timedelta(days=31))
    )
    db.session.commit()
    assert webhooks.forget_old() >= 1
    assert len(db.session.scalars(select(WebhookAttempt)).all()) == 1


def test_stock_low_and_out_are_announced_when_crossed(ctx, receiver):
    from shop.api.models import ApiKey  # noqa: F401  (tables loaded)
    from shop.catalog import stock
    from shop.catalog.models import StockReason

    endpoint_for(receiver, ["stock.low", "stock.out"])
    shop = two_stores(paid=False)  # each order took 2 and 1 of 20: nothing low yet
    assert receiver.events() == []
    variant = shop.product.variants[0]
    stock.adjust(variant, -14, StockReason.ADJUST, owner())  # 18 -> 4: low
    db.session.commit()
    stock.adjust(variant, -1, StockReason.ADJUST, owner())  # 4 -> 3: still low, no new event
    db.session.commit()
    stock.adjust(variant, -3, StockReason.ADJUST, owner())  # 3 -> 0: out
    db.session.commit()
    assert [(e["type"], e["data"]["variant"]["stock"]) for e in receiver.events()] == [
        ("stock.low", 4),
        ("stock.out", 0),
    ]


def test_orders_that_take_stock_low_and_out_announce_it(ctx, receiver):
    from shop.api.models import ApiKey  # noqa: F401  (tables loaded)
    from tests.support.shop import order_for

    endpoint_for(receiver, ["stock.low", "stock.out"])
    shop = two_stores(paid=False)  # its order took 2 of 20: 18 left
    variant = shop.product.variants[0]
    order_for(variant, shop.store, quantity=5)  # 18 -> 13: not low
    order_for(variant, shop.store, quantity=9)  # 13 -> 4: low
    order_for(variant, shop.store, quantity=1)  # 4 -> 3: still low, no new event
    order_for(variant, shop.store, quantity=3)  # 3 -> 0: out
    assert [(e["type"], e["data"]["variant"]["stock"]) for e in receiver.events()] == [
        ("stock.low", 4),
        ("stock.out", 0),
    ]


def test_commission_and_payout_events_come_from_distribution(ctx, client, receiver):
    from distribution.commission import approve_payout, settle_due_commissions
    from distribution.factories import make_guide
    from distribution.sharing import link_for
    from tests.support.shop import checkout_form

    endpoint_for(receiver, ["commission.accrued", "commission.settled", "payout.paid"])
    shop = two_stores(paid=False)
    guide = make_guide(shop.store, "Li Na")
    link = link_for(guide, "product", shop.product.id)
    db.session.commit()
    client.get(f"/s/{link.code}")
    form = checkout_form(shop.product.variants[0].id, shop.store.id)
    client.post("/checkout", data=form)
    order = db.session.scalar(select(Order).where(Order.idempotency_key == form["idempotency_key"]))
    pay(order)
    with unit_of_work():
        settle_due_commissions(now=utcnow() + timedelta(days=30))
    with unit_of_work():
        approve_payout(guide.id, owner(), "CNY")
    types = [e["type"] for e in receiver.events()]
    assert types == ["commission.accrued", "commission.settled", "payout.paid"]
    accrued = receiver.events()[0]
    assert accrued["data"]["order_id"] == order.id and accrued["data"]["entries"][0]["amount"]

"""On PostgreSQL: the same Idempotency-Key sent twice at once gives one refund; a receiver
that is down while Redis is down still gets every event once both are back."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from shop.api import webhooks
from shop.api.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from shop.extensions import db
from shop.infra import outbox, queue
from shop.infra.clock import utcnow
from shop.orders.models import Refund
from tests.support.api import Receiver, make_key, posting, two_stores
from tests.support.members import owner, pay
from tests.support.races import all_at_once
from tests.support.redis_server import RedisServer
from tests.support.shop import serve

pytestmark = pytest.mark.postgres


def test_the_same_idempotency_key_twice_at_once_gives_one_refund(app, ctx):
    import requests

    shop = two_stores()
    secret = make_key(["orders:write"])
    line = shop.order.lines[0]
    body = {"lines": [{"line_id": line.id, "quantity": 1}]}
    headers = posting(secret, "same-key")
    with serve(app) as base:
        answers = all_at_once(
            4,
            lambda _i: requests.post(
                f"{base}/api/v1/orders/{shop.order.id}/refunds",
                json=body,
                headers=headers,
                timeout=30,
            ),
        )
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["id"] for a in answers}) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Refund.id))) == 1


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config, own_redis):
    return {**app_config, "REDIS_URL": own_redis.url}


def _drain(app, monkeypatch):
    """What the cron sweeps and an RQ worker do once Redis is back."""
    from rq import SimpleWorker

    monkeypatch.setattr(queue, "worker_app", lambda: app)
    for _round in range(3):  # the outbox's handler owes deliveries; they go out next round
        outbox.redispatch_due()
        webhooks.redeliver_due()
        rq_queue = queue.get_queue()
        SimpleWorker([rq_queue], connection=rq_queue.connection).work(burst=True)


def test_a_receiver_down_while_redis_is_down_gets_every_event_afterwards(
    app, ctx, own_redis, monkeypatch
):
    receiver = Receiver().start()
    port = receiver.server.server_port
    webhooks.create_endpoint(receiver.url, ["order.paid"], None, owner())
    db.session.commit()
    receiver.stop()  # the receiver is down
    shop = two_stores(paid=False)
    own_redis.stop()  # and so is Redis
    pay(shop.order)
    pay(shop.other_order)
    own_redis.start()
    _drain(app, monkeypatch)  # the receiver is still down: the attempts fail, retries are owed
    failed = db.session.scalars(select(WebhookAttempt)).all()
    assert len(failed) == 2 and all(a.status_code is None and a.error for a in failed)
    receiver.start(port)
    try:
        db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.status == DeliveryStatus.PENDING)
            .values(next_attempt_at=utcnow())
        )  # the clock reaches the retry
        db.session.commit()
        _drain(app, monkeypatch)
        paid = sorted(e["data"]["order"]["id"] for e in receiver.events())
        assert paid == sorted([shop.order.id, shop.other_order.id])
        _drain(app, monkeypatch)
        assert len(receiver.received) == 2  # once each
    finally:
        receiver.stop()


def test_the_rate_limit_is_shared_by_two_app_processes_through_redis(app, ctx, own_redis):
    """Two apps (as two gunicorn workers: each its own limiter and Redis connection) count one
    key's requests together; the place freed a second later is free on either."""
    import time

    from shop.app import create_app
    from tests.support.api import auth

    secret = make_key(["orders:read"], burst=3, rate_per_second=1)
    other = create_app({**app.config, "REDIS_URL": own_redis.url})
    first, second = app.test_client(), other.test_client()

    def get(client):
        return client.get("/api/v1/orders", headers=auth(secret))

    started = time.monotonic()
    codes = [get(c).status_code for c in (first, second, first, second)]
    limited = get(first)
    assert time.monotonic() - started < 1, "too slow to test a 1-s window"
    assert codes == [200, 200, 200, 429] and limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    time.sleep(max(0.0, started + 1.2 - time.monotonic()))
    assert [get(second).status_code, get(first).status_code] == [200, 200]  # refilled, for both

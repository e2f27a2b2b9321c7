"""Redis down while payments arrive: the shop answers as usual, and once Redis is back every
payment carries its commission and points, exactly once. On PostgreSQL, with a Redis of the
test's own (``tests/support/redis_server.py``): the shared Redis is never stopped."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from distribution.commission import verify_ledger
from distribution.factories import make_guide
from distribution.models import CommissionEntry
from distribution.sharing import link_for
from shop.catalog import stock
from shop.extensions import db
from shop.hooks import hooks
from shop.infra import outbox, queue
from shop.infra.outbox import OutboxEvent, OutboxStatus
from shop.infra.unit_of_work import unit_of_work
from shop.members import points
from shop.members.models import PointsEntry
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus
from tests.support.fakestripe import deliver, event
from tests.support.redis_server import RedisServer
from tests.support.shop import checkout_form, make_owner, small_catalog, stripe_checkout

pytestmark = pytest.mark.postgres


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config, own_redis, fake_stripe):
    return {**app_config, **fake_stripe.app_config(), "REDIS_URL": own_redis.url}


def _effects(order_id):
    db.session.expire_all()
    accruals = db.session.scalar(
        select(func.count())
        .select_from(CommissionEntry)
        .where(CommissionEntry.order_id == order_id, CommissionEntry.kind == "accrue")
    )
    earned = db.session.scalar(
        select(func.count())
        .select_from(PointsEntry)
        .where(PointsEntry.order_id == order_id, PointsEntry.kind == "earn")
    )
    return accruals, earned


def _drain(app, monkeypatch):
    """What ``flask jobs cron`` and ``rq worker`` do once Redis is back: the sweep hands the
    pending events to RQ, a worker runs them."""
    from rq import SimpleWorker

    outbox.redispatch_due()
    monkeypatch.setattr(queue, "worker_app", lambda: app)
    rq_queue = queue.get_queue()
    SimpleWorker([rq_queue], connection=rq_queue.connection).work(burst=True)


def test_payments_while_redis_is_down_are_delivered_once_it_is_back(
    app, ctx, client, own_redis, fake_stripe, monkeypatch
):
    store, _category, product = small_catalog(stock_qty=50, price=10000)
    guide = make_guide(store, "Li Na")
    link = link_for(guide, "product", product.id)
    db.session.commit()
    assert client.get(f"/s/{link.code}").status_code == 302  # the customer came by the link
    variant_id = product.variants[0].id

    own_redis.stop()
    # Checkout answers as usual: the order is placed, its expiry waits in the outbox.
    form = checkout_form(variant_id, store.id, qty="2")
    assert client.post("/checkout", data=form).status_code == 303
    at_store = db.session.scalar(
        select(Order).where(Order.idempotency_key == form["idempotency_key"])
    )
    response, by_stripe = stripe_checkout(client, variant_id, store.id, qty="2")
    assert response.status_code == 303

    # A staff member takes the money at the counter; Stripe confirms the other payment.
    with unit_of_work():
        assert orders.mark_paid_at_store(at_store.id, make_owner())
    paid = event("checkout.session.completed", fake_stripe.pay(by_stripe.stripe_session_id))
    assert deliver(client, paid).get_json() == {"result": "paid"}
    assert deliver(client, paid).get_json() == {"result": "duplicate"}  # Stripe's retry

    assert _effects(at_store.id) == (0, 0) and _effects(by_stripe.id) == (0, 0)
    owed = db.session.scalars(select(OutboxEvent).where(OutboxEvent.topic == "order.paid")).all()
    per_payment = len(hooks().handlers["order.paid"])  # commission, points, webhooks, ...
    assert len(owed) == 2 * per_payment and {e.status for e in owed} == {OutboxStatus.PENDING}

    own_redis.start()
    _drain(app, monkeypatch)
    assert _effects(at_store.id) == (1, 1)  # the guide's commission (one line), the points
    assert _effects(by_stripe.id) == (1, 1)
    _drain(app, monkeypatch)  # a second sweep and worker change nothing
    assert _effects(at_store.id) == (1, 1) and _effects(by_stripe.id) == (1, 1)
    assert verify_ledger() == [] and points.ledger_breaches() == []
    assert stock.ledger_breaches() == []
    for order in (at_store, by_stripe):
        assert db.session.get(Order, order.id).status == OrderStatus.PAID

"""PostgreSQL restarts cost nothing: every pooled connection is cut (as a restart cuts them,
with ``pg_terminate_backend`` on this test's own database only), and the next request, job
or outbox delivery still answers and does its work once."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select, text

from shop.extensions import db
from shop.infra import outbox
from shop.infra.outbox import OutboxEvent, OutboxStatus
from shop.infra.unit_of_work import unit_of_work
from shop.members.models import PointsEntry
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus
from tests.support.shop import checkout_form, make_owner, order_for, small_catalog

pytestmark = pytest.mark.postgres


def cut_every_connection(app) -> int:
    """What a PostgreSQL restart does to the app's pool: every connection to its database dies."""
    url = db.engine.url
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        cut = conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": url.database},
        )
    admin.dispose()
    return cut


def test_requests_after_a_restart_answer_as_usual(app, ctx, client):
    store, _category, product = small_catalog(stock_qty=5)
    variant_id, store_id, page = product.variants[0].id, store.id, f"/p/{product.slug}"
    assert client.get(page).status_code == 200  # the pool holds a connection
    db.session.remove()
    assert cut_every_connection(app) >= 1

    assert client.get(page).status_code == 200
    cut_every_connection(app)
    form = checkout_form(variant_id, store_id)
    assert client.post("/checkout", data=form).status_code == 303
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_a_delivery_after_a_restart_does_its_work_once(app, ctx):
    store, _category, product = small_catalog(stock_qty=5)
    order = order_for(product.variants[0], store)
    order_id = order.id
    # The payment's work is written but not delivered yet (as when Redis queues it).
    app.config["REDIS_URL"] = ""
    pending = []
    original = outbox.dispatch
    outbox.dispatch = lambda events: pending.extend(event_id for event_id, _delay in events)
    try:
        with unit_of_work():
            assert orders.mark_paid_at_store(order_id, make_owner())
    finally:
        outbox.dispatch = original
    earn = db.session.scalar(
        select(OutboxEvent.id).where(OutboxEvent.handler == "shop.members.jobs.earn_points")
    )
    assert earn in pending
    db.session.remove()
    cut_every_connection(app)

    assert outbox.deliver(earn) is True  # the claim met the dead connection and was made again
    assert outbox.deliver(earn) is False
    db.session.remove()
    event = db.session.get(OutboxEvent, earn)
    assert (event.status, event.attempts) == (OutboxStatus.DONE, 1)
    earned = db.session.scalar(
        select(func.count()).select_from(PointsEntry).where(PointsEntry.order_id == order_id)
    )
    assert earned == 1
    assert db.session.get(Order, order_id).status == OrderStatus.PAID


def test_a_handler_whose_connection_is_cut_mid_job_is_retried_with_one_effect(app, ctx):
    store, _category, product = small_catalog(stock_qty=5)
    order = order_for(product.variants[0], store)
    order_id = order.id
    calls = []

    def cut_then_work(order_id):
        calls.append(order_id)
        if len(calls) == 1:
            db.session.execute(text("SELECT 1"))
            cut_every_connection(app)
            db.session.execute(text("SELECT 1"))  # the worker's connection died mid-job
        from shop.members.jobs import earn_points

        earn_points(order_id)

    import tests.test_shop.test_infra.test_disconnects as here

    here.cut_then_work = cut_then_work
    from shop.hooks import hooks

    paid = hooks(app).handlers["order.paid"]
    paid[paid.index("shop.members.jobs.earn_points")] = (
        "tests.test_shop.test_infra.test_disconnects.cut_then_work"
    )
    with unit_of_work():
        assert orders.mark_paid_at_store(order_id, make_owner())
    db.session.remove()
    event = db.session.scalar(
        select(OutboxEvent).where(OutboxEvent.handler.endswith("cut_then_work"))
    )
    event_id = event.id
    assert (event.status, event.attempts) == (OutboxStatus.PENDING, 1)
    assert "terminating connection" in event.last_error

    db.session.execute(
        OutboxEvent.__table__.update()
        .where(OutboxEvent.id == event_id)
        .values(available_at=func.now() - text("interval '1 hour'"))
    )
    db.session.commit()
    outbox.redispatch_due()
    db.session.remove()
    event = db.session.get(OutboxEvent, event_id)
    assert (event.status, event.attempts) == (OutboxStatus.DONE, 2)
    assert len(calls) == 2
    earned = db.session.scalar(
        select(func.count()).select_from(PointsEntry).where(PointsEntry.order_id == order_id)
    )
    assert earned == 1

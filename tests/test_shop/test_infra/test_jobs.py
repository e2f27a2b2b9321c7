"""Jobs: unpaid orders expire and give their stock back; on RQ when Redis is configured."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, timedelta
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import select, update

from shop.catalog.models import StockMovement, Variant
from shop.extensions import db
from shop.infra import outbox, queue
from shop.infra.clock import utcnow
from shop.infra.outbox import OutboxEvent
from shop.infra.unit_of_work import unit_of_work
from shop.orders import jobs
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus
from tests.support.shop import make_owner, order_for, small_catalog

S = OrderStatus
REDIS_URL = os.environ.get("REDIS_URL", "")
TEST_REDIS_DB = 15


def _expire_now(*order_ids: int) -> None:
    db.session.execute(
        update(Order)
        .where(Order.id.in_(order_ids))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def _state(order_id: int, variant_id: int) -> tuple[str, int, int]:
    """The order's status, the variant's stock and how many stock movements exist."""
    db.session.expire_all()
    return (
        db.session.get(Order, order_id).status,
        db.session.get(Variant, variant_id).stock,
        len(db.session.scalars(select(StockMovement.id)).all()),
    )


@pytest.fixture
def shop(ctx):
    store, _, product = small_catalog(stock_qty=10)
    return store, product.variants[0]


def test_expired_unpaid_order_is_cancelled_and_its_stock_released(app, shop):
    store, variant = shop
    order = order_for(variant, store, quantity=3)
    hold = timedelta(minutes=app.config["STORE_HOLD_MINUTES"])
    assert order.expires_at == order.created_at + hold
    assert jobs.expire_order(order.id) is False  # not due yet
    assert _state(order.id, variant.id) == (S.AWAITING_PAYMENT, 7, 2)
    _expire_now(order.id)

    assert jobs.expire_order(order.id) is True
    assert _state(order.id, variant.id) == (S.CANCELLED, 10, 3)
    release = db.session.scalars(select(StockMovement).order_by(StockMovement.id.desc())).first()
    assert (release.reason, release.delta, release.order_id) == ("release", 3, order.id)

    assert jobs.expire_order(order.id) is False
    assert _state(order.id, variant.id) == (S.CANCELLED, 10, 3)


def test_expiry_leaves_paid_and_flagged_orders_alone(shop):
    store, variant = shop
    paid = order_for(variant, store)
    with unit_of_work():
        orders.mark_paid_at_store(paid.id, make_owner())
    flagged = order_for(variant, store)
    db.session.get(Order, flagged.id).needs_review = True
    db.session.commit()
    _expire_now(paid.id, flagged.id)

    assert jobs.expire_order(paid.id) is False
    assert jobs.expire_order(flagged.id) is False
    assert jobs.expire_due_orders() == 0
    db.session.expire_all()
    assert db.session.get(Order, paid.id).status == S.PAID
    assert db.session.get(Order, flagged.id).status == S.AWAITING_PAYMENT
    assert db.session.get(Variant, variant.id).stock == 8


def test_expire_orders_command_sweeps_due_orders(app, shop):
    store, variant = shop
    due = [order_for(variant, store, quantity=2).id for _ in range(2)]
    fresh = order_for(variant, store).id
    _expire_now(*due)

    result = app.test_cli_runner().invoke(args=["jobs", "expire-orders"])

    assert result.exit_code == 0, result.output
    assert "2 unpaid orders expired." in result.output
    db.session.expire_all()
    assert [db.session.get(Order, i).status for i in due] == [S.CANCELLED, S.CANCELLED]
    assert db.session.get(Order, fresh).status == S.AWAITING_PAYMENT
    assert db.session.get(Variant, variant.id).stock == 9

    again = app.test_cli_runner().invoke(args=["jobs", "expire-orders"])
    assert "0 unpaid orders expired." in again.output


def test_without_redis_a_job_runs_inline_and_a_delayed_one_by_the_sweep(app, shop):
    store, variant = shop
    first, second = (order_for(variant, store).id for _ in range(2))
    _expire_now(first, second)

    assert queue.enqueue("shop.orders.jobs.expire_order", first) is None
    assert _state(first, variant.id)[0] == S.CANCELLED

    before = threading.active_count()
    queue.enqueue("shop.orders.jobs.expire_order", second, delay=timedelta(milliseconds=50))
    assert threading.active_count() == before  # no thread waits for a delayed job
    assert _state(second, variant.id)[0] == S.AWAITING_PAYMENT

    sweeps = queue.InlineScheduler(app)
    sweeps.run_due(time.monotonic())
    assert _state(second, variant.id) == (S.CANCELLED, 10, 5)
    assert sweeps.due["shop.orders.jobs.expire_due_orders"] > time.monotonic()


def _dedicated_redis_url() -> str:
    """The configured Redis server, database 15: the tests' own, emptied before and after."""
    parts = urlsplit(REDIS_URL)
    return urlunsplit(parts._replace(path=f"/{TEST_REDIS_DB}"))


@pytest.fixture
def redis_url():
    if not REDIS_URL:
        pytest.skip("needs REDIS_URL (make test sets it with the PostgreSQL run in CI)")
    from redis import Redis

    url = _dedicated_redis_url()
    connection = Redis.from_url(url)
    connection.flushdb()
    yield url
    connection.flushdb()
    connection.close()


@pytest.fixture
def app_config(request, app_config) -> dict:
    if "redis_url" in request.fixturenames:
        return {**app_config, "REDIS_URL": request.getfixturevalue("redis_url")}
    return app_config


@pytest.mark.postgres
def test_place_order_schedules_its_expiry_on_rq(redis_url, shop):
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    store, variant = shop
    order = order_for(variant, store)

    rq_queue = queue.get_queue()
    registry = ScheduledJobRegistry(queue=rq_queue)
    expiry = db.session.scalar(
        select(OutboxEvent).where(OutboxEvent.topic == "order.reservation_ends")
    )
    assert (expiry.handler, expiry.args) == ("shop.orders.jobs.expire_order", [order.id])
    # The order's delayed events are scheduled on RQ, one job per delay: its text and webhook
    # together a second later; its expiry alone, due when the reservation ends.
    placed = db.session.scalars(
        select(OutboxEvent.id).where(OutboxEvent.topic == "order.placed")
    ).all()
    jobs = [Job.fetch(i, connection=rq_queue.connection) for i in registry.get_job_ids()]
    assert sorted(sorted(j.args[1]) for j in jobs) == sorted([sorted(placed), [expiry.id]])
    (job,) = [j for j in jobs if j.args == ("shop.infra.outbox.deliver_each", [expiry.id])]
    assert job.func_name == "shop.infra.queue.run_job"
    due = registry.get_scheduled_time(job).astimezone(UTC).replace(tzinfo=None)
    assert abs(due - (order.expires_at + timedelta(seconds=5))) < timedelta(seconds=3)
    assert _state(order.id, variant.id)[0] == S.AWAITING_PAYMENT


@contextmanager
def _redis_round_trips(monkeypatch) -> Iterator[list[str]]:
    """Every round trip to Redis made inside: a command's name, or "pipeline of N"."""
    from redis import Redis
    from redis.client import Pipeline

    trips: list[str] = []
    command, execute = Redis.execute_command, Pipeline.execute

    def one_command(self, *args, **options):
        trips.append(args[0])
        return command(self, *args, **options)

    def pipeline(self, *args, **options):
        trips.append(f"pipeline of {len(self.command_stack)}")
        return execute(self, *args, **options)

    with monkeypatch.context() as counting:
        counting.setattr(Redis, "execute_command", one_command)
        counting.setattr(Pipeline, "execute", pipeline)
        yield trips


@pytest.mark.postgres
def test_a_placement_hands_all_its_events_to_rq_in_one_round_trip(redis_url, shop, monkeypatch):
    from rq.registry import ScheduledJobRegistry

    store, variant = shop
    rq_queue = queue.get_queue()
    rq_queue.get_redis_server_version()  # asked once per queue
    with _redis_round_trips(monkeypatch) as round_trips:
        order_for(variant, store)

    assert len(round_trips) == 1 and round_trips[0].startswith("pipeline"), round_trips
    events = db.session.execute(select(OutboxEvent.id, OutboxEvent.available_at)).all()
    scheduled = ScheduledJobRegistry(queue=rq_queue).get_job_ids()
    # one job per moment the events fall due: the new customer's now, the order's text and
    # webhook a second later, its expiry when its reservation ends
    moments = {available_at for _id, available_at in events}
    assert len(events) >= 4 and len(rq_queue) + len(scheduled) == len(moments) == 3


@pytest.mark.postgres
def test_a_sweeps_backlog_goes_to_rq_in_jobs_of_events_and_round_trips_of_jobs(
    redis_url, shop, monkeypatch
):
    store, variant = shop
    for _ in range(3):
        order_for(variant, store)  # each hands its events over after its commit
    rq_queue = queue.get_queue()
    rq_queue.connection.flushdb()  # as if those hand-overs were lost
    monkeypatch.setattr(queue, "PIPELINE_JOBS", 4)
    monkeypatch.setattr(outbox, "EVENTS_PER_JOB", 2)
    db.session.execute(update(OutboxEvent).values(available_at=utcnow()))
    db.session.commit()
    due = len(db.session.scalars(select(OutboxEvent.id)).all())
    with _redis_round_trips(monkeypatch) as round_trips:
        assert outbox.redispatch_due() == due
    sizes = [trip for trip in round_trips if trip.startswith("pipeline")]
    jobs = -(-due // 2)  # jobs of at most two events (all due now)
    assert jobs > 4 and len(sizes) == -(-jobs // 4)  # round trips of at most four jobs
    assert len(rq_queue) == jobs


@pytest.mark.postgres
def test_a_worker_runs_the_job_in_its_own_app_context(app, redis_url, monkeypatch):
    """``rq worker`` calls jobs outside Flask; the job builds its app context itself."""
    from rq import SimpleWorker

    with app.app_context():
        store, _, product = small_catalog(stock_qty=10)
        variant_id = product.variants[0].id
        order_id = order_for(product.variants[0], store, quantity=4).id
        _expire_now(order_id)
        rq_queue = queue.get_queue()
        queued = len(rq_queue)  # what placing the order handed over (its webhook events)
        job = queue.enqueue("shop.orders.jobs.expire_order", order_id)
        queue.enqueue("shop.orders.jobs.expire_order", order_id)  # a job delivered twice
    assert len(rq_queue) == queued + 2
    monkeypatch.setattr(queue, "worker_app", lambda: app)

    worker = SimpleWorker([rq_queue], connection=rq_queue.connection)
    assert worker.work(burst=True) is True

    job.refresh()
    assert job.get_status() == "finished" and job.return_value() is True
    assert len(rq_queue) == 0
    with app.app_context():
        assert _state(order_id, variant_id) == (S.CANCELLED, 10, 3)


@pytest.mark.postgres
def test_a_payments_events_are_one_job_that_a_worker_runs_to_the_end(app, redis_url, monkeypatch):
    """A payment owes eight handlers their work: RQ gets one job for all of them (its own work
    per job paid once), and a worker delivers every event of it."""
    from rq import SimpleWorker

    with app.app_context():
        store, _, product = small_catalog(stock_qty=10)
        order_id = order_for(product.variants[0], store).id
        rq_queue = queue.get_queue()
        rq_queue.empty()  # what placing the order handed over
        with unit_of_work():
            assert orders.mark_paid_at_store(order_id, make_owner())
        paid = db.session.scalars(
            select(OutboxEvent.id).where(OutboxEvent.topic == "order.paid")
        ).all()
        assert len(paid) == 8 and len(rq_queue) == 1
        (job,) = rq_queue.get_jobs()
        assert job.args == ("shop.infra.outbox.deliver_each", sorted(paid))
    monkeypatch.setattr(queue, "worker_app", lambda: app)

    worker = SimpleWorker([rq_queue], connection=rq_queue.connection)
    assert worker.work(burst=True) is True

    job.refresh()
    assert job.get_status() == "finished" and job.return_value() == 8
    with app.app_context():
        statuses = db.session.scalars(
            select(OutboxEvent.status).where(OutboxEvent.id.in_(paid))
        ).all()
        assert statuses == ["done"] * 8

"""The outbox: what a change owes elsewhere is written with the change, delivered after commit,
retried with backoff, left visible when it keeps failing, and never lost when Redis is down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from shop.extensions import db
from shop.hooks import register_handler
from shop.infra import outbox
from shop.infra.clock import utcnow
from shop.infra.outbox import OutboxEvent, OutboxStatus
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Order
from tests.support.shop import make_owner, order_for, small_catalog

TOPIC = "test.flaky"
CALLS: list[int] = []
EFFECTS: list[int] = []
FAILURES = {"left": 0}


def flaky(value: int) -> None:
    """A handler whose outside system fails ``FAILURES['left']`` times, then works."""
    CALLS.append(value)
    if FAILURES["left"]:
        FAILURES["left"] -= 1
        raise RuntimeError("the CRM is down")
    EFFECTS.append(value)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "OUTBOX_MAX_ATTEMPTS": 3, "OUTBOX_RETRY_SECONDS": 10}


@pytest.fixture
def flaky_topic(ctx):
    CALLS.clear()
    EFFECTS.clear()
    FAILURES["left"] = 0
    register_handler(ctx, TOPIC, "tests.test_shop.test_infra.test_outbox.flaky")
    return ctx


def _event() -> OutboxEvent:
    db.session.expire_all()
    return db.session.scalar(select(OutboxEvent).where(OutboxEvent.topic == TOPIC))


def _make_due(event_id: int) -> None:
    db.session.execute(
        update(OutboxEvent).where(OutboxEvent.id == event_id).values(available_at=utcnow())
    )
    db.session.commit()


def test_a_paid_order_writes_its_work_in_the_payment_transaction_and_it_is_delivered(ctx):
    store, _category, product = small_catalog()
    order = order_for(product.variants[0], store)
    with unit_of_work():
        assert orders.mark_paid_at_store(order.id, make_owner())

    rows = db.session.scalars(select(OutboxEvent).where(OutboxEvent.topic == "order.paid")).all()
    assert sorted(row.handler for row in rows) == [
        "distribution.jobs.accrue_commission",
        "distribution.jobs.evaluate_levels",
        "live.jobs.settle_paid_live_order",
        "live.room_jobs.announce_purchase",
        "shop.api.webhooks.on_order_paid",
        "shop.members.jobs.earn_points",
        "shop.members.jobs.evaluate_tiers",
        "shop.members.jobs.reward_referral",
    ]
    assert {(row.status, row.attempts, tuple(row.args)) for row in rows} == {
        (OutboxStatus.DONE, 1, (order.id,))
    }


def test_a_rolled_back_change_leaves_no_work_behind(flaky_topic):
    outbox.publish(TOPIC, 1)
    db.session.rollback()
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
    assert CALLS == []


def test_publishing_the_same_event_twice_is_one_piece_of_work(flaky_topic):
    outbox.publish(TOPIC, 7)
    outbox.publish(TOPIC, 7)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(OutboxEvent)) == 1
    assert EFFECTS == [7]


def test_a_handler_that_fails_twice_then_succeeds_has_one_effect(flaky_topic):
    FAILURES["left"] = 2
    outbox.publish(TOPIC, 5)
    db.session.commit()  # delivered at once (in-process): first failure

    event = _event()
    assert (event.status, event.attempts, event.last_error) == (
        OutboxStatus.PENDING,
        1,
        "RuntimeError: the CRM is down",
    )
    # Backoff: not due again for OUTBOX_RETRY_SECONDS; the sweep leaves it alone until then.
    assert event.available_at > utcnow() + timedelta(seconds=5)
    assert outbox.redispatch_due() == 0

    _make_due(event.id)
    assert outbox.redispatch_due() == 1  # second failure, waits twice as long
    event = _event()
    assert event.attempts == 2 and event.available_at > utcnow() + timedelta(seconds=15)

    _make_due(event.id)
    outbox.redispatch_due()
    event = _event()
    assert (event.status, event.attempts, event.last_error) == (OutboxStatus.DONE, 3, "")
    assert CALLS == [5, 5, 5] and EFFECTS == [5]
    _make_due(event.id)
    assert outbox.redispatch_due() == 0 and not outbox.deliver(event.id)
    assert EFFECTS == [5]


def test_a_claimed_event_is_not_delivered_twice(flaky_topic):
    FAILURES["left"] = 1
    outbox.publish(TOPIC, 9)
    db.session.commit()
    event = _event()
    _make_due(event.id)
    # Another worker claims it first (its lease runs): this delivery finds nothing to do.
    db.session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event.id)
        .values(available_at=utcnow() + outbox.LEASE)
    )
    db.session.commit()
    assert outbox.deliver(event.id) is False
    assert CALLS == [9]


def test_a_handler_that_keeps_failing_stays_failed_until_retried(flaky_topic, client):
    FAILURES["left"] = 10
    outbox.publish(TOPIC, 3)
    db.session.commit()
    for _ in range(2):
        _make_due(_event().id)
        outbox.redispatch_due()
    event = _event()
    assert (event.status, event.attempts) == (OutboxStatus.FAILED, 3)
    assert "the CRM is down" in event.last_error
    _make_due(event.id)
    assert outbox.redispatch_due() == 0  # failed: nobody retries it by themselves

    make_owner()
    signed = client.post(
        "/admin/login", data={"email": "owner@example.com", "password": "correct horse battery"}
    )
    assert signed.status_code == 302
    page = client.get("/admin/outbox/?flt0_0=failed")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "the CRM is down" in text and "tests.test_shop.test_infra.test_outbox.flaky" in text
    found = client.get("/admin/outbox/", query_string={"search": TOPIC}).get_data(as_text=True)
    assert "the CRM is down" in found  # the search box finds an event by its name
    missed = client.get("/admin/outbox/", query_string={"search": "order.nothing"})
    assert "the CRM is down" not in missed.get_data(as_text=True)

    FAILURES["left"] = 0  # the cause is fixed
    answer = client.post(
        "/admin/outbox/action/", data={"action": "retry", "rowid": [str(event.id)]}
    )
    assert answer.status_code == 302
    event = _event()
    assert (event.status, event.attempts) == (OutboxStatus.DONE, 1)
    assert EFFECTS == [3]


def test_an_order_expiry_is_due_when_its_reservation_ends(ctx):
    store, _category, product = small_catalog()
    order = order_for(product.variants[0], store)
    event = db.session.scalar(
        select(OutboxEvent).where(OutboxEvent.topic == "order.reservation_ends")
    )
    assert event.args == [order.id] and event.status == OutboxStatus.PENDING
    assert event.available_at >= order.expires_at
    assert outbox.redispatch_due() == 0  # not due yet
    db.session.execute(
        update(Order).where(Order.id == order.id).values(expires_at=utcnow() - timedelta(1))
    )
    _make_due(event.id)
    assert outbox.redispatch_due() == 1
    assert db.session.get(Order, order.id).status == "cancelled"


def noop(value: int) -> None:
    """A handler with nothing to do."""


noop_too = noop_as_well = noop


def test_publishing_compiles_nothing_and_sends_one_statement_for_all_handlers(ctx):
    """The outbox insert is compiled once per process (a multi-values INSERT is never cached,
    so it once cost a compilation per publication); several handlers' rows are one statement."""
    from sqlalchemy import event
    from sqlalchemy.sql import compiler

    for name in ("noop", "noop_too", "noop_as_well"):
        register_handler(ctx, "test.many", f"tests.test_shop.test_infra.test_outbox.{name}")
    with unit_of_work():
        written = outbox.publish("test.many", 0)  # warms the statement cache
    compiled, sent = [], []
    original = compiler.SQLCompiler.__init__

    def counting(self, *args, **kwargs):
        compiled.append(1)
        original(self, *args, **kwargs)

    def statement(*args):
        sent.append(args[2])

    with unit_of_work():
        event.listen(db.engine, "before_cursor_execute", statement)
        compiler.SQLCompiler.__init__ = counting
        try:
            assert outbox.publish("test.many", 1) == written
            assert outbox.publish("test.nobody", 2) == 0  # no handler: nothing written
        finally:
            compiler.SQLCompiler.__init__ = original
            event.remove(db.engine, "before_cursor_execute", statement)

    assert compiled == []
    assert len(sent) == 1
    rows = db.session.scalars(select(OutboxEvent.id).where(OutboxEvent.topic == "test.many"))
    assert written == 3 and len(rows.all()) == 6


def test_several_topics_are_one_statement_and_each_event_keeps_its_delay(ctx, monkeypatch):
    from sqlalchemy import event

    for topic, name in (("test.now", "noop"), ("test.later", "noop_too")):
        register_handler(ctx, topic, f"tests.test_shop.test_infra.test_outbox.{name}")
    register_handler(ctx, "test.later", "tests.test_shop.test_infra.test_outbox.noop_as_well")
    dispatched, sent = [], []
    monkeypatch.setattr(outbox, "dispatch", dispatched.extend)
    later = timedelta(minutes=30)
    owed = [("test.now", (1,), None), ("test.later", (1, "zh"), later), ("test.nobody", (1,), None)]

    def statement(*args):
        sent.append(args[2])

    event.listen(db.engine, "before_cursor_execute", statement)
    try:
        with unit_of_work():
            assert outbox.publish_each(owed) == 3
            assert outbox.publish_each(owed[:2]) == 0  # published already: nothing more
    finally:
        event.remove(db.engine, "before_cursor_execute", statement)
    assert len(sent) == 2  # one statement per call

    events = {e.id: e for e in db.session.scalars(select(OutboxEvent))}
    assert sorted((e.topic, e.handler.rpartition(".")[2], e.args) for e in events.values()) == [
        ("test.later", "noop_as_well", [1, "zh"]),
        ("test.later", "noop_too", [1, "zh"]),
        ("test.now", "noop", [1]),
    ]
    assert len(dispatched) == 3
    for event_id, delay in dispatched:  # each handed over with its own delay, after the commit
        due = events[event_id].available_at - events[event_id].created_at
        assert delay == (later if events[event_id].topic == "test.later" else None)
        assert due == (delay or timedelta(0))


def test_a_delivery_sends_its_claim_and_its_done_only(flaky_topic):
    """The claim's UPDATE returns the handler and its arguments: nothing is read after it."""
    from sqlalchemy import event

    with unit_of_work():
        outbox.publish(TOPIC, 5, delay=timedelta(hours=1))  # not delivered now
    event_id = _event().id
    _make_due(event_id)
    db.session.close()
    sent = []

    def statement(*args):
        sent.append(args[2].split()[0])

    event.listen(db.engine, "before_cursor_execute", statement)
    try:
        assert outbox.deliver(event_id)
    finally:
        event.remove(db.engine, "before_cursor_execute", statement)

    assert sent == ["UPDATE", "UPDATE"]
    assert EFFECTS == [5]
    event_row = _event()
    assert (event_row.status, event_row.attempts) == (OutboxStatus.DONE, 1)


def test_events_delivered_by_one_job_fail_and_retry_one_by_one(flaky_topic):
    """The events one change publishes go out as one job (``deliver_each``); the one whose
    handler fails is retried alone, and the others are done."""
    FAILURES["left"] = 1
    with unit_of_work():
        outbox.publish_many(TOPIC, [(1,), (2,), (3,)])  # dispatched after the commit, in-process
    assert sorted(CALLS) == [1, 2, 3] and sorted(EFFECTS) == [2, 3]
    db.session.expire_all()
    rows = db.session.scalars(select(OutboxEvent).where(OutboxEvent.topic == TOPIC)).all()
    statuses = {row.args[0]: (row.status, row.attempts) for row in rows}
    assert statuses == {
        1: (OutboxStatus.PENDING, 1),
        2: (OutboxStatus.DONE, 1),
        3: (OutboxStatus.DONE, 1),
    }
    (failed,) = [row for row in rows if row.args[0] == 1]
    _make_due(failed.id)
    assert outbox.deliver_each([row.id for row in rows]) == 1  # the others are done already
    assert sorted(EFFECTS) == [1, 2, 3]


def slow(value: int) -> None:
    """A handler that meets RQ's time limit for its job."""
    from rq.timeouts import JobTimeoutException

    CALLS.append(value)
    raise JobTimeoutException("Task exceeded maximum timeout value (180 seconds)")


def test_a_job_out_of_time_stops_and_leaves_the_rest_to_the_sweep(flaky_topic, monkeypatch):
    """RQ's time limit raises inside the job: the event it met is failed (retried later), and
    the job stops there, so the events after it are not run without a time limit."""
    register_handler(flaky_topic, "test.slow", "tests.test_shop.test_infra.test_outbox.slow")
    with monkeypatch.context() as undispatched, unit_of_work():
        undispatched.setattr(outbox, "dispatch", lambda events: None)  # as if Redis were away
        outbox.publish("test.slow", 1)
        outbox.publish_many(TOPIC, [(2,), (3,)])
    ids = db.session.scalars(select(OutboxEvent.id).order_by(OutboxEvent.id)).all()
    with pytest.raises(Exception, match="maximum timeout"):
        outbox.deliver_each(ids)
    assert CALLS == [1] and EFFECTS == []
    db.session.expire_all()
    rows = db.session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
    assert [(row.status, row.attempts) for row in rows] == [
        (OutboxStatus.PENDING, 1),  # failed once: retried after its backoff
        (OutboxStatus.PENDING, 0),  # never started: due now, the sweep hands it over
        (OutboxStatus.PENDING, 0),
    ]
    assert outbox.redispatch_due() == 2  # delivered in-process here
    assert sorted(EFFECTS) == [2, 3]

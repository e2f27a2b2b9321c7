"""The outbox's two numbers for `make bench`: what it adds to an order placement and a payment,
and how fast one worker drains a backlog of pending events.

Both run in the bench process on the bench database, through the shop's own services
(``place_order``, ``mark_paid_at_store``), in a request context as the views call them.

**Cost.** Three ways of running the same actions, interleaved in rounds so a change of machine
load hits all three alike:

- ``without``: no handler registered for any topic (``shop.hooks``), so ``publish`` writes
  nothing: the shop as it would be without the outbox;
- ``with``: the handlers as registered, so a placement writes one row (its expiry) and a
  payment five, but ``dispatch`` is switched off, so nothing is delivered in-process (that
  would be the handlers' own work, not the outbox's) and nothing is enqueued;
- ``with + RQ``: the same rows, dispatched after the commit as with ``REDIS_URL`` set: one RQ
  job per delay for up to ``EVENTS_PER_JOB`` rows (a placement's expiry ``enqueue_in``), on the
  bench Redis; no worker runs them, the Redis database is flushed afterwards.

Counted per action: SQL statements (SQLAlchemy ``before_cursor_execute``: every statement sent,
BEGIN and COMMIT not included), CPU ms of this process (``time.process_time``), CPU ms of the
database's PostgreSQL backends (/proc), and wall ms.

**Drain.** A backlog of ``DRAIN_EVENTS`` pending events: ``DRAIN_ORDERS`` orders placed with the
bench guide's share link and paid at the store with dispatch switched off, five events each for
the real handlers (commission accrual, levels, points, tiers, referral reward; each accrual
writes the guide's commission), and the rest events of a bench topic whose handler (``noop``)
does nothing, written by one INSERT ... SELECT: what the outbox and RQ cost per event, without
the time of placing and paying 2,000 orders first. ``redispatch_due`` hands them all to RQ (the
bench Redis, the queue ``siyu``), then one ``rq worker --burst -w rq.SimpleWorker`` process (as
``make worker`` starts it) runs them. Then the same mix at a fifth of the size is delivered in
this process by ``deliver`` in a loop, as the shop does without Redis. The rows tell the times:
a claim sets ``available_at`` to its time plus the lease, and ``done_at`` is written at the end,
so the worker's busy time and each handler's mean time come from the database; from them, an
estimate of the same backlog made of real handlers' events only. No event may be left undone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import event, func, select, text

from shop.checkout import services as checkout
from shop.extensions import db
from shop.hooks import hooks
from shop.infra import outbox
from shop.infra.clock import utcnow
from shop.infra.outbox import OutboxEvent, OutboxStatus
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Fulfilment, Order, PaymentMethod
from shop.staff.models import Staff

MODES = ("without", "with", "with + RQ")
ROUNDS = 3  # each mode runs COST_ACTIONS placements and payments per round
COST_ACTIONS = 60
WARMUP_ACTIONS = 10
DRAIN_EVENTS = 10_000  # the RQ worker's backlog:
DRAIN_ORDERS = 400  # paid orders × 5 handlers of order.paid (2,000 events), the rest no-ops
INLINE_EVENTS = 2_000  # the in-process backlog, the same mix at a fifth of the size
INLINE_ORDERS = 80
PLACED_DELAY_S = 1.2  # a placement's text and webhook wait a second (shop.checkout.services)
NOOP_TOPIC = "bench.noop"
NOOP_HANDLER = "outbox_runs.noop"
BENCH = Path(__file__).resolve().parent
STAFF_EMAIL = "bench-owner@siyu.test"  # bench/seed.py
_batches = iter(range(10, 100))  # keeps the phone numbers and keys of each batch apart


@dataclass
class Cost:
    """One kind of action in one mode, summed over its rounds."""

    actions: int = 0
    statements: int = 0
    cpu_s: float = 0.0
    pg_cpu_s: float = 0.0
    wall_s: float = 0.0

    def per_action(self, value: float, scale: float = 1.0) -> float:
        return scale * value / max(self.actions, 1)

    @property
    def statements_each(self) -> float:
        return self.per_action(self.statements)

    @property
    def cpu_ms(self) -> float:
        return self.per_action(self.cpu_s, 1000)

    @property
    def pg_cpu_ms(self) -> float:
        return self.per_action(self.pg_cpu_s, 1000)

    @property
    def wall_ms(self) -> float:
        return self.per_action(self.wall_s, 1000)


@dataclass
class OutboxCost:
    placement: dict[str, Cost]  # mode -> cost
    payment: dict[str, Cost]
    events: dict[str, int]  # what each kind of action wrote, "with" mode
    problems: list[str] = field(default_factory=list)


@dataclass
class Drain:
    events: int
    handover_s: float  # redispatch_due(): reading the due ids and enqueueing them
    worker_s: float  # the first claim to the last "done"
    worker_total_s: float  # the worker process, start (imports, app) to exit
    worker_cpu_s: float
    handler_ms: dict[str, float]  # handler -> mean ms from claim to "done", in the worker
    handler_events: dict[str, int]
    inline_events: int
    inline_s: float
    inline_cpu_s: float
    inline_statements: int
    inline_handler_ms: dict[str, float]
    seed_s: float
    problems: list[str] = field(default_factory=list)

    @property
    def total_s(self) -> float:
        return self.handover_s + self.worker_s

    @property
    def rate(self) -> float:
        return self.events / self.total_s if self.total_s else 0.0

    @property
    def inline_rate(self) -> float:
        return self.inline_events / self.inline_s if self.inline_s else 0.0

    @property
    def overhead_ms(self) -> float:
        """The worker's time per event outside ``deliver``'s claim to "done" (RQ's own work:
        dequeue, job status, result)."""
        inside = sum(self.handler_ms[h] * n for h, n in self.handler_events.items()) / 1000
        return 1000 * (self.worker_s - inside) / max(self.events, 1)

    def real_estimate_s(self) -> float:
        """The hand-over and worker time a backlog of as many events of the real handlers alone
        would take, from the mean time of each (the five handlers of a paid order, equally)."""
        real = [ms for handler, ms in self.handler_ms.items() if handler != NOOP_HANDLER]
        per_event_ms = sum(real) / max(len(real), 1) + self.overhead_ms
        return self.handover_s + self.events * per_event_ms / 1000


class StatementCounter:
    def __init__(self, engine) -> None:
        self.engine, self.count = engine, 0

    def _count(self, *_args) -> None:
        self.count += 1

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


@contextmanager
def no_handlers(app) -> Iterator[None]:
    """Every topic without handlers: ``publish`` writes (and dispatches) nothing."""
    registered = hooks(app).handlers
    hooks(app).handlers = {}
    try:
        yield
    finally:
        hooks(app).handlers = registered


@contextmanager
def dispatch_off() -> Iterator[None]:
    """Committed events stay pending: neither delivered in-process nor enqueued."""
    dispatch = outbox.dispatch
    outbox.dispatch = lambda *_args, **_kwargs: None
    try:
        yield
    finally:
        outbox.dispatch = dispatch


@contextmanager
def on_redis(app, redis_url: str) -> Iterator[None]:
    """Jobs go to RQ on ``redis_url`` (the app's queue is made anew for it, and dropped after)."""
    saved = app.config.get("REDIS_URL")
    app.config["REDIS_URL"] = redis_url
    app.extensions.pop("rq_queue", None)
    try:
        yield
    finally:
        app.config["REDIS_URL"] = saved
        app.extensions.pop("rq_queue", None)


@contextmanager
def mode(app, name: str, redis_url: str) -> Iterator[None]:
    if name == "without":
        with no_handlers(app):
            yield
    elif name == "with":
        with dispatch_off():
            yield
    else:
        with on_redis(app, redis_url):
            yield


def flush_redis(redis_url: str) -> None:
    from redis import Redis

    Redis.from_url(redis_url).flushdb()


def backends_cpu_seconds(database: str, cpu_seconds, proc_stat) -> float:
    """CPU time so far of every PostgreSQL backend connected to ``database``."""
    pids = db.session.scalars(
        text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": database}
    ).all()
    db.session.rollback()
    return sum(cpu_seconds(proc_stat(pid)) for pid in pids)


def place(seeded, batch: int, n: int, attributed: bool = False) -> Order:
    details = checkout.CheckoutDetails(
        name=f"Outbox Buyer {n}",
        phone=f"15{batch:02d}{n:07d}",
        fulfilment=Fulfilment.PICKUP,
        payment_method=PaymentMethod.STORE,
        pickup_store_id=seeded.store_id,
        attribution={"share_code": seeded.share_code} if attributed else {},
    )
    with unit_of_work():  # as the checkout view places it
        return checkout.place_order(
            [(seeded.variant_id, 1)], details, f"bench-outbox-{batch:02d}-{n:07d}"
        )


def _measure(cost: Cost, database: str, action, items, cpu_seconds, proc_stat) -> list:
    results = []
    pg_before = backends_cpu_seconds(database, cpu_seconds, proc_stat)
    with StatementCounter(db.engine) as counter:
        cpu, wall = time.process_time(), time.perf_counter()
        for item in items:
            results.append(action(item))
        cost.wall_s += time.perf_counter() - wall
        cost.cpu_s += time.process_time() - cpu
    cost.pg_cpu_s += backends_cpu_seconds(database, cpu_seconds, proc_stat) - pg_before
    cost.statements += counter.count
    cost.actions += len(results)
    return results


def measure_cost(app, seeded, database: str, redis_url: str, cpu_seconds, proc_stat):
    """Placements and payments without the outbox, with its rows, and with them on RQ."""
    placement = {name: Cost() for name in MODES}
    payment = {name: Cost() for name in MODES}
    problems: list[str] = []
    flush_redis(redis_url)
    with app.test_request_context():
        staff = db.session.scalar(select(Staff).where(Staff.email == STAFF_EMAIL))

        def pay(order_id: int) -> bool:
            with unit_of_work():  # as the admin's "mark paid" does
                return orders.mark_paid_at_store(order_id, staff)

        with dispatch_off():  # warm-up: caches, statement compilation
            batch = next(_batches)
            for n in range(WARMUP_ACTIONS):
                pay(place(seeded, batch, n).id)
        events = {}
        for _round in range(ROUNDS):
            for name in MODES:
                batch = next(_batches)
                with mode(app, name, redis_url):
                    before = db.session.scalar(select(func.count(OutboxEvent.id)))
                    db.session.rollback()
                    placed = _measure(
                        placement[name],
                        database,
                        lambda n, batch=batch: place(seeded, batch, n).id,
                        range(COST_ACTIONS),
                        cpu_seconds,
                        proc_stat,
                    )
                    middle = db.session.scalar(select(func.count(OutboxEvent.id)))
                    db.session.rollback()
                    paid = _measure(payment[name], database, pay, placed, cpu_seconds, proc_stat)
                    after = db.session.scalar(select(func.count(OutboxEvent.id)))
                    db.session.rollback()
                if not all(paid):
                    problems.append(f"outbox cost ({name}): {paid.count(False)} payments failed")
                wrote = {"placement": middle - before, "payment": after - middle}
                expected = {"placement": 0, "payment": 0} if name == "without" else None
                if expected and wrote != expected:
                    problems.append(f"outbox cost (without): events written {wrote}")
                if name == "with":
                    events = {kind: count // COST_ACTIONS for kind, count in wrote.items()}
        db.session.remove()
    flush_redis(redis_url)
    return OutboxCost(placement, payment, events, problems)


def noop(n: int) -> None:
    """The bench topic's handler: does nothing, so its events cost only the outbox and RQ."""


def _pending_due() -> list[int]:
    ids = db.session.scalars(
        select(OutboxEvent.id)
        .where(OutboxEvent.status == OutboxStatus.PENDING, OutboxEvent.available_at <= utcnow())
        .order_by(OutboxEvent.id)
    ).all()
    db.session.rollback()
    return list(ids)


_NOOP_EVENTS = """
INSERT INTO outbox_events (topic, handler, args, key, status, attempts, available_at,
    last_error, created_at)
SELECT CAST(:topic AS varchar), CAST(:handler AS varchar), json_build_array(i),
    CAST(:key AS varchar) || i, 'pending', 0, CAST(:now AS timestamp), '', CAST(:now AS timestamp)
FROM generate_series(1, CAST(:events AS integer)) AS i
"""


def _backlog(app, seeded, orders_count: int, noop_events: int) -> list[int]:
    """``orders_count`` attributed orders paid with dispatch off (five pending events each, for
    the real handlers), then ``noop_events`` events of the bench topic. Returns the due ids."""
    batch = next(_batches)
    with app.test_request_context(), dispatch_off():
        staff = db.session.scalar(select(Staff).where(Staff.email == STAFF_EMAIL))
        for n in range(orders_count):
            with unit_of_work():
                orders.mark_paid_at_store(place(seeded, batch, n, attributed=True).id, staff)
        db.session.execute(
            text(_NOOP_EVENTS),
            {
                "topic": NOOP_TOPIC,
                "handler": NOOP_HANDLER,
                "key": f"{NOOP_TOPIC}:{NOOP_HANDLER}:{batch}-",
                "events": noop_events,
                "now": utcnow(),
            },
        )
        db.session.commit()
        # A placement's text and webhook are due a second after it: wait for the last ones, so
        # the backlog is every event due, and the hand-over's limit cuts none of it.
        time.sleep(PLACED_DELAY_S)
        ids = _pending_due()
        db.session.remove()
    return ids


@dataclass
class Delivered:
    """What the outbox rows of one drained backlog say (each claim sets ``available_at`` to
    its time + LEASE; ``done_at`` is written when the handler's work has committed)."""

    undone: int
    busy_s: float  # the first claim to the last "done"
    handler_ms: dict[str, float]  # handler -> mean ms from its claim to its "done"
    handler_events: dict[str, int]


def _delivered(ids: list[int]) -> Delivered:
    e = OutboxEvent
    lease = outbox.LEASE
    claimed_at = e.available_at - lease
    undone = db.session.scalar(
        select(func.count(e.id)).where(e.id.in_(ids), e.status != OutboxStatus.DONE)
    )
    first, last = db.session.execute(
        select(func.min(claimed_at), func.max(e.done_at)).where(e.id.in_(ids))
    ).one()
    rows = db.session.execute(
        select(
            e.handler,
            func.count(e.id),
            func.avg(func.extract("epoch", e.done_at - claimed_at)),
        )
        .where(e.id.in_(ids), e.status == OutboxStatus.DONE)
        .group_by(e.handler)
    ).all()
    db.session.rollback()
    busy_s = (last - first).total_seconds() if first and last else 0.0
    return Delivered(
        undone=undone,
        busy_s=busy_s,
        handler_ms={handler: 1000 * float(mean) for handler, _n, mean in rows},
        handler_events={handler: n for handler, n, _mean in rows},
    )


def measure_drain(app, seeded, env: dict[str, str], redis_url: str, log_path: Path) -> Drain:
    """DRAIN_EVENTS pending events drained by one RQ worker, then INLINE_EVENTS in-process."""
    from redis import Redis
    from rq import Queue

    problems: list[str] = []
    flush_redis(redis_url)
    started = time.monotonic()
    with app.app_context():
        # What the earlier runs left owed (the order texts of the checkout runs, due a second
        # after placing, when gunicorn had stopped): delivered first, as the sweep would, so the
        # backlog is all the worker gets.
        stale = _pending_due()
        undelivered = [event_id for event_id in stale if not outbox.deliver(event_id)]
        if undelivered:
            problems.append(f"drain: {len(undelivered)} earlier events could not be delivered")
        if stale:
            print(f"delivered {len(stale) - len(undelivered)} events the earlier runs left owed")
        stale = _pending_due()
        if stale:
            problems.append(f"drain: {len(stale)} events were pending before the backlog")
    backlog = _backlog(app, seeded, DRAIN_ORDERS, DRAIN_EVENTS - 5 * DRAIN_ORDERS)
    seed_s = time.monotonic() - started

    with app.app_context(), on_redis(app, redis_url):
        started = time.perf_counter()
        handed = outbox.redispatch_due(limit=len(backlog) + len(stale))
        handover_s = time.perf_counter() - started
        db.session.remove()
    queue = Queue("siyu", connection=Redis.from_url(redis_url))
    queued = queue.count  # jobs, each of up to EVENTS_PER_JOB events (all due now)
    if handed != len(backlog) or queued != -(-handed // outbox.EVENTS_PER_JOB):
        problems.append(
            f"drain: {len(backlog)} due, {handed} handed over, {queued} jobs queued "
            f"(of up to {outbox.EVENTS_PER_JOB} events each)"
        )
    # The worker imports the bench topic's handler (this module) from bench/.
    python_path = os.pathsep.join(filter(None, [str(BENCH), env.get("PYTHONPATH")]))
    worker_env = dict(env, REDIS_URL=redis_url, PYTHONPATH=python_path)
    children_before = os.times()
    started = time.perf_counter()
    with open(log_path, "ab") as log:
        finished = subprocess.run(
            [
                str(Path(sys.executable).parent / "rq"),
                "worker",
                "--burst",
                "-w",
                "rq.SimpleWorker",
                "--url",
                redis_url,
                "siyu",
            ],
            env=worker_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    worker_total_s = time.perf_counter() - started
    children = [b - a for a, b in zip(children_before, os.times(), strict=True)]
    worker_cpu_s = children[2] + children[3]  # children's user + system time
    if finished.returncode:
        problems.append(f"drain: the RQ worker exited with {finished.returncode}")
    failed = queue.failed_job_registry.count
    if failed:
        problems.append(f"drain: {failed} RQ jobs failed")
    flush_redis(redis_url)
    with app.app_context():
        on_rq = _delivered(backlog)
    if on_rq.undone:
        problems.append(f"drain (RQ): {on_rq.undone} of {len(backlog)} events not done")

    started = time.monotonic()
    inline = _backlog(app, seeded, INLINE_ORDERS, INLINE_EVENTS - 5 * INLINE_ORDERS)
    seed_s += time.monotonic() - started
    with app.app_context():
        with StatementCounter(db.engine) as counter:
            cpu, started = time.process_time(), time.perf_counter()
            delivered = sum(outbox.deliver(event_id) for event_id in inline)
            inline_s = time.perf_counter() - started
            inline_cpu_s = time.process_time() - cpu
        in_process = _delivered(inline)
        db.session.remove()
    if delivered != len(inline) or in_process.undone:
        problems.append(f"drain (in-process): {delivered} of {len(inline)} delivered")
    return Drain(
        events=len(backlog),
        handover_s=handover_s,
        worker_s=on_rq.busy_s,
        worker_total_s=worker_total_s,
        worker_cpu_s=worker_cpu_s,
        handler_ms=on_rq.handler_ms,
        handler_events=on_rq.handler_events,
        inline_events=len(inline),
        inline_s=inline_s,
        inline_cpu_s=inline_cpu_s,
        inline_statements=counter.count,
        inline_handler_ms=in_process.handler_ms,
        seed_s=seed_s,
        problems=problems,
    )

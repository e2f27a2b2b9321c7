"""The transactional outbox: what a change sets in motion elsewhere is a row, written in the
change's own transaction, and delivered after it commits.

A state change (an order paid, a refund recorded, an order placed) calls ``publish(topic,
*args)`` before its commit: one ``OutboxEvent`` row per handler subscribed to the topic
(``shop.hooks``, ``register_handler``), so the change and the work it owes commit together or
not at all. After the commit the rows are dispatched, all of a transaction's together: on RQ
when ``REDIS_URL`` is set, in one round trip, one job for up to ``EVENTS_PER_JOB`` events due
at the same moment (a paid order's eight events cost RQ one job, not eight; a failure to reach
Redis is logged and changes nothing), in-process otherwise. The sweep
``redispatch_due`` dispatches again whatever is still pending and due, so an event whose
dispatch was lost (Redis down, a worker killed, a crash right after the commit) is delivered
once things are back.

``deliver(event_id)`` runs one event, in transactions of its own: it claims the row with a
conditional update (a lease: a second delivery of the same event finds it taken and does
nothing), runs the handler, and marks the row done. A handler that raises is retried with
backoff (``OUTBOX_RETRY_SECONDS`` doubled per attempt, at most an hour), and after
``OUTBOX_MAX_ATTEMPTS`` attempts stays ``failed`` with its error, visible in the admin, until
someone retries it. A worker that dies mid-handler leaves the lease to run out, and the sweep
delivers the event again. Handlers are the packages' jobs: plain functions taking ids,
idempotent per event, so a second run after a crash between the handler's commit and "done"
changes nothing.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from flask_babel import lazy_pgettext
from sqlalchemy import JSON, DateTime, Integer, String, Text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.hooks import hooks, register_sweep
from shop.infra import disconnects, leases
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import after_commit_collect
from shop.infra.vocab import VOCABULARY, Vocabulary

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
#: events delivered by one RQ job at most, one after another (RQ's own work per job, about as
#: much as a handler's, is paid once for them all; jobs of a big backlog still spread over
#: every worker)
EVENTS_PER_JOB = 20
MAX_BACKOFF = timedelta(hours=1)


class OutboxStatus(Vocabulary):
    PENDING = "pending", lazy_pgettext("outbox", "Pending")
    DONE = "done", lazy_pgettext("outbox", "Done")
    FAILED = "failed", lazy_pgettext("outbox", "Failed")


class OutboxEvent(db.Model):
    """One piece of work owed because of a committed change: ``handler(*args)``."""

    __tablename__ = "outbox_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(64), index=True)
    handler: Mapped[str] = mapped_column(String(200))
    args: Mapped[list] = mapped_column(JSON, default=list)
    # topic, handler and args: the same event published twice is one row.
    key: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(
        String(16), default=OutboxStatus.PENDING, info={VOCABULARY: OutboxStatus}
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (db.Index("ix_outbox_events_due", "status", "available_at"),)


# Built once: one INSERT ... ON CONFLICT (key) DO NOTHING RETURNING id per publication, sent
# with the rows as parameters (not ``.values(rows)``: SQLAlchemy never caches a multi-values
# INSERT, so that form was compiled again on every publication). Several rows still go as one
# statement (SQLAlchemy's "insertmanyvalues" batches them).
_INSERTS = {
    name: dialect.insert(OutboxEvent.__table__)
    .on_conflict_do_nothing(index_elements=["key"])
    .returning(OutboxEvent.__table__.c.id, OutboxEvent.__table__.c.key)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def init_app(app) -> None:
    register_sweep(app, "shop.infra.outbox.redispatch_due", 60)


def publish(topic: str, *args, delay: timedelta | None = None) -> int:
    """Write the work ``topic`` owes to each of its handlers, in the caller's transaction.

    Does not commit: the rows commit (and are dispatched) with the caller's change, or vanish
    with its rollback. Publishing the same topic and arguments again adds nothing. Returns the
    number of handlers subscribed.
    """
    publish_many(topic, [args], delay=delay)
    return len(hooks().handlers.get(topic, []))


def publish_many(topic: str, many_args, delay: timedelta | None = None) -> int:
    """``publish(topic, *args)`` for each ``args`` in ``many_args``, as one statement (a
    settlement run owes one event per order it settled). Returns the number of rows written."""
    return publish_each((topic, args, delay) for args in many_args)


def publish_each(publications: Iterable[tuple[str, tuple, timedelta | None]]) -> int:
    """``publish(topic, *args, delay=delay)`` for each ``(topic, args, delay)``, as one
    statement (what one change owes under several topics: a placed order's text, its expiry,
    its new customer). Returns the number of rows written."""
    handlers_of = hooks().handlers
    now = utcnow()
    rows, delays = [], {}
    for topic, args, delay in publications:
        suffix = ":".join(str(a) for a in args)
        for handler in handlers_of.get(topic, ()):
            key = f"{topic}:{handler}:{suffix}"[:255]
            delays[key] = delay
            rows.append(
                {
                    "topic": topic,
                    "handler": handler,
                    "args": list(args),
                    "key": key,
                    "status": OutboxStatus.PENDING,
                    "attempts": 0,
                    "available_at": now + delay if delay else now,
                    "last_error": "",
                    "created_at": now,
                }
            )
    if not rows:
        return 0
    insert = _INSERTS[db.session.get_bind().dialect.name]
    # One statement for all rows; a single row is a plain execute, not an executemany.
    written = db.session.execute(insert, rows[0] if len(rows) == 1 else rows).all()
    if written:
        # Every event the transaction publishes is dispatched in one call after its commit.
        after_commit_collect(dispatch, [(event_id, delays[key]) for event_id, key in written])
    return len(written)


def dispatch(events: list[tuple[int, timedelta | None]]) -> None:
    """Hand committed events ``(id, delay)`` to RQ, together (``queue.enqueue_many``): one
    ``deliver_each`` job for up to ``EVENTS_PER_JOB`` events of the same delay; or deliver them
    now in-process. Called with no transaction open: after the commit, with the connection back
    in the pool, or by the sweep after its read (an event delivered in-process never holds a
    second connection). Never raises: what is not handed over stays pending for
    ``redispatch_due``."""
    from shop.infra.queue import enqueue_many

    if not events or not has_app_context():
        return  # committed outside the app (a script): the sweep hands it over
    by_delay: dict[timedelta | None, list[int]] = {}
    for event_id, delay in events:
        by_delay.setdefault(delay or None, []).append(event_id)
    jobs = [
        ((ids[start : start + EVENTS_PER_JOB],), delay)
        for delay, ids in by_delay.items()
        for start in range(0, len(ids), EVENTS_PER_JOB)
    ]
    try:
        enqueue_many("shop.infra.outbox.deliver_each", jobs)
    except Exception:
        ids = [event_id for event_id, _delay in events]
        log.exception("outbox events %s not dispatched; the sweep will retry", ids)


def deliver_each(event_ids: list[int]) -> int:
    """``deliver`` each event in turn (one job of ``dispatch``'s); how many ran to the end.

    Each is claimed, run and marked in transactions of its own, so one that fails is retried
    alone. If the job dies part way (a worker killed, or RQ's time limit for the job reached,
    which fails the event it meets and ends the job), the events it had not finished are still
    pending (or leased until ``LEASE`` runs out) and ``redispatch_due`` hands them over again."""
    return sum(deliver(event_id) for event_id in event_ids)


def redispatch_due(limit: int = 1000) -> int:
    """Sweep: dispatch every pending event that is due (its dispatch lost, its lease expired,
    its backoff over). Its own transaction (reads only). Returns how many it dispatched."""
    ids = leases.due(OutboxEvent, "available_at", OutboxStatus.PENDING, limit)
    dispatch([(event_id, None) for event_id in ids])
    return len(ids)


def deliver(event_id: int) -> bool:
    """Run one event's handler, once. True if this call ran it to the end.

    Its own transactions: the claim, then the handler's work (handlers do not commit) with the
    event marked done in one commit, or else the failure. A claimed event is leased: another
    delivery of it until ``LEASE`` has passed finds nothing to do. A claim that meets a dead
    connection (PostgreSQL restarted since the worker's last job) is made again on a fresh one.
    """
    from shop.infra.queue import resolve

    token = disconnects.start_watching()
    try:
        claimed = _claim(event_id)
    except DBAPIError as error:
        if not disconnects.first_statement_lost(error):
            raise
        db.session.rollback()
        claimed = _claim(event_id)
    finally:
        disconnects.stop_watching(token)
    if claimed is None:
        return False
    handler, args, attempts = claimed.handler, list(claimed.args or []), claimed.attempts
    try:
        resolve(handler)(*args)
        db.session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == event_id)
            .values(status=OutboxStatus.DONE, done_at=utcnow(), last_error="")
            .execution_options(synchronize_session=False)
        )
        db.session.commit()  # the handler's work and "done" together, or neither
    except Exception as error:
        db.session.rollback()
        log.exception("outbox event %s (%s%r) failed", event_id, handler, tuple(args))
        _record_failure(event_id, attempts, error)
        if _job_timed_out(error):
            raise  # the job's time is up: the events after this one are the sweep's
        return False
    return True


def _job_timed_out(error: Exception) -> bool:
    """RQ ends a job that ran out of time by raising in it: the event running then failed,
    and the job must stop there (past it, nothing would limit its time)."""
    from rq.timeouts import BaseTimeoutException

    return isinstance(error, BaseTimeoutException)


def _claim(event_id: int):
    """The event's handler, args and attempts (this one counted) if this call claimed it; the
    claim's UPDATE returns them, so nothing is read after it."""
    return leases.claim(
        OutboxEvent,
        event_id,
        "available_at",
        LEASE,
        OutboxStatus.PENDING,
        OutboxEvent.handler,
        OutboxEvent.args,
        OutboxEvent.attempts,
    )


def _record_failure(event_id: int, attempts: int, error: Exception) -> None:
    config = current_app.config
    retry = timedelta(seconds=config.get("OUTBOX_RETRY_SECONDS", 10) * 2 ** (attempts - 1))
    gives_up = attempts >= config.get("OUTBOX_MAX_ATTEMPTS", 8)
    text = "".join(traceback.format_exception_only(error)).strip()[:2000]
    db.session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id)
        .values(
            status=OutboxStatus.FAILED if gives_up else OutboxStatus.PENDING,
            available_at=utcnow() + min(retry, MAX_BACKOFF),
            last_error=text,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def retry(event_id: int) -> bool:
    """Staff: try a failed event again from its first attempt. Does not commit; dispatched
    after the caller's commit. True if the event was failed."""
    changed = db.session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id, OutboxEvent.status == OutboxStatus.FAILED)
        .values(status=OutboxStatus.PENDING, attempts=0, available_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        after_commit_collect(dispatch, [(event_id, None)])
    return bool(changed)

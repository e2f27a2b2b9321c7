"""The unit of work: the entry point owns the transaction.

A view, webhook, job or CLI command opens one unit of work and commits once::

    with unit_of_work():
        orders.cancel(order_id, reason, staff)

or, for a whole function, ``@transactional``. On an exception the work rolls back and the
exception goes on. Services called inside add and execute and never commit (their docstrings
say "does not commit"), so everything one request changes commits together or not at all.

What may only happen once the change is durable (a notification, a hand-over to a queue) is
registered with ``after_commit(fn, *args)``: it runs after the commit and is forgotten on a
rollback. Such a callback must not use the committing session; it notifies, it does not write
(writes that must follow are outbox events, ``shop.infra.outbox``).

A sweep that must be its own transaction (one per item, so one bad item cannot undo the
others) says so in its name and commits per item through ``unit_of_work`` itself.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session

from shop.extensions import db

log = logging.getLogger(__name__)

_CALLBACKS_KEY = "siyu_after_commit"
_COLLECTED_KEY = "siyu_after_commit_collected"
_COMMITTED_KEY = "siyu_committed"


class Work:
    """The unit of work in progress (what ``with unit_of_work() as work`` gives)."""

    def __init__(self) -> None:
        self.kept: list = []

    def keep(self, obj) -> None:
        """Keep ``obj``'s loaded values through the commit (which expires every object), so
        what the entry point reads of it afterwards is not loaded again."""
        self.kept.append(obj)


@contextmanager
def unit_of_work() -> Iterator[Work]:
    """Commit once at the end; roll back and re-raise on any exception."""
    session = db.session
    work = Work()
    try:
        yield work
        for obj in work.kept:
            session.flush()
            session.expunge(obj)
        # Commit only what began: no session made, or no statement run and nothing registered
        # to run after a commit, ends nothing (a new visitor's share-link open).
        if session.registry.has() and (
            session().in_transaction() or _CALLBACKS_KEY in session.info
        ):
            session.commit()
    except BaseException:
        session.rollback()
        _forget(session)  # also what was registered before any statement began a transaction
        raise
    for obj in work.kept:
        session.add(obj)


def transactional(fn: Callable) -> Callable:
    """Run ``fn`` as one unit of work (for views, jobs and commands)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        with unit_of_work():
            return fn(*args, **kwargs)

    return run


def after_commit(fn: Callable, *args, **kwargs) -> None:
    """Call ``fn(*args, **kwargs)`` once the current transaction commits; never if it rolls
    back. A callback that fails is logged; the commit stands and the other callbacks run.

    Callbacks run once the transaction has ended and its connection is back in the pool: a
    callback that needs a connection of its own (an event delivered in-process) never holds
    two, so a full pool under load cannot wait on itself."""
    db.session.info.setdefault(_CALLBACKS_KEY, []).append((fn, args, kwargs))


def after_commit_collect(fn: Callable, items) -> None:
    """Add ``items`` to the list ``fn`` is called with once the current transaction commits:
    one call for all the items a transaction collected for ``fn`` (events handed to a queue
    in one round trip), never if it rolls back. Otherwise as ``after_commit``."""
    collected = db.session.info.setdefault(_COLLECTED_KEY, {})
    if fn not in collected:
        collected[fn] = []
        after_commit(fn, collected[fn])
    collected[fn].extend(items)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if not committed_whole(session):
        return
    session.info.pop(_COLLECTED_KEY, None)  # the next transaction collects anew
    done = session.info.pop(_CALLBACKS_KEY, None)
    if done:
        session.info.setdefault(_COMMITTED_KEY, []).extend(done)


@event.listens_for(Session, "after_transaction_end")
def _run_callbacks(session: Session, transaction) -> None:
    if transaction.parent is not None or transaction.nested:
        return  # a savepoint ended: the transaction goes on
    for fn, args, kwargs in session.info.pop(_COMMITTED_KEY, ()):
        try:
            fn(*args, **kwargs)
        except Exception:
            log.exception("after-commit callback %r failed", fn)


@event.listens_for(Session, "after_soft_rollback")
def _forget_callbacks(session: Session, previous) -> None:
    if rolled_back_whole(previous):
        _forget(session)


def _forget(session: Session) -> None:
    session.info.pop(_CALLBACKS_KEY, None)
    session.info.pop(_COLLECTED_KEY, None)


def committed_whole(session: Session) -> bool:
    """In ``after_commit``: whether the whole transaction committed, not a savepoint (SQLAlchemy
    sends ``after_commit`` for both)."""
    return not session.in_nested_transaction()


def rolled_back_whole(previous) -> bool:
    """Whether a rollback ended the whole transaction, not a savepoint within it."""
    return not previous.nested and previous.parent is None

"""The unit of work: one commit at the end, a rollback on error, callbacks only after commit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shop.catalog.models import Store
from shop.extensions import db
from shop.infra.unit_of_work import (
    after_commit,
    after_commit_collect,
    transactional,
    unit_of_work,
)


def _stores() -> int:
    return db.session.scalar(select(func.count(Store.id)))


def test_commits_once_at_the_end_and_runs_callbacks_after(ctx):
    seen = []
    with unit_of_work():
        db.session.add(Store(name="Guangzhou Tianhe", city="Guangzhou"))
        after_commit(seen.append, "committed")
        assert seen == []
    assert seen == ["committed"]
    db.session.remove()
    assert _stores() == 1


def test_an_error_rolls_back_everything_and_forgets_callbacks(ctx):
    seen = []
    with pytest.raises(RuntimeError), unit_of_work():
        db.session.add(Store(name="Guangzhou Tianhe", city="Guangzhou"))
        after_commit(seen.append, "committed")
        raise RuntimeError("boom")
    db.session.commit()
    assert seen == []
    assert _stores() == 0


def test_a_savepoint_rollback_keeps_the_callbacks_before_it(ctx):
    seen = []
    with unit_of_work():
        after_commit(seen.append, "kept")
        savepoint = db.session.begin_nested()
        db.session.add(Store(name="Shenzhen", city="Shenzhen"))
        savepoint.rollback()
    assert seen == ["kept"]
    assert _stores() == 0


def test_collected_items_reach_one_call_per_committed_transaction(ctx):
    calls = []
    with unit_of_work():
        db.session.add(Store(name="Guangzhou Tianhe", city="Guangzhou"))
        after_commit_collect(calls.append, [1, 2])
        savepoint = db.session.begin_nested()
        after_commit_collect(calls.append, [3])
        savepoint.commit()
        after_commit_collect(calls.append, [4])
        assert calls == []
    assert calls == [[1, 2, 3, 4]]

    with pytest.raises(RuntimeError), unit_of_work():
        after_commit_collect(calls.append, [5])
        raise RuntimeError("boom")
    with unit_of_work():
        db.session.add(Store(name="Shenzhen", city="Shenzhen"))
        after_commit_collect(calls.append, [6])
    assert calls == [[1, 2, 3, 4], [6]]  # a rolled-back transaction's items are forgotten


def test_work_that_ran_no_statement_begins_no_transaction_yet_runs_its_callbacks(ctx):
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    begun, seen = [], []

    def created(session, transaction):
        begun.append(transaction)

    event.listen(Session, "after_transaction_create", created)
    try:
        with unit_of_work():
            pass  # a share-link open on PostgreSQL: its statement ran outside the session
        assert begun == []
        with unit_of_work():
            after_commit(seen.append, "sent")
        assert seen == ["sent"]
    finally:
        event.remove(Session, "after_transaction_create", created)


def test_work_that_used_no_session_makes_none(ctx):
    db.session.remove()
    with unit_of_work():
        pass  # a new visitor's share-link open on PostgreSQL: one statement, no session
    assert not db.session.registry.has()


def test_transactional_commits_what_the_function_did(ctx):
    @transactional
    def open_store(name):
        db.session.add(Store(name=name, city="Guangzhou"))
        return name

    assert open_store("Guangzhou Tianhe") == "Guangzhou Tianhe"
    db.session.remove()
    assert _stores() == 1


def test_a_failing_callback_does_not_undo_the_commit_or_stop_the_others(ctx):
    seen = []
    with unit_of_work():
        db.session.add(Store(name="Guangzhou Tianhe", city="Guangzhou"))
        after_commit(lambda: 1 / 0)
        after_commit(seen.append, "second")
    assert seen == ["second"]
    assert _stores() == 1


def test_a_savepoint_released_runs_no_callback_before_the_commit(ctx):
    seen = []
    with unit_of_work():
        after_commit(seen.append, "committed")
        with db.session.begin_nested():
            db.session.add(Store(name="Shenzhen", city="Shenzhen"))
        assert seen == []
    assert seen == ["committed"]


def test_what_the_work_keeps_is_not_loaded_again_after_the_commit(ctx):
    from sqlalchemy import event

    statements = []
    with unit_of_work() as work:
        store = Store(name="Guangzhou Tianhe", city="Guangzhou")
        db.session.add(store)
        work.keep(store)

    def on_execute(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        assert (store.name, store.city) == ("Guangzhou Tianhe", "Guangzhou")
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    assert statements == []


def test_callbacks_run_with_the_connection_back_in_the_pool(ctx):
    """An event delivered in-process takes a connection of its own: were the committing
    one still held, a full pool would wait on itself under load."""
    held = []
    with unit_of_work():
        db.session.add(Store(name="Guangzhou Tianhe", city="Guangzhou"))
        after_commit(lambda: held.append(db.engine.pool.checkedout()))
    assert held == [0]

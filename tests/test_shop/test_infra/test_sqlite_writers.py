"""SQLite: a unit of work that reads, then writes, waits for another writer instead of failing.

In WAL mode a transaction that has read holds a snapshot; if another connection commits a
write before it writes too, its first write cannot use that snapshot and SQLite answers
"database is locked" at once, without waiting out the busy timeout. A checkout (a savepoint,
reads, then inserts) failed that way while the in-process sweep sent SMS messages. Every
transaction that will write now begins IMMEDIATE: it takes the write lock first, so a second
writer waits for it (busy_timeout) instead of overtaking it.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from shop.catalog.models import Store
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from tests.conftest import ON_POSTGRES

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="SQLite's locking")


def _add_store(app, name: str, errors: list) -> None:
    try:
        with app.app_context(), unit_of_work():
            db.session.add(Store(name=name))
    except Exception as error:  # noqa: BLE001 - reported to the test
        errors.append(error)


def test_a_savepoint_that_read_first_is_not_overtaken_by_another_writer(app):
    errors: list = []
    other = threading.Thread(target=_add_store, args=(app, "另一家", errors))
    with app.app_context():
        with unit_of_work():
            with db.session.begin_nested():  # what place_order does before its first write
                assert db.session.scalar(select(func.count(Store.id))) == 0
                other.start()
                # Without the write lock taken at the savepoint, the other writer commits here
                # and the insert below fails: "database is locked".
                other.join(timeout=0.5)
                db.session.add(Store(name="杭州店"))
        other.join(timeout=30)
        assert not other.is_alive()
        assert errors == []
        names = db.session.scalars(select(Store.name).order_by(Store.name)).all()
    assert sorted(names) == sorted(["另一家", "杭州店"])


def test_reads_alone_take_no_write_lock(app):
    """Pages that only read run beside a writer: only writes begin a transaction."""
    errors: list = []
    with app.app_context():
        with unit_of_work():
            db.session.add(Store(name="杭州店"))
            db.session.flush()  # this unit of work holds the write lock until it commits
            reader = threading.Thread(target=_count_stores, args=(app, errors))
            reader.start()
            reader.join(timeout=30)
            assert not reader.is_alive()
    assert errors == [0]


def _count_stores(app, seen: list) -> None:
    with app.app_context():
        seen.append(db.session.scalar(select(func.count(Store.id))))
        db.session.remove()

"""Rows of work that one worker at a time may take: an outbox event, a webhook delivery.

Such a row has a ``status``, an ``attempts`` count and a due time. ``claim`` takes a pending,
due row with one conditional update that counts the attempt and pushes the due time past a
lease, and commits it: a second worker (or the same job run twice) finds it not due and does
nothing, and a worker that dies mid-way leaves the lease to run out, after which the sweep
(``due``) hands the row over again. No row stays locked while the work runs.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from shop.extensions import db
from shop.infra.clock import utcnow


def claim(model, row_id: int, due: str, lease: timedelta, pending: str, *returning):
    """Take row ``row_id`` of ``model`` if it is ``pending`` and due (its column ``due`` is
    past), for ``lease``. Commits. True if this call took it; with ``returning`` columns, the
    claimed row's values of them (read by the claim's own UPDATE, after it: ``attempts``
    counts this attempt), or None."""
    now = utcnow()
    due_at = getattr(model, due)
    statement = (
        update(model)
        .where(model.id == row_id, model.status == pending, due_at <= now)
        .values({"attempts": model.attempts + 1, due: now + lease})
        .execution_options(synchronize_session=False)
    )
    if returning:
        row = db.session.execute(statement.returning(*returning)).first()
        db.session.commit()
        return row
    claimed = db.session.execute(statement).rowcount
    db.session.commit()
    return bool(claimed)


def due(model, due: str, pending: str, limit: int) -> list[int]:
    """The ids of the pending rows that are due, oldest first, at most ``limit``. Ends its
    read (a sweep then hands each over with no transaction open)."""
    due_at = getattr(model, due)
    ids = db.session.scalars(
        select(model.id)
        .where(model.status == pending, due_at <= utcnow())
        .order_by(model.id)
        .limit(limit)
    ).all()
    db.session.rollback()
    return list(ids)

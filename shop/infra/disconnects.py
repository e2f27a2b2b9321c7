"""Database restarts cost nothing: a request or a delivery whose first statement finds its
pooled connection dead runs again, once, on a fresh connection.

When PostgreSQL restarts (or the network drops a connection) every connection in each pool is
dead, and the first statement on one of them fails. SQLAlchemy then invalidates the whole
pool, so the statements after it reconnect. Pre-pinging every checkout would catch the dead
connection first, at the price of a round trip on every request (``bench/README.md``); instead
the failure is caught where it costs nothing: if no statement of the request had run yet,
nothing was read or written, and running the request again on a fresh connection is exactly
what the client would have got. A request that had already run a statement is not repeated
(what it did may have committed): it fails as before, with nothing half-done.
"""

from __future__ import annotations

import contextvars

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from shop.extensions import db

_statement_ran: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "siyu_statement_ran", default=True
)


@event.listens_for(Engine, "after_cursor_execute")
def _note_statement(*_args) -> None:
    _statement_ran.set(True)


def first_statement_lost(error: BaseException) -> bool:
    """The error is a dead connection met by the first statement since ``start_watching``."""
    return (
        isinstance(error, DBAPIError) and error.connection_invalidated and not _statement_ran.get()
    )


def start_watching() -> contextvars.Token:
    return _statement_ran.set(False)


def stop_watching(token: contextvars.Token) -> None:
    _statement_ran.reset(token)


class ShopFlask(Flask):
    """Flask, with a request run again once when its first statement met a dead connection."""

    def full_dispatch_request(self):
        token = start_watching()
        try:
            try:
                return super().full_dispatch_request()
            except DBAPIError as error:
                if not first_statement_lost(error):
                    raise
                self.logger.warning("database connection lost; running the request again")
                db.session.rollback()
                return super().full_dispatch_request()
        finally:
            stop_watching(token)

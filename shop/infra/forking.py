"""Database pools that survive a fork: a pooled connection is one socket, and two processes
writing to it corrupt both conversations. A child forked from a process whose pools hold
connections (gunicorn's preloaded master, ``multiprocessing``) starts with empty pools and
leaves the parent's connections to the parent (SQLAlchemy's ``dispose(close=False)``)."""

from __future__ import annotations

import os
import weakref

from sqlalchemy.engine import Engine

_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def reset_after_fork(engine: Engine) -> None:
    """Empty ``engine``'s pool in every child forked from this process from now on."""
    _engines.add(engine)


def _in_child() -> None:
    for engine in list(_engines):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_in_child)

"""gunicorn's settings for the shop: ``gunicorn -c python:shop.infra.gunicorn_config wsgi:app``.

The app is built once, in the master (``preload_app``), and the workers are forked from it, so
they share its imported code and data instead of each building its own: ``make bench`` reports
each worker's private memory (USS) with and without it. ``gc.freeze()`` just before a fork moves
everything built so far out of the collector's reach, so a collection in a worker never writes
to (and so copies) the pages it shares with the master.

Nothing a worker must own is made in the master: the database pools are emptied in the child
after a fork (``shop.infra.forking``), the threads (sweeps, the live ticker, the live room's
Redis subscriber) start on a worker's first request, and redis-py opens new connections in a
process whose pid changed. Workers, threads and the bind are given on the command line.

A worker told to stop gracefully (SIGTERM: a stop, a restart, a reload) finishes its requests
before it exits, up to gunicorn's graceful timeout; one told to stop quickly (SIGQUIT, SIGINT)
still waits for its request threads. A live room's event stream never finishes by itself, so
each worker also calls the app's ``stopping`` hooks then (``shop.hooks``): the streams end at
once and the browsers reopen them on a worker that is not stopping, instead of the stop
waiting out the timeout and killing the worker.
"""

from __future__ import annotations

import gc
import logging
import signal

from shop.hooks import hooks

log = logging.getLogger(__name__)

preload_app = True


def pre_fork(server, worker) -> None:
    gc.freeze()


def post_worker_init(worker) -> None:
    """After gunicorn's own SIGTERM handler, run the app's ``stopping`` hooks."""
    gunicorn_stop = signal.getsignal(signal.SIGTERM)

    def stop(signum, frame) -> None:
        gunicorn_stop(signum, frame)
        worker_int(worker)

    signal.signal(signal.SIGTERM, stop)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn has it: requests run on


def worker_int(worker) -> None:
    """gunicorn's hook on SIGQUIT and SIGINT (and ours on SIGTERM), so in the signal handler:
    each ``stopping`` hook only wakes what must end (no thread started, no lock the main
    thread may hold)."""
    for end in hooks(worker.wsgi).stopping:
        try:
            end()
        except Exception:
            log.exception("stopping: %r failed", end)

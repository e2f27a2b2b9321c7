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
"""

from __future__ import annotations

import gc

preload_app = True


def pre_fork(server, worker) -> None:
    gc.freeze()

"""Enqueue jobs by dotted path: on RQ when ``REDIS_URL`` is set, in-process otherwise.

Call ``enqueue`` only after the transaction whose work the job continues has committed: the
job runs in another process (or right now, inline) and must see committed rows. Every job is a
plain function taking ids, safe to run twice.

On RQ the job is ``run_job(path, *args)``: ``rq worker`` calls it outside Flask, so it builds
the app from the environment (once per worker process) and runs the job in an app context.

Periodic sweeps (registered on the app, ``shop.hooks``) back up every delayed job and do the
scheduled work: on RQ, ``flask --app wsgi jobs cron`` enqueues them; in-process, one daemon
thread per web process runs them (started on the first request). In-process, a delayed job is
not kept at all: its sweep does the work when it falls due, so no thread waits per order and
nothing is lost on restart.
"""

from __future__ import annotations

import functools
import importlib
import logging
import threading
import time
from datetime import timedelta

from flask import current_app, has_app_context

from shop.hooks import hooks
from shop.infra.unit_of_work import unit_of_work

log = logging.getLogger(__name__)


def resolve(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def get_queue():
    from redis import Redis
    from rq import Queue

    ext = current_app.extensions
    if "rq_queue" not in ext:
        ext["rq_queue"] = Queue("siyu", connection=Redis.from_url(current_app.config["REDIS_URL"]))
    return ext["rq_queue"]


def enqueue(path: str, *args, delay: timedelta | None = None, job_id: str | None = None):
    """Run ``path(*args)`` as a job, now or after ``delay`` (in-process: left to the sweep)."""
    app = current_app._get_current_object()
    if app.config.get("REDIS_URL"):
        return _to_rq(get_queue(), path, args, delay, job_id=job_id)
    if delay:
        return None
    _run_in_app(app, path, args)
    return None


#: jobs handed to RQ in one round trip at most (a sweep's backlog goes in several)
PIPELINE_JOBS = 100


def enqueue_many(path: str, calls: list[tuple[tuple, timedelta | None]]) -> None:
    """``enqueue(path, *args, delay=delay)`` for each ``(args, delay)``: one job each, on RQ
    handed over together, up to ``PIPELINE_JOBS`` in one round trip (each all or none)."""
    if not current_app.config.get("REDIS_URL"):
        for args, delay in calls:
            enqueue(path, *args, delay=delay)
        return
    queue = get_queue()
    for start in range(0, len(calls), PIPELINE_JOBS):
        with queue.connection.pipeline() as pipe:
            pipe.multi()  # one MULTI ... EXEC (RQ asks for it when a job is queued now)
            for args, delay in calls[start : start + PIPELINE_JOBS]:
                _to_rq(queue, path, args, delay, pipeline=pipe)
            pipe.execute()


def _to_rq(queue, path: str, args: tuple, delay: timedelta | None, **options):
    options["description"] = f"{path}{args!r}"
    if delay:
        return queue.enqueue_in(delay, run_job, path, *args, **options)
    return queue.enqueue(run_job, path, *args, **options)


def _run_in_app(app, path: str, args: tuple) -> None:
    with app.app_context():
        try:
            _run(path, args)
        except Exception:  # an inline job must not break the request that queued it
            log.exception("job %s%r failed", path, args)


def _run(path: str, args: tuple):
    """A job is an entry point: it owns its unit of work (commit at the end, or roll back)."""
    with unit_of_work():
        return resolve(path)(*args)


def run_job(path: str, *args):
    """The RQ job: ``path(*args)`` in an app context (the caller's, or the worker's own)."""
    if has_app_context():
        return _run(path, args)
    with worker_app().app_context():
        return _run(path, args)


@functools.cache
def worker_app():
    """The app a worker process runs its jobs in, configured from the environment."""
    from shop.app import create_app

    return create_app()


class InlineScheduler(threading.Thread):
    """Runs the sweeps registered on one app (``shop.hooks``) in-process, each at its interval."""

    TICK = 5.0

    def __init__(self, app) -> None:
        super().__init__(name="siyu-sweeps", daemon=True)
        self.app = app
        self.stopped = threading.Event()
        self.due = dict.fromkeys(hooks(app).sweeps, 0.0)

    def run_due(self, now: float) -> None:
        for path, interval in hooks(self.app).sweeps.items():
            if self.due.get(path, 0.0) <= now:
                self.due[path] = now + interval
                _run_in_app(self.app, path, ())

    def run(self) -> None:
        while not self.stopped.wait(self.TICK):
            self.run_due(time.monotonic())


def start_inline_scheduler(app) -> None:
    """Start the app's sweeper once, unless jobs go to RQ (where ``rq cron`` runs them)."""
    if app.config.get("REDIS_URL") or not app.config.get("INLINE_SCHEDULER", True):
        return
    if "siyu_sweeps" not in app.extensions:
        app.extensions["siyu_sweeps"] = InlineScheduler(app)
        app.extensions["siyu_sweeps"].start()


def run_cron(app) -> None:
    """Enqueue the app's sweeps on RQ at their intervals until stopped (``flask jobs cron``)."""
    from redis import Redis
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=Redis.from_url(app.config["REDIS_URL"]))
    for path, interval in hooks(app).sweeps.items():
        scheduler.register(run_job, "siyu", args=(path,), interval=interval, name=path)
    scheduler.start()

"""Enqueue jobs by dotted path: on RQ when ``REDIS_URL`` is set, in-process otherwise.

Call ``enqueue`` only after the transaction whose work the job continues has committed: the
job runs in another process (or right now, inline) and must see committed rows. Every job is a
plain function taking ids, safe to run twice.
"""

from __future__ import annotations

import importlib
import logging
import threading
from datetime import timedelta

from flask import current_app

log = logging.getLogger(__name__)


def _resolve(path: str):
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
    """Run ``path(*args)`` as a job, now or after ``delay``."""
    app = current_app._get_current_object()
    if app.config.get("REDIS_URL"):
        queue = get_queue()
        if delay:
            return queue.enqueue_in(delay, path, *args, job_id=job_id)
        return queue.enqueue(path, *args, job_id=job_id)
    if delay:
        if app.config.get("INLINE_DELAYED_JOBS", True):
            timer = threading.Timer(delay.total_seconds(), _run_in_app, (app, path, args))
            timer.daemon = True
            timer.start()
        return None
    _run_in_app(app, path, args)
    return None


def _run_in_app(app, path: str, args: tuple) -> None:
    with app.app_context():
        try:
            _resolve(path)(*args)
        except Exception:  # an inline job must not break the request that queued it
            log.exception("job %s%r failed", path, args)

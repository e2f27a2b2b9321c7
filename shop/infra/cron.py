"""The RQ cron configuration: ``rq cron --url $REDIS_URL shop.infra.cron`` enqueues the periodic
sweeps (``shop.infra.queue.PERIODIC``, filled in when the app is built) on the ``siyu`` queue."""

from rq import cron

from shop.infra.queue import PERIODIC, run_job, worker_app

worker_app()  # builds the app, which registers every package's sweeps

for _path, _interval in PERIODIC.items():
    cron.register(run_job, "siyu", args=(_path,), interval=_interval, name=_path)

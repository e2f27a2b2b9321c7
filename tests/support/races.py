"""Race tests: run the competitors at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor


def all_at_once(count: int, action) -> list:
    """Run ``action(i)`` in ``count`` threads released together; returns what each returned."""
    start = threading.Barrier(count, timeout=60)

    def run(i):
        start.wait()
        return action(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))

"""The per-key rate limit, on a clock the test moves: a burst of 40, then 2 a second for ever,
and no more than a 40-token bucket refilled 2 a second would give over each window (see
``shop.api.auth``); 429 with the wait in ``Retry-After``."""

from __future__ import annotations

from types import SimpleNamespace

import limits.storage.memory
import limits.strategies
import pytest

from shop.api import auth as api_auth
from shop.api.errors import ApiError
from tests.support.api import auth, make_key


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # a multiple of every window: the counters start fresh

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    monkeypatch.setattr(limits.strategies, "time", clock)
    monkeypatch.setattr(api_auth, "time", clock)
    return clock


def test_the_windows_stand_for_the_bucket():
    assert [(w.amount, w.multiples) for w in api_auth.windows(40, 2)] == [
        (40, 1),
        (80, 20),
        (440, 200),
        (2440, 1200),
    ]
    assert [(w.amount, w.multiples) for w in api_auth.windows(3, 1)] == [
        (3, 1),
        (6, 3),
        (33, 30),
        (183, 180),
    ]


def test_a_burst_of_40_then_2_a_second_is_never_refused(ctx, client, clock):
    secret = make_key(["orders:read"])  # the defaults: 40, 2 a second

    def get():
        return client.get("/api/v1/orders", headers=auth(secret))

    assert {get().status_code for _ in range(40)} == {200}
    refused = get()
    assert refused.status_code == 429 and refused.get_json()["code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "1"  # the 1-s window frees then
    clock.now += 1.01
    codes = []
    for _ in range(500):  # 250 s at 2 a second: past the 20-s and 200-s windows
        codes.append(get().status_code)
        clock.now += 0.5
    assert set(codes) == {200}


def _greedy(clock, key, seconds: float, every: float) -> list[float]:
    """Call as fast as ``every`` for ``seconds``; the moments let through."""
    start, accepted, waits = clock.now, [], []
    while clock.now < start + seconds:
        try:
            api_auth._rate_limit(key)
            accepted.append(clock.now - start)
        except ApiError as error:
            assert error.status == 429
            waits.append(int(error.headers["Retry-After"]))
        clock.now += every
    return accepted, waits


def test_a_client_that_runs_ahead_gets_no_more_than_the_bucket_over_each_window(ctx, clock):
    key = SimpleNamespace(id=10_001, burst=40, rate_per_second=2)
    first, waits = _greedy(clock, key, 30, 1 / 64)  # 64 a second (exact binary steps)
    assert len([t for t in first if t < 1]) == 40  # the burst
    assert len([t for t in first if t < 20]) == 80  # 40 + 2 * 20
    rest, more_waits = _greedy(clock, key, 1170, 1 / 16)  # then 16 a second, to 20 minutes
    accepted = first + [30 + t for t in rest]
    assert len([t for t in accepted if t < 200]) <= 440  # 40 + 2 * 200
    assert len(accepted) <= 2440  # 2.03 a second over 20 minutes
    assert len(accepted) >= 2 * 1200 * 0.9  # and it does get about 2 a second
    assert 1 <= min(waits + more_waits) and max(waits + more_waits) <= 200


def test_a_client_that_waits_as_retry_after_says_is_let_through_then(ctx, clock):
    key = SimpleNamespace(id=10_003, burst=40, rate_per_second=2)
    start, accepted, honoured = clock.now, 0, []
    while clock.now < start + 1500:
        try:
            api_auth._rate_limit(key)
            accepted += 1
            clock.now += 1 / 8  # 8 a second: ahead of the bucket
        except ApiError as error:
            # (a moment after: a window still holds a request exactly its length old)
            clock.now += int(error.headers["Retry-After"]) + 1 / 64
            try:
                api_auth._rate_limit(key)
                accepted += 1
                honoured.append(True)
            except ApiError:
                honoured.append(False)
    assert honoured and all(honoured)
    assert accepted <= 2440 + 2 * 300 + 40  # 20 minutes' windows, then 5 more minutes


def test_retry_after_says_when_the_refusing_window_frees(ctx, clock):
    key = SimpleNamespace(id=10_002, burst=4, rate_per_second=1)
    accepted, waits = _greedy(clock, key, 4.5, 0.5)  # 2 a second
    # 4 at once are let through by the 1-s window, then 4 + 1 * 4 = 8 per 4 s
    assert accepted[:4] == [0.0, 0.5, 1.0, 1.5]
    clock.now += 10
    accepted, _waits = _greedy(clock, key, 0.01, 0.01)
    assert accepted == [0.0]  # refilled


def test_refused_requests_count_for_nothing(ctx, client, clock):
    secret = make_key(["orders:read"], burst=3, rate_per_second=1)

    def codes(n):
        return [client.get("/api/v1/orders", headers=auth(secret)).status_code for _ in range(n)]

    assert codes(3) == [200, 200, 200]
    assert codes(50) == [429] * 50  # hammering while refused...
    clock.now += 1.01
    assert codes(1) == [200]  # ...does not push the next place further away

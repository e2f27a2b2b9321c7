"""The live-room broker on its own: numbering, replay after Last-Event-ID, the stream's
heartbeat and maximum age, a slow stream filling its gap, publication only after commit."""

from __future__ import annotations

import threading

import pytest

from live.broker import Event, MemoryBroker, RedisBroker, announce, broker, stream
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work


def _frames(gen, n):
    return [next(gen) for _ in range(n)]


def test_events_are_numbered_per_session_and_replayed_after_an_id():
    b = MemoryBroker(buffer_size=3)
    ids = [b.publish(1, "pin", {"n": i}).id for i in range(5)]
    assert ids == [1, 2, 3, 4, 5]
    assert b.publish(2, "pin", {}).id == 1  # another session counts on its own
    assert [e.id for e in b.since(1, 3)] == [4, 5]
    assert [e.id for e in b.since(1, 0)] == [3, 4, 5]  # the buffer keeps the last three
    assert [e.id for e in b.since(1, 99)] == [3, 4, 5]  # an id from a lost counter: all of it
    assert b.head(1) == 5


def test_an_event_is_sse_text_with_its_id():
    text = Event(7, "comment", {"body": "好 <b>"}).sse()
    assert text == 'id: 7\nevent: comment\ndata: {"body":"好 <b>"}\n\n'


def test_a_stream_sends_what_was_missed_then_new_events_and_unsubscribes_when_closed():
    b = MemoryBroker(buffer_size=50)
    b.publish(1, "pin", {"n": 1})
    b.publish(1, "pin", {"n": 2})
    gen = stream(b, 1, last_id=1, heartbeat=30, max_age=60)
    hello, missed = _frames(gen, 2)
    assert hello.startswith("retry:")
    assert missed.startswith("id: 2\n")
    assert b.open_streams(1) == 1
    threading.Timer(0.05, b.publish, (1, "pin", {"n": 3})).start()
    assert next(gen).startswith("id: 3\n")
    gen.close()  # the client went away: the server closes the generator
    assert b.open_streams(1) == 0


def test_a_stream_beats_every_heartbeat_and_ends_at_its_maximum_age():
    b = MemoryBroker(buffer_size=50)
    beats = []
    gen = stream(b, 1, 0, heartbeat=0.05, max_age=0.18, on_beat=lambda: beats.append(1))
    frames = list(gen)  # ends by itself
    assert frames[0].startswith("retry:")
    assert frames.count(": heartbeat\n\n") >= 2
    assert len(beats) == frames.count(": heartbeat\n\n")
    assert b.open_streams() == 0


def test_a_stopping_process_ends_its_streams_at_once_and_any_opened_after():
    b = MemoryBroker(buffer_size=50)
    gen = stream(b, 1, 0, heartbeat=60, max_age=600)
    assert next(gen).startswith("retry:")
    frames = []
    reader = threading.Thread(target=lambda: frames.extend(gen))  # waits for the next event
    reader.start()
    b.end_streams()
    reader.join(timeout=10)
    assert not reader.is_alive() and frames == []  # ended, a heartbeat and an age early
    assert b.open_streams() == 0

    late = stream(b, 2, 0, heartbeat=60, max_age=600)
    assert next(late).startswith("retry:")  # the browser is told when to come back
    assert list(late) == [] and b.open_streams() == 0


def test_a_slow_stream_reads_its_gap_back_from_the_buffer(monkeypatch):
    monkeypatch.setattr("live.broker.QUEUE_SIZE", 2)
    b = MemoryBroker(buffer_size=50)
    gen = stream(b, 1, 0, heartbeat=30, max_age=60)
    next(gen)
    for i in range(6):  # the stream's queue holds two: four are dropped from it
        b.publish(1, "pin", {"n": i})
    ids = [int(f.split("\n")[0][4:]) for f in _frames(gen, 6)]
    assert ids == [1, 2, 3, 4, 5, 6]
    gen.close()


def test_announce_publishes_after_commit_and_never_after_a_rollback(ctx):
    b = broker()
    with unit_of_work():
        announce(42, "pin", {"n": 1})
        assert b.head(42) == 0  # not before the commit
    assert b.head(42) == 1
    with pytest.raises(RuntimeError), unit_of_work():
        announce(42, "pin", {"n": 2})
        db.session.flush()
        raise RuntimeError("rolled back")
    assert b.head(42) == 1


def test_redis_broker_numbers_buffers_and_fans_out(tmp_path):
    from tests.support.redis_server import RedisServer

    server = RedisServer(tmp_path).start()
    one = RedisBroker(server.url, buffer_size=2)
    two = RedisBroker(server.url, buffer_size=2)
    try:
        gen = stream(two, 5, 0, heartbeat=30, max_age=60)
        next(gen)
        _wait_subscribed(two)
        one.publish(5, "pin", {"n": 1})
        assert next(gen).startswith("id: 1\nevent: pin\n")
        one.publish(5, "pin", {"n": 2})
        one.publish(5, "pin", {"n": 3})
        assert [e.id for e in two.since(5, 0)] == [2, 3]
        assert two.head(5) == 3
        gen.close()
    finally:
        one.close()
        two.close()
        server.stop()


def _wait_subscribed(b: RedisBroker) -> None:
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if b.redis.pubsub_numpat() > 0:
            return
        time.sleep(0.02)
    raise AssertionError("the subscriber did not subscribe")

"""The live-room event broker: numbered events per session, fanned out to open SSE streams.

Every event of a session gets the next number of that session (1, 2, 3 ...), and the last
``LIVE_EVENT_BUFFER`` events of each session are kept, so a browser that reconnects with
``Last-Event-ID: n`` is sent every event after ``n`` that it missed.

With ``REDIS_URL``: numbering, buffer and publication are one Lua script on Redis (``INCR`` the
session's counter, ``RPUSH``/``LTRIM`` its buffer list, ``PUBLISH`` on its channel), so every web
process sees the same numbers in the same order. Each web process runs ONE subscriber thread
(``PSUBSCRIBE`` on every session's channel) that hands each message to the queues of the streams
open in that process. Without Redis the counter, buffer and fan-out are in memory (one process).

A stream never blocks on anything but its own queue, with a timeout (the heartbeat), so a
client that goes away costs at most one heartbeat interval before the server notices and
unsubscribes it. A slow stream whose queue is full loses the event from its queue, never the
event itself: it sees a gap in the numbers and reads what it missed from the buffer.

Publish only after the change an event tells of has committed (``announce`` registers the
publication with ``after_commit``); a browser must never see a pin that was rolled back.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from flask import Flask, current_app

from shop.infra.unit_of_work import after_commit

log = logging.getLogger(__name__)

EXTENSION = "siyu_live_broker"
QUEUE_SIZE = 256

# KEYS: counter, buffer, last state; ARGV: channel, kind, data (JSON), buffer size, ttl seconds,
# "1" to publish only if ``data`` differs from the last state published under KEYS[3].
_PUBLISH = """
if ARGV[6] == '1' then
  if redis.call('GET', KEYS[3]) == ARGV[3] then return 0 end
  redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[5])
end
local id = redis.call('INCR', KEYS[1])
local event = '{"id":' .. id .. ',"kind":' .. cjson.encode(ARGV[2]) .. ',"data":' .. ARGV[3] .. '}'
redis.call('RPUSH', KEYS[2], event)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[1], event)
return id
"""


def _canonical(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class Event:
    id: int
    kind: str
    data: dict

    def sse(self) -> str:
        """The event as Server-Sent Events text (one ``data`` line: JSON has no newlines)."""
        body = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.kind}\ndata: {body}\n\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        value = json.loads(text)
        data = value.get("data")
        return cls(int(value["id"]), str(value["kind"]), data if isinstance(data, dict) else {})


class Subscription:
    """One open stream's mailbox for one session's events."""

    def __init__(self, session_id: int) -> None:
        self.session_id = session_id
        self.queue: queue.Queue[Event | None] = queue.Queue(maxsize=QUEUE_SIZE)
        self.ended = False

    def end(self) -> None:
        """Make the stream return at once (the process is stopping)."""
        self.ended = True
        try:
            self.queue.put_nowait(None)  # wakes it; a full queue wakes it anyway
        except queue.Full:
            pass

    def offer(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except queue.Full:  # the stream is slow: it will read the gap back from the buffer
            pass

    def get(self, timeout: float) -> Event | None:
        try:
            return self.queue.get(timeout=max(timeout, 0))
        except queue.Empty:
            return None


class Broker:
    """Publication, replay and fan-out of one app's live-room events."""

    def __init__(self, buffer_size: int) -> None:
        self.buffer_size = buffer_size
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[Subscription]] = defaultdict(set)
        self._ending = False

    # -- subscribers in this process --------------------------------------------------------

    def subscribe(self, session_id: int) -> Subscription:
        sub = Subscription(session_id)
        with self._lock:
            self._subscribers[session_id].add(sub)
            if self._ending:
                sub.end()
        self._started()
        return sub

    def end_streams(self) -> None:
        """End every stream open in this process, and any opened from now on, at once: the
        process is stopping, and a browser reopens its stream (with ``Last-Event-ID``, so it
        misses nothing) on a process that is not."""
        with self._lock:
            self._ending = True
            for subs in self._subscribers.values():
                for sub in subs:
                    sub.end()

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subscribers.get(sub.session_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[sub.session_id]

    def open_streams(self, session_id: int | None = None) -> int:
        with self._lock:
            if session_id is not None:
                return len(self._subscribers.get(session_id, ()))
            return sum(len(s) for s in self._subscribers.values())

    def fan_out(self, session_id: int, event: Event) -> None:
        with self._lock:
            subs = list(self._subscribers.get(session_id, ()))
        for sub in subs:
            sub.offer(event)

    def _started(self) -> None:
        """Start whatever delivers events to this process (the Redis subscriber)."""

    # -- the backend's part ------------------------------------------------------------------

    def publish(self, session_id: int, kind: str, data: dict, state: bool = False) -> Event | None:
        """Number, keep and fan out one event (call after the commit it tells of). ``state``:
        the event is the latest state of ``kind`` (what is pinned, the status, the viewer
        count), published only if it differs from the last one, so a change announced by two
        paths (the console and the outbox, two processes) reaches the room once. Returns the
        event, or None when nothing changed."""
        raise NotImplementedError

    def head(self, session_id: int) -> int:
        """The number of the session's latest event (0: none yet)."""
        raise NotImplementedError

    def since(self, session_id: int, last_id: int) -> list[Event]:
        """The buffered events of the session after ``last_id``, oldest first. A ``last_id``
        beyond the session's counter (the counter was lost: Redis restarted) gets the whole
        buffer."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop background work (tests, shutdown)."""


class MemoryBroker(Broker):
    """One process, no Redis: counter, buffer and fan-out in memory."""

    def __init__(self, buffer_size: int) -> None:
        super().__init__(buffer_size)
        self._counters: dict[int, int] = defaultdict(int)
        self._buffers: dict[int, deque[Event]] = {}
        self._states: dict[tuple[int, str], str] = {}

    def publish(self, session_id: int, kind: str, data: dict, state: bool = False) -> Event | None:
        with self._lock:
            if state:
                text = _canonical(data)
                if self._states.get((session_id, kind)) == text:
                    return None
                self._states[(session_id, kind)] = text
            self._counters[session_id] += 1
            event = Event(self._counters[session_id], kind, data)
            buffer = self._buffers.setdefault(session_id, deque(maxlen=self.buffer_size))
            buffer.append(event)
        self.fan_out(session_id, event)
        return event

    def head(self, session_id: int) -> int:
        with self._lock:
            return self._counters.get(session_id, 0)

    def since(self, session_id: int, last_id: int) -> list[Event]:
        with self._lock:
            buffered = list(self._buffers.get(session_id, ()))
            head = self._counters.get(session_id, 0)
        if last_id > head:
            return buffered
        return [e for e in buffered if e.id > last_id]


class RedisBroker(Broker):
    """Many processes on one Redis: numbered by a Lua script, one subscriber thread each."""

    TTL_SECONDS = 3 * 24 * 3600

    def __init__(self, url: str, buffer_size: int, prefix: str = "siyu:live") -> None:
        super().__init__(buffer_size)
        from redis import Redis

        self.redis = Redis.from_url(url, health_check_interval=30)
        self.prefix = prefix
        self._script = self.redis.register_script(_PUBLISH)
        self._listener: threading.Thread | None = None
        self._stopped = threading.Event()
        self._pubsub = None

    def _keys(self, session_id: int) -> tuple[str, str, str]:
        base = f"{self.prefix}:{session_id}"
        return f"{base}:seq", f"{base}:buffer", f"{self.prefix}:events:{session_id}"

    def publish(self, session_id: int, kind: str, data: dict, state: bool = False) -> Event | None:
        counter, buffer, channel = self._keys(session_id)
        last_state = f"{self.prefix}:{session_id}:state:{kind}"
        event_id = self._script(
            keys=[counter, buffer, last_state],
            args=[
                channel,
                kind,
                _canonical(data),
                self.buffer_size,
                self.TTL_SECONDS,
                "1" if state else "0",
            ],
        )
        return Event(int(event_id), kind, data) if event_id else None

    def head(self, session_id: int) -> int:
        return int(self.redis.get(self._keys(session_id)[0]) or 0)

    def since(self, session_id: int, last_id: int) -> list[Event]:
        counter, buffer, _ = self._keys(session_id)
        pipe = self.redis.pipeline()
        pipe.get(counter)
        pipe.lrange(buffer, 0, -1)
        head, raw = pipe.execute()
        events = [Event.from_json(item) for item in raw]
        if last_id > int(head or 0):
            return events
        return [e for e in events if e.id > last_id]

    def _started(self) -> None:
        if self._listener is not None:
            return
        with self._lock:
            if self._listener is None:
                self._listener = threading.Thread(
                    target=self._listen, name="siyu-live-subscriber", daemon=True
                )
                self._listener.start()

    def _listen(self) -> None:
        """The process's one subscriber: every session's channel, fanned out to local streams.
        Reconnects after a Redis failure; streams fill what they missed from the buffer."""
        pattern = f"{self.prefix}:events:*"
        offset = len(pattern) - 1
        while not self._stopped.is_set():
            try:
                self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                self._pubsub.psubscribe(pattern)
                while not self._stopped.is_set():
                    message = self._pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "pmessage":
                        continue
                    channel = message["channel"]
                    if isinstance(channel, bytes):
                        channel = channel.decode()
                    try:
                        session_id = int(channel[offset:])
                        event = Event.from_json(message["data"])
                    except (ValueError, KeyError, TypeError):
                        log.warning("live broker: unreadable message on %s", channel)
                        continue
                    self.fan_out(session_id, event)
            except Exception:
                if self._stopped.is_set():
                    break
                log.exception("live broker: subscriber lost Redis; reconnecting")
                self._stopped.wait(1.0)
            finally:
                if self._pubsub is not None:
                    try:
                        self._pubsub.close()
                    except Exception:
                        pass

    def close(self) -> None:
        self._stopped.set()
        if self._listener is not None:
            self._listener.join(timeout=3)


def init_app(app: Flask) -> None:
    size = app.config.get("LIVE_EVENT_BUFFER", 200)
    if app.config.get("REDIS_URL"):
        app.extensions[EXTENSION] = RedisBroker(app.config["REDIS_URL"], size)
    else:
        app.extensions[EXTENSION] = MemoryBroker(size)


def broker(app: Flask | None = None) -> Broker:
    return (app or current_app).extensions[EXTENSION]


def announce(session_id: int, kind: str, data: dict, state: bool = False) -> None:
    """Publish a live-room event once the current transaction commits (never if it rolls
    back). Does not commit. A failure to publish is logged; the commit stands."""
    b = broker(current_app._get_current_object())
    after_commit(b.publish, session_id, kind, data, state=state)


def stream(
    b: Broker, session_id: int, last_id: int, heartbeat: float, max_age: float, on_beat=None
):
    """The Server-Sent Events text of one stream: what was missed after ``last_id``, then each
    new event; a comment every ``heartbeat`` seconds (``on_beat()`` runs then, e.g. to keep the
    viewer counted); closed after ``max_age`` seconds, when the browser reconnects with
    ``Last-Event-ID``, or at once when the process stops (``Broker.end_streams``). Unsubscribes
    however it ends (the client gone: the server closes the generator at its next write, at
    most one heartbeat later)."""
    sub = b.subscribe(session_id)
    try:
        yield f"retry: 2000\n: stream for session {session_id}\n\n"
        last = last_id
        for event in b.since(session_id, last_id):
            last = event.id
            yield event.sse()
        start = time.monotonic()
        deadline = start + max_age
        next_beat = start + heartbeat
        while not sub.ended:
            now = time.monotonic()
            if now >= deadline:
                return
            if now >= next_beat:
                next_beat = now + heartbeat
                if on_beat is not None:
                    on_beat()
                yield ": heartbeat\n\n"
                continue
            event = sub.get(timeout=min(next_beat, deadline) - now)
            if event is None or event.id <= last:
                continue
            if event.id > last + 1:  # missed some (a full queue, a resubscription): read back
                for missed in b.since(session_id, last):
                    if missed.id < event.id:
                        last = missed.id
                        yield missed.sse()
            last = event.id
            yield event.sse()
    finally:
        b.unsubscribe(sub)

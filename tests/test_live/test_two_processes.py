"""Two web processes on one Redis: a pin made through one reaches a browser streaming from the
other, and a browser that reconnects with Last-Event-ID is sent what it missed."""

from __future__ import annotations

import queue
import signal
import threading
import time

import pytest
import requests
from redis import Redis

from tests.support.live_room import HOST_EMAIL, HOST_PASSWORD, make_room
from tests.support.redis_server import RedisServer
from tests.support.servers import WebProcess


class SSEClient:
    """A browser's EventSource, reduced: reads events from a stream into a queue."""

    def __init__(self, url: str, last_event_id: int | None = None, visitor: str = "") -> None:
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        cookies = {"siyu_vid": visitor} if visitor else None
        self.response = requests.get(url, headers=headers, cookies=cookies, stream=True, timeout=30)
        assert self.response.headers["Content-Type"].startswith("text/event-stream")
        self.events: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event: dict = {}
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if not line:
                    if "data" in event:
                        self.events.put(event)
                    event = {}
                elif not line.startswith(":"):
                    field, _, value = line.partition(": ")
                    event[field] = value
        except (requests.RequestException, AttributeError, ValueError):
            pass

    def next(self, kind: str, timeout: float = 10) -> dict:
        while True:
            event = self.events.get(timeout=timeout)
            if event.get("event") == kind:
                return event

    def close(self) -> None:
        self.response.close()


@pytest.fixture
def redis_url(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server.url
    server.stop()


def _eventually(check, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


@pytest.fixture
def two_processes(ctx, database_url, redis_url, tmp_path):
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "two-processes",
        "WTF_CSRF_ENABLED": "0",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "LIVE_SSE_HEARTBEAT_SECONDS": "1",
    }
    processes = []
    try:
        for _ in range(2):
            processes.append(WebProcess(env).start())
        yield processes
    finally:
        for process in processes:
            process.stop()


def test_a_pin_in_one_process_reaches_a_stream_of_the_other_and_a_reconnect_misses_nothing(
    ctx, two_processes
):
    room = make_room(status="live")
    first, second = two_processes
    host = requests.Session()
    signed_in = host.post(
        first.url + "/guide/login",
        data={"email": HOST_EMAIL, "password": HOST_PASSWORD},
        allow_redirects=False,
    )
    assert signed_in.status_code == 302

    viewer = SSEClient(f"{second.url}/live/{room.session_id}/events")
    pinned = host.post(f"{first.url}/live/{room.session_id}/host/pin", data={"item": room.items[0]})
    assert pinned.json()["ok"] is True
    event = viewer.next("pin")
    assert '"name":"Green Tea"' in event["data"]
    seen = int(event["id"])
    viewer.close()

    # While the viewer is away: the host pins the other product, then unpins.
    host.post(f"{first.url}/live/{room.session_id}/host/pin", data={"item": room.items[1]})
    host.post(f"{first.url}/live/{room.session_id}/host/unpin")

    back = SSEClient(f"{second.url}/live/{room.session_id}/events", last_event_id=seen)
    missed = [back.next("pin"), back.next("pin")]
    assert [int(e["id"]) for e in missed] == [seen + 1, seen + 2]
    assert '"name":"Oolong"' in missed[0]["data"]
    assert '"pinned":null' in missed[1]["data"]
    back.close()


def test_a_viewer_who_goes_away_is_let_go_within_a_heartbeat(ctx, two_processes, redis_url):
    """The server notices a closed stream at its next heartbeat (1 s here): the stream's
    generator ends, it unsubscribes, and the browser stops counting as watching."""
    room = make_room(status="live")
    _, second = two_processes
    watching = f"siyu:live:{room.session_id}:viewers"
    redis = Redis.from_url(redis_url)
    viewer = SSEClient(f"{second.url}/live/{room.session_id}/events", visitor="visitor-one")
    _eventually(lambda: redis.zcard(watching) == 1)
    viewer.close()
    _eventually(lambda: redis.zcard(watching) == 0, seconds=5)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGQUIT], ids=["graceful", "quick"])
def test_a_process_told_to_stop_ends_its_streams_and_exits_without_waiting_for_them(
    ctx, database_url, tmp_path, stop
):
    """A restart (SIGTERM) lets requests finish, and a quick stop (SIGQUIT) lets its request
    threads end, up to gunicorn's graceful timeout (two minutes here); an event stream would
    never finish, so the process ends it and exits."""
    room = make_room(status="live")
    server = WebProcess(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "stopping",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "LIVE_SSE_HEARTBEAT_SECONDS": "60",
            "GUNICORN_CMD_ARGS": "--graceful-timeout 120",
        }
    ).start()
    try:
        viewer = SSEClient(f"{server.url}/live/{room.session_id}/events")
        server.process.send_signal(stop)
        server.process.wait(timeout=60)
        viewer.thread.join(timeout=10)
        assert not viewer.thread.is_alive()  # the stream ended: the browser reopens it
    finally:
        server.stop()

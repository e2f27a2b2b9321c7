"""The live room's part of ``make bench`` (``--only live``): 500 open event streams.

One live session on the bench database, served by gunicorn the way the README's production
command does (gthread workers, a thread per open stream, on Redis so every worker's streams see
every pin). From this process, ``STREAMS`` Server-Sent Events streams are opened (asyncio,
HTTP/1.0, so the body is the bare stream) and the session's host pins products through the
host console over HTTP, as the console does. Measured:

- memory per stream: the growth of the gunicorn workers' resident memory (VmRSS) from before the
  streams opened to when all were open, divided by ``STREAMS``;
- the delay from a pin to every client: ``DELAY_PINS`` pins one at a time, each timed from
  just before its POST to its arrival at each client; p50 / p95 / max over every (pin, client),
  and the p95 of the time until the last client has it;
- the pin broadcast rate: ``BURST_PINS`` pins sent back to back; pins per second from the first
  POST until every client has the last one, and the deliveries per second that makes.

Every client must receive every pin, in order, exactly once: anything else is a problem.
The Redis database at ``BENCH_REDIS_URL`` is flushed before and after, like the outbox drain.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

STREAMS = 500
DELAY_PINS = 20
BURST_PINS = 100
WORKERS = 2
# Each stream holds one gthread thread for its life: room for every stream in either worker
# (the kernel does not spread connections evenly), and for the host console's requests.
THREADS = STREAMS + 32
HOST_EMAIL = "bench-live-host@siyu.test"
HOST_PASSWORD = "bench-live-password-2026"


@dataclass
class LiveRun:
    streams: int
    rss_before_mb: float
    rss_after_mb: float
    delays_ms: list[float] = field(default_factory=list)  # every (pin, client)
    last_ms: list[float] = field(default_factory=list)  # per pin: until the last client
    burst_pins: int = 0
    burst_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def kb_per_stream(self) -> float:
        return (self.rss_after_mb - self.rss_before_mb) * 1024 / self.streams

    @property
    def pin_rate(self) -> float:
        return self.burst_pins / self.burst_s if self.burst_s else 0.0


def p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def seed_live_session() -> tuple[int, list[int]]:
    """A live session of the bench store, hosted by a guide, two products on its shelf.
    Needs an app context; commits."""
    from distribution.factories import make_guide
    from live.models import LiveSession, SessionStatus, ShelfItem, StreamKind
    from shop.demo.factories import make_category, make_product, make_store
    from shop.extensions import db

    store = make_store("Bench Live Store", "Hangzhou", "2 West Lake Rd")
    category = make_category("Live")
    products = [
        make_product(name, price=9900, stock_qty=1000, category=category, store=store)
        for name in ("Live Oolong", "Live Pu'er")
    ]
    guide = make_guide(store, "Bench Host", email=HOST_EMAIL, password=HOST_PASSWORD)
    session = LiveSession(
        store_id=store.id,
        host_id=guide.id,
        title="Bench live",
        stream_kind=StreamKind.HLS,
        stream_url="https://video.example/bench.m3u8",
        status=SessionStatus.LIVE,
    )
    db.session.add(session)
    db.session.flush()
    items = [
        ShelfItem(session_id=session.id, product_id=product.id, live_price=6900, stock_cap=100)
        for product in products
    ]
    db.session.add_all(items)
    db.session.commit()
    return session.id, [item.id for item in items]


def workers_of(master: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == master:
                pids.append(int(entry.name))
    return pids


def rss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            pass
    return total_kb / 1024


class Host:
    """The host console's HTTP calls, signed in as the session's guide."""

    def __init__(self, base: str, session_id: int) -> None:
        self.base = base
        self.session_id = session_id
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self._post("/guide/login", {"email": HOST_EMAIL, "password": HOST_PASSWORD})

    def _post(self, path: str, fields: dict) -> int:
        body = urllib.parse.urlencode(fields).encode()
        with self.opener.open(self.base + path, data=body, timeout=30) as response:
            return response.status

    def pin(self, item_id: int) -> None:
        self._post(f"/live/{self.session_id}/host/pin", {"item": item_id})


class Client:
    """One open stream: the arrival time of each event id."""

    def __init__(self) -> None:
        self.arrivals: dict[int, float] = {}
        self.order: list[int] = []
        self.open = asyncio.Event()
        self.waiters: dict[int, asyncio.Event] = {}

    async def run(self, host: str, port: int, path: str) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        head = f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n"
        writer.write(head.encode())
        await writer.drain()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass  # the response head
        buffer = b""
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                now = time.monotonic()
                buffer += chunk
                *frames, buffer = buffer.split(b"\n\n")
                for frame in frames:
                    self._frame(frame, now)
        finally:
            writer.close()

    def _frame(self, frame: bytes, now: float) -> None:
        event_id = None
        for line in frame.split(b"\n"):
            if line.startswith(b"retry:"):
                self.open.set()
            elif line.startswith(b"id: "):
                event_id = int(line[4:])
        if event_id is not None:
            if event_id in self.arrivals:
                return
            self.arrivals[event_id] = now
            self.order.append(event_id)
            waiter = self.waiters.get(event_id)
            if waiter is not None:
                waiter.set()

    async def wait_for(self, event_id: int, timeout: float) -> None:
        if event_id in self.arrivals:
            return
        waiter = self.waiters.setdefault(event_id, asyncio.Event())
        await asyncio.wait_for(waiter.wait(), timeout)


async def _measure(base: str, session_id: int, items: list[int], master: int) -> LiveRun:
    parsed = urllib.parse.urlsplit(base)
    path = f"/live/{session_id}/events"
    host = await asyncio.to_thread(Host, base, session_id)
    workers = workers_of(master)
    before = rss_mb(workers)
    clients = [Client() for _ in range(STREAMS)]
    tasks = []
    for start in range(0, STREAMS, 50):  # open in batches, as an audience arrives
        for client in clients[start : start + 50]:
            tasks.append(asyncio.create_task(client.run(parsed.hostname, parsed.port, path)))
        await asyncio.gather(*(c.open.wait() for c in clients[start : start + 50]))
    await asyncio.sleep(1.0)
    run = LiveRun(STREAMS, before, rss_mb(workers))
    next_id = 1
    try:
        for n in range(DELAY_PINS):
            sent = time.monotonic()
            await asyncio.to_thread(host.pin, items[n % len(items)])
            await asyncio.gather(*(c.wait_for(next_id, 30) for c in clients))
            times = [c.arrivals[next_id] - sent for c in clients]
            run.delays_ms.extend(t * 1000 for t in times)
            run.last_ms.append(max(times) * 1000)
            next_id += 1
        first = next_id
        started = time.monotonic()
        for n in range(BURST_PINS):
            await asyncio.to_thread(host.pin, items[(DELAY_PINS + n) % len(items)])
        last = first + BURST_PINS - 1
        await asyncio.gather(*(c.wait_for(last, 60) for c in clients))
        run.burst_pins, run.burst_s = BURST_PINS, time.monotonic() - started
    except TimeoutError:
        run.problems.append("some clients did not receive every pin within the timeout")
    wanted = list(range(1, DELAY_PINS + BURST_PINS + 1))
    broken = sum(1 for c in clients if c.order != wanted)
    if broken:
        run.problems.append(f"{broken} of {STREAMS} clients did not get every pin once, in order")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return run


def measure_live(app, env: dict[str, str], redis_url: str, log_path: Path, free_port, stop):
    """Seed the session, serve it, open the streams, pin. Returns a ``LiveRun``."""
    from redis import Redis

    with app.app_context():
        session_id, items = seed_live_session()
    Redis.from_url(redis_url).flushdb()
    port = free_port()
    bin_dir = Path(sys.executable).parent
    server_env = {**env, "REDIS_URL": redis_url, "LIVE_SSE_HEARTBEAT_SECONDS": "15"}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [
                str(bin_dir / "gunicorn"),
                "--config=python:shop.infra.gunicorn_config",
                f"--workers={WORKERS}",
                "--worker-class=gthread",
                f"--threads={THREADS}",
                f"--bind=127.0.0.1:{port}",
                "--log-level=warning",
                "--graceful-timeout=5",
                "--no-control-socket",
                "wsgi:app",
            ],
            cwd=str(Path(__file__).resolve().parent.parent),
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/live/{session_id}", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"gunicorn did not serve the room:\n{log_path.read_text()[-3000:]}"
                    ) from None
                time.sleep(0.2)
        return asyncio.run(_measure(base, session_id, items, proc.pid))
    finally:
        stop(proc)
        Redis.from_url(redis_url).flushdb()


def live_report(run: LiveRun) -> str:
    return "\n".join(
        [
            f"live room: {run.streams} open streams (gunicorn gthread, {WORKERS} workers × "
            f"{THREADS} threads, Redis pub/sub)",
            f"  memory per stream: {run.kb_per_stream:.0f} KiB "
            f"(workers' RSS {run.rss_before_mb:.0f} → {run.rss_after_mb:.0f} MiB)",
            f"  pin → client delay: p50 {p(run.delays_ms, 0.5):.0f} ms, "
            f"p95 {p(run.delays_ms, 0.95):.0f} ms, max {max(run.delays_ms, default=0):.0f} ms "
            f"({len(run.last_ms)} pins × {run.streams} clients)",
            f"  pin → every client: p95 {p(run.last_ms, 0.95):.0f} ms, "
            f"median {statistics.median(run.last_ms) if run.last_ms else float('nan'):.0f} ms",
            f"  pin broadcast rate: {run.pin_rate:.1f} pins/s "
            f"({run.pin_rate * run.streams:.0f} deliveries/s; {run.burst_pins} pins back to back "
            f"in {run.burst_s:.1f} s)",
            "  every client got every pin once, in order: " + ("; ".join(run.problems) or "yes"),
        ]
    )


def live_cell(run: LiveRun) -> str:
    return (
        f"{run.streams} streams: {run.kb_per_stream:.0f} KiB/stream, "
        f"p95 {p(run.delays_ms, 0.95):.0f} ms pin→client, {run.pin_rate:.1f} pins/s"
    )

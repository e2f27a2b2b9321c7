"""`make bench`: throughput of the shop against two baselines, on PostgreSQL and gunicorn.

Measures, in one run and with the same load (wrk, CONNECTIONS keep-alive connections, a warm-up
then a fixed duration):

1. a bare Flask hello-world app (bench/hello.py): requests/s, the ceiling of Flask on gunicorn,
   measured before the shop's runs and again after them; the ratios use the faster run;
2. the shop's product page, GET /p/<slug>: requests/s, for a visitor without cookies, for a
   share-link visitor (the cookies GET /s/<code> sets), for a signed-in member (the cookies of a
   sign-in) and for a viewer of the live session with the product on its shelf (the cookies of
   entering it: the page shows them its live price), each cookie got over HTTP first
   (bench/visitors.py), each measured twice and
   the faster run used, as for hello-world; then the memory each gunicorn worker holds (RSS
   and USS);
3. order placement, POST /checkout (buy now, pick-up, pay at store): orders/s, counting only
   303 redirects to an order page. The shop is served as in production: with the shop's
   gunicorn settings (the app preloaded) and jobs on Redis (BENCH_REDIS_URL, flushed first), so
   a placement hands its outbox events to RQ after the commit, as it does in production; no RQ
   worker runs them meanwhile (part 7 measures what delivering them costs);
4. a share-link open, GET /s/<code> of a guide's product link: requests/s, counting only 302
   redirects to the product page; every one records a visit and binds a new visitor, which the
   database must show afterwards;
5. the raw database work of an order, one conditional stock decrement and one insert in a
   transaction (bench/stock_tx.sql), run by pgbench with the same number of clients: tps; and
   checkout's own floor: the exact statements one order placement sends, recorded in this
   process and replayed by pgbench with the same clients (bench/checkout_floor.py): runs/s;
6. settling SETTLE_ENTRIES pending commission entries past the return window, in this process:
   seconds of distribution.commission.settle_due_commissions(), then `ledger verify`;
7. the outbox (bench/outbox_runs.py): a backlog of 10,000 pending events drained by one RQ
   worker (on BENCH_REDIS_URL, flushed), and in-process; then what its rows cost an order
   placement and a payment: statements and CPU ms without and with them;
8. the live room (bench/live_streams.py): 500 open event streams on gunicorn gthread workers
   and Redis; memory per stream, the delay from a pin to every client, the pin broadcast rate
   (printed; not in RESULTS.md's table);
9. a flash sale (bench/live_flash.py): a live product with N units sold out through HTTP by
   CONNECTIONS buyers; orders/s and its ratio to the raw transaction (pgbench, same run),
   checking exactly N units sold (printed; not in RESULTS.md's table).

Prints the ratios product page / hello-world, order placement / raw transaction and share link /
hello-world, and the settlement time, against their targets, and appends a dated row to
bench/RESULTS.md. Needs the local PostgreSQL, pgbench, wrk and a Redis; the database siyu_bench
(or BENCH_DB) is dropped and recreated on every run. Every gunicorn and RQ worker started here
is stopped on the way out, error or not.

``--only share,settle`` (any of PARTS) runs a subset while iterating: hello-world is measured
too whenever a ratio needs it, and nothing is appended to RESULTS.md. The default runs it all.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BIN = Path(sys.executable).parent
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = os.environ.get("BENCH_DB", "siyu_bench")  # dropped and recreated on every run
DATABASE_URL = f"{PG_SERVER}/{DB_NAME}"
WORKERS = 2  # gunicorn workers (gthread), the same for every app measured
THREADS = 4  # threads per worker: WORKERS * THREADS == CONNECTIONS, one request per slot
CONNECTIONS = 8  # concurrent clients: wrk connections and pgbench clients
LOAD_THREADS = 2  # wrk threads and pgbench threads
WARMUP_S = 2
DURATION_S = 10
PRODUCT_TARGET = 0.40  # product page / hello-world, for every kind of visitor
ORDER_TARGET = 0.30  # order placement / raw transaction
FLOOR_TARGET = 0.50  # order placement / its own statements replayed by pgbench
SHARE_TARGET = 0.35  # share-link open / hello-world
SETTLE_ENTRIES = 100_000  # pending commission entries the settlement run settles
SETTLE_TARGET_S = 10.0
MEMORY_TARGET_MB = 80  # private memory (USS) of each shop worker under load
# The outbox drain's RQ queue; this Redis database is flushed before and after.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
PARTS = ("hello", "page", "order", "share", "tx", "settle", "drain", "outbox", "live", "flash")


def proc_stat(pid: int | str) -> list[str] | None:
    """/proc/<pid>/stat after the command name: state, ppid, ..., utime (11), stime (12)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile
        return None


def cpu_seconds(fields: list[str] | None) -> float:
    """User + system CPU time from proc_stat's fields; NaN for a process not visible here."""
    if fields is None:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    url: str
    pid: int  # the gunicorn master

    def worker_cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the master's worker processes."""
        total = 0.0
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                fields = proc_stat(entry.name)
                if fields is not None and int(fields[1]) == self.pid:
                    total += cpu_seconds(fields)
        return total


@dataclass
class Load:
    """One measured wrk run: ``ok`` responses had the expected status."""

    ok: int
    answered: int  # responses of the warm-up and the measured run together
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float  # gunicorn workers' CPU time per request, whatever else the machine runs
    statuses: dict[str, int]

    @property
    def rate(self) -> float:
        return self.ok / self.seconds


@dataclass
class Visitors:
    """The product page for the visitors who come (bench/visitors.py), and worker memory."""

    share: Load  # with a share-link visitor's cookies
    member: Load  # with a signed-in member's cookies
    viewer: Load  # with the cookies of a viewer of the live session (its live price shown)
    memory: list[tuple[float, float]]  # (RSS, USS) MB per gunicorn worker after the page runs
    # The same, served without the shop's gunicorn settings: each worker builds its own app.
    memory_unshared: list[tuple[float, float]] = ()

    @property
    def memory_verdict(self) -> str:
        worst = max((uss for _rss, uss in self.memory), default=float("inf"))
        return "PASS" if worst <= MEMORY_TARGET_MB else "MISS"


def visitor_cookies(server: Server, seeded, page_path: str, sms_file) -> list[str]:
    """The Cookie headers of a share-link visitor, a signed-in member and a live session's
    viewer, got over HTTP."""
    from visitors import live_viewer_cookie, member_cookie, share_visitor_cookie

    return [
        share_visitor_cookie(server.url, f"/s/{seeded.share_code}", page_path),
        member_cookie(server.url, page_path, sms_file),
        live_viewer_cookie(server.url, f"/live/{seeded.live_session_id}/enter", page_path),
    ]


def measure_visitors(
    tool: str, server: Server, page_path: str, cookies: list[str], runs: int = 2
) -> Visitors:
    from visitors import worker_memory

    share_cookie, member, viewer = cookies
    return Visitors(
        share=measure_page(tool, server, page_path, share_cookie, "share-link visitor", runs),
        member=measure_page(tool, server, page_path, member, "member", runs),
        viewer=measure_page(tool, server, page_path, viewer, "live viewer", runs),
        memory=worker_memory(server.pid),
    )


def viewer_check(server: Server, page_path: str, cookie: str) -> list[str]:
    """What is wrong with the live viewer's product page now (nothing: it shows the price)."""
    from visitors import shows_live_price

    if shows_live_price(server.url, page_path, cookie):
        return []
    return ["the live viewer's page no longer showed the live price after their runs"]


def measure_page(
    tool: str, server: Server, path: str, cookie: str | None, who: str, runs: int = 2
) -> Load:
    """The product page for one kind of visitor, measured ``runs`` times, the fastest used, as
    hello-world is: this VM has slow windows, in which a run loses up to two thirds of its rate
    while its CPU ms per request rises alike for the same work. A page view changes nothing,
    so its runs are alike."""
    args = ["get", cookie] if cookie else ["get"]
    loads = [measure(tool, server, path, args, 200) for _ in range(runs)]
    return fastest(f"product page, {who}", loads)


def fastest(what: str, loads: list[Load]) -> Load:
    """The fastest of runs of the same work (said, with every run's rate, when there are
    several): a slow window of this shared VM must not decide a ratio."""
    best = max(loads, key=lambda load: load.rate)
    if len(loads) > 1:
        rates = ", then ".join(f"{load.rate:.0f}" for load in loads)
        say(f"{what}: {rates} req/s; the ratios use {best.rate:.0f}")
    return best


def statements_per_request(app, seeded) -> dict[str, int]:
    """Statements one request of each measured path sends, counted in this process (a
    ``before_cursor_execute`` listener) on the app wsgi:app runs, after one request warmed it:
    as a returning visitor of each kind sees it."""
    from sqlalchemy import event, select
    from visitors import MEMBER_PHONE

    from shop.customers.models import Customer
    from shop.extensions import db

    page, share = f"/p/{seeded.slug}", f"/s/{seeded.share_code}"
    with app.app_context():
        engine = db.engine
        member_id = db.session.scalar(select(Customer.id).where(Customer.phone == MEMBER_PHONE))
        db.session.remove()
    sent: list[str] = []

    def count(*args):
        sent.append(args[2])

    def one(client, path: str) -> int:
        client.get(path)
        sent.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            client.get(path)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(sent)

    shared = app.test_client()
    shared.get(share)
    member = app.test_client()
    with member.session_transaction() as session:
        session["customer_id"] = member_id
        session.permanent = True
    viewer = app.test_client()
    viewer.get(f"/live/{seeded.live_session_id}/enter")
    counts = {
        "page": one(app.test_client(), page),
        "page, share-link visitor": one(shared, page),
        "page, member": one(member, page),
        "page, live viewer": one(viewer, page),
    }
    opener = app.test_client()
    sent.clear()
    event.listen(engine, "before_cursor_execute", count)
    try:
        opener.get(share)  # a new visitor, as wrk's
    finally:
        event.remove(engine, "before_cursor_execute", count)
    counts["share"] = len(sent)
    return counts


@dataclass
class Floor:
    """Checkout's own statements replayed by pgbench (bench/checkout_floor.py)."""

    statements: int  # sent by one placement, BEGIN and COMMIT not counted
    tps: float  # replays (placements) per second
    failed: int


def measure_floor(tool: str, app, seeded, script: Path) -> Floor:
    from checkout_floor import write_script

    form = {
        "variant": str(seeded.variant_id),
        "qty": "1",
        "fulfilment": "pickup",
        "payment_method": "store",
        "pickup_store": str(seeded.store_id),
        "name": "Bench Buyer",
        "phone": "13800000001",
        "idempotency_key": "bench-floor-recording-1",
    }
    # Recorded as the shop is served (part 3): the events handed to RQ after the commit.
    unset, app.config["REDIS_URL"] = app.config.get("REDIS_URL"), REDIS_URL
    try:
        statements = write_script(app, form, DATABASE_URL, script)
    finally:
        app.config["REDIS_URL"] = unset
        app.extensions.pop("rq_queue", None)
    # Each call counts its runs from its own start (see checkout_floor: unique values).
    pgbench_file(tool, script, WARMUP_S, "n=0")
    tps, failed = pgbench_file(tool, script, DURATION_S, "n=100000")
    forget_replayed_events()
    return Floor(statements, tps, failed)


def forget_replayed_events() -> None:
    """Delete the outbox rows the replays wrote (their keys begin with the run's 12-digit
    ``uniq``): no app delivers them, and the drain run counts what is pending."""
    with psycopg.connect(DATABASE_URL) as conn:
        conn.execute("DELETE FROM outbox_events WHERE key ~ '^[0-9]{12}'")


def pgbench_file(tool: str, script: Path, seconds: int, *defines: str) -> tuple[float, int]:
    """tps and failed transactions of a pgbench script with CONNECTIONS clients (``defines``:
    its variables, ``name=value``)."""
    out = subprocess.run(
        [
            tool,
            "--host=127.0.0.1",
            "--port=5432",
            "--username=postgres",
            "--no-vacuum",
            "--protocol=prepared",
            f"--client={CONNECTIONS}",
            f"--jobs={LOAD_THREADS}",
            f"--time={seconds}",
            *(f"--define={define}" for define in defines),
            f"--file={script}",
            DB_NAME,
        ],
        capture_output=True,
        text=True,
    )
    tps = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", out.stdout, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", out.stdout, re.M)
    if tps is None:
        raise RuntimeError(f"pgbench gave no tps:\n{out.stdout}\n{out.stderr[-3000:]}")
    aborted = re.search(r"^number of transactions actually processed: \d+", out.stdout, re.M)
    errors = int(failed.group(1)) if failed else 0
    if out.returncode != 0 or aborted is None:
        errors += 1
        print(f"pgbench {script.name} said:\n{out.stderr[-2000:]}")
    return float(tps.group(1)), errors


def require_tools(parts: set[str]) -> tuple[str | None, str | None]:
    """wrk for the HTTP runs, pgbench for the raw transaction (whichever ``parts`` need)."""
    wrk, pgbench = shutil.which("wrk"), shutil.which("pgbench")
    needed = (("wrk", wrk, {"hello", "page", "order", "share"}), ("pgbench", pgbench, {"tx"}))
    needed += (("pgbench", pgbench, {"flash"}),)  # the flash sale's ratio
    missing = [name for name, path, users in needed if path is None and parts & users]
    if missing:
        sys.exit(
            f"bench: {' and '.join(missing)} not found; "
            "install with: apt-get install wrk postgresql-client"
        )
    return wrk, pgbench


def recreate_database() -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def migrate_and_seed(env: dict[str, str]):
    """Schema by the Alembic migrations, then the bench shop, in this process. Returns the app
    (the settlement runs in it later) and what was seeded."""
    os.environ.update(env)
    for key in os.environ.keys() - env.keys():
        del os.environ[key]  # REDIS_URL, Stripe: the app is configured from env alone
    sys.path.insert(0, str(ROOT))
    from flask_migrate import upgrade
    from seed import seed

    from shop.app import create_app
    from shop.extensions import db

    app = create_app({"INLINE_SCHEDULER": False})
    with app.app_context():
        upgrade()
    with app.test_request_context():
        seeded = seed()
        db.session.remove()
        db.engine.dispose()
    return app, seeded


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The shop is served as the README's production section serves it: with the shop's gunicorn
# settings (the app preloaded in the master, workers forked from it).
SHOP_CONFIG = ["--config=python:shop.infra.gunicorn_config"]


@contextmanager
def gunicorn(
    app_spec: str, env: dict[str, str], log_path: Path, probe: str, options: list[str] = ()
):
    """Serve ``app_spec`` until the block ends; yields the Server once ``probe`` answers 200.
    ``options``: gunicorn's own (the shop's: SHOP_CONFIG)."""
    port = free_port()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                *options,
                f"--workers={WORKERS}",
                "--worker-class=gthread",
                f"--threads={THREADS}",
                f"--bind=127.0.0.1:{port}",
                "--log-level=warning",
                "--graceful-timeout=10",
                "--no-control-socket",  # no shared socket in ~/.gunicorn
                f"--pythonpath={BENCH}",
                app_spec,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches every worker
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn {app_spec} exited:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base + probe, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn {app_spec} did not answer {probe}") from None
                time.sleep(0.2)
        yield Server(base, proc.pid)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Quick shutdown (SIGQUIT), then SIGKILL to the whole process group if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def wrk(tool: str, url: str, seconds: int, args: list[str]) -> dict:
    command = [
        tool,
        f"--threads={LOAD_THREADS}",
        f"--connections={CONNECTIONS}",
        f"--duration={seconds}s",
        "--timeout=10s",
        f"--script={BENCH / 'wrk.lua'}",
        url,
        "--",
        *args,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^WRK_RESULT (\{.*\})$", out, re.M)
    if match is None:
        raise RuntimeError(f"wrk gave no result:\n{out}")
    return json.loads(match.group(1))


def measure(
    tool: str, server: Server, path: str, args: list[str], expected: int, warmup_args=None
) -> Load:
    """Warm up, then measure; a response counts only if it has the ``expected`` status."""
    url = server.url + path
    warmup = wrk(tool, url, WARMUP_S, warmup_args or args)
    cpu_before = server.worker_cpu_seconds()
    result = wrk(tool, url, DURATION_S, args)
    cpu = server.worker_cpu_seconds() - cpu_before
    ok = result["statuses"].get(str(expected), 0)
    if expected in (302, 303):  # only redirects to where they must lead
        ok = result["redirects_ok"]
    return Load(
        ok=ok,
        answered=result["requests"] + warmup["requests"],
        errors=result["requests"] - ok + result["socket_errors"] + result["timeouts"],
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["latency_p50_us"] / 1000,
        p99_ms=result["latency_p99_us"] / 1000,
        cpu_ms=1000 * cpu / max(result["requests"], 1),
        statuses=result["statuses"],
    )


def pgbench(tool: str, variant_id: int, seconds: int) -> tuple[float, int]:
    """tps and failed transactions of bench/stock_tx.sql with CONNECTIONS clients."""
    return pgbench_file(tool, BENCH / "stock_tx.sql", seconds, f"variant_id={variant_id}")


def check_database(variant_id: int) -> tuple[int, list[str]]:
    """Orders the checkout runs placed, and any stock-ledger breach for the bench variant."""
    with psycopg.connect(DATABASE_URL) as conn:
        placed = conn.execute(
            "SELECT count(*) FROM orders WHERE idempotency_key ~ '^bench-[0-9]-'"
        ).fetchone()[0]
        stock, moved = conn.execute(
            "SELECT v.stock, (SELECT sum(delta) FROM stock_movements WHERE variant_id = v.id) "
            "FROM variants v WHERE v.id = %s",
            (variant_id,),
        ).fetchone()
    problems = [] if stock == moved else [f"variant {variant_id}: stock {stock}, ledger {moved}"]
    return placed, problems


def share_trail(code: str) -> tuple[int, int]:
    """Visits recorded for the share link, and the bindings it made."""
    with psycopg.connect(DATABASE_URL) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM visits WHERE link_id = l.id), "
            "(SELECT count(*) FROM bindings WHERE link_id = l.id AND active) "
            "FROM share_links l WHERE l.code = %s",
            (code,),
        ).fetchone()


def check_share_trail(share: Load, before: tuple[int, int], after: tuple[int, int]) -> list[str]:
    """Every answered open recorded a visit and bound its (new) visitor.

    wrk counts the responses it read; a request still in flight when a run stopped may have
    been recorded without being counted, so up to CONNECTIONS more per run (warm-up and
    measured) are allowed, never fewer.
    """
    visits, bindings = after[0] - before[0], after[1] - before[1]
    problems = []
    if not share.answered <= visits <= share.answered + 2 * CONNECTIONS:
        problems.append(f"share link: {share.answered} opens answered, {visits} visits recorded")
    if bindings != visits:
        problems.append(f"share link: {visits} visits by new visitors, {bindings} bindings")
    return problems


@dataclass
class Settlement:
    seed_s: float  # writing the orders, lines and pending entries
    seconds: float  # settle_due_commissions()
    cpu_s: float  # CPU time of the PostgreSQL backend that ran it
    settled: int  # (line, level) pairs it settled
    verify_s: float
    problems: list[str]


def settle(app, seeded) -> Settlement:
    """Seed SETTLE_ENTRIES pending entries past the return window, settle them, verify."""
    from seed import seed_due_commission
    from sqlalchemy import text

    from distribution.commission import settle_due_commissions, verify_ledger
    from shop.extensions import db

    with app.app_context():
        started = time.monotonic()
        pending = seed_due_commission(seeded, SETTLE_ENTRIES)
        seed_s = time.monotonic() - started
        # Asked in the transaction the settlement then runs in: the same connection.
        backend = db.session.scalar(text("SELECT pg_backend_pid()"))
        cpu_before = cpu_seconds(proc_stat(backend))
        started = time.monotonic()
        settled = settle_due_commissions()
        seconds = time.monotonic() - started
        cpu_s = cpu_seconds(proc_stat(backend)) - cpu_before
        left, moved = db.session.execute(
            text(
                "SELECT coalesce(sum(amount) FILTER (WHERE bucket = 'pending'), 0), "
                "coalesce(sum(amount) FILTER (WHERE bucket = 'settled'), 0) "
                "FROM commission_entries"
            )
        ).one()
        problems = []
        if settled != SETTLE_ENTRIES:
            problems.append(f"settlement: {settled} of {SETTLE_ENTRIES} entries settled")
        if left or moved != pending:
            problems.append(
                f"settlement: {pending} was pending; now {left} pending, {moved} settled"
            )
        started = time.monotonic()
        problems += verify_ledger()
        verify_s = time.monotonic() - started
        db.session.remove()
        db.engine.dispose()
    return Settlement(seed_s, seconds, cpu_s, settled, verify_s, problems)


def commit_label() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    label = git("rev-parse", "--short", "HEAD") or "unknown"
    return label + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def verdict(ratio: float, target: float) -> str:
    return "PASS" if ratio >= target else "MISS"


def settle_verdict(seconds: float) -> str:
    return "PASS" if seconds <= SETTLE_TARGET_S else "MISS"


def report(
    hello: Load | None,
    page: Load | None,
    order: Load | None,
    share: Load | None,
    tps: float | None,
    tx_failed: int,
    settlement: Settlement | None,
    visitors: Visitors | None = None,
    floor: Floor | None = None,
    statements: dict[str, int] | None = None,
) -> str:
    """The table and the verdicts of what was measured (a part not run is None)."""
    rows = [
        ("hello-world GET /", "req/s", hello),
        ("product page GET /p/<slug>", "req/s", page),
        ("  as a share-link visitor", "req/s", visitors and visitors.share),
        ("  as a signed-in member", "req/s", visitors and visitors.member),
        ("  as a live session's viewer", "req/s", visitors and visitors.viewer),
        ("order placement POST /checkout", "orders/s", order),
        ("share link GET /s/<code>", "req/s", share),
    ]
    rows = [(name, unit, load) for name, unit, load in rows if load is not None]
    lines = [
        f"{'measurement':32} {'throughput':>17} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'CPU ms/req':>10} {'errors':>6}",
    ]
    for name, unit, load in rows:
        rate = f"{load.rate:9.1f} {unit}"
        lines.append(
            f"{name:32} {rate:>17} {load.p50_ms:7.1f} {load.p99_ms:7.1f} "
            f"{load.cpu_ms:10.2f} {load.errors:6d}"
        )
    if tps is not None:
        lines.append(f"{'raw transaction (pgbench)':32} {tps:>12.1f} tx/s {'':26} {tx_failed:6d}")
    if floor is not None:
        lines.append(
            f"{'checkout floor (pgbench)':32} {floor.tps:>12.1f} tx/s {'':26} {floor.failed:6d}"
            f"  ({floor.statements} statements per placement, replayed)"
        )
    lines.append("")
    if page is not None:
        page_ratio = page.rate / hello.rate
        lines.append(
            f"product page / hello-world      {page_ratio:6.3f}  "
            f"(target >= {PRODUCT_TARGET:.2f})  {verdict(page_ratio, PRODUCT_TARGET)}"
        )
    if visitors is not None:
        for name, load in (
            ("share-link visitor", visitors.share),
            ("member", visitors.member),
            ("live viewer", visitors.viewer),
        ):
            ratio = load.rate / hello.rate
            lines.append(
                f"  {name + ' / hello-world':30}{ratio:6.3f}  "
                f"(target >= {PRODUCT_TARGET:.2f})  {verdict(ratio, PRODUCT_TARGET)}"
            )
    if order is not None and floor is not None:
        floor_ratio = order.rate / floor.tps
        lines.append(
            f"order placement / its floor     {floor_ratio:6.3f}  "
            f"(target >= {FLOOR_TARGET:.2f})  {verdict(floor_ratio, FLOOR_TARGET)}"
        )
    if order is not None and tps is not None:
        order_ratio = order.rate / tps
        lines.append(
            f"order placement / raw tx        {order_ratio:6.3f}  "
            f"(target >= {ORDER_TARGET:.2f})  {verdict(order_ratio, ORDER_TARGET)}"
        )
    if share is not None:
        share_ratio = share.rate / hello.rate
        lines.append(
            f"share link / hello-world        {share_ratio:6.3f}  "
            f"(target >= {SHARE_TARGET:.2f})  {verdict(share_ratio, SHARE_TARGET)}"
        )
    if settlement is not None:
        lines.append(
            f"settling {SETTLE_ENTRIES:,} entries      {settlement.seconds:6.1f} s "
            f"(target <= {SETTLE_TARGET_S:.0f} s)  {settle_verdict(settlement.seconds)}"
            f"   PostgreSQL CPU {settlement.cpu_s:.1f} s; seeded in {settlement.seed_s:.1f} s, "
            f"ledger verify {settlement.verify_s:.1f} s"
        )
    if statements:
        counted = ", ".join(f"{path} {n}" for path, n in statements.items())
        lines.append(f"statements per request (in process, page kept): {counted}")
    if visitors is not None and visitors.memory:
        lines.append(
            "gunicorn workers after the page runs: "
            + ", ".join(f"RSS {rss:.0f} MB / USS {uss:.0f} MB" for rss, uss in visitors.memory)
            + f"  (target USS <= {MEMORY_TARGET_MB} MB)  {visitors.memory_verdict}"
        )
        lines.append(
            "  the same without the shop's gunicorn settings (no preload): "
            + ", ".join(
                f"RSS {rss:.0f} MB / USS {uss:.0f} MB" for rss, uss in visitors.memory_unshared
            )
        )
    for name, _unit, load in rows:
        if load.errors:
            lines.append(f"errors in {name.strip()}: statuses {load.statuses}")
    return "\n".join(lines)


def cost_report(cost) -> str:
    """What the outbox adds per action: statements, this process's CPU, PostgreSQL's CPU."""
    from outbox_runs import COST_ACTIONS, ROUNDS

    lines = [
        f"{f'outbox cost per action ({ROUNDS} × {COST_ACTIONS})':38}{'statements':>14}"
        f"{'app CPU ms':^39}{'PostgreSQL CPU ms':>17}",
        f"{'':38} {'without':>7} {'with':>5}  {'without':>7} {'with':>6} {'ratio':>5}  "
        f"{'with + RQ':>9} {'ratio':>5}  {'without':>8} {'with':>6}",
    ]
    kinds = (
        ("order placement", cost.placement, cost.events.get("placement", 0)),
        ("payment (mark paid at store)", cost.payment, cost.events.get("payment", 0)),
    )
    for name, modes, events in kinds:
        without, with_, rq = modes["without"], modes["with"], modes["with + RQ"]
        label = f"{name}, {events} event{'' if events == 1 else 's'}"
        lines.append(
            f"{label:38} {without.statements_each:7.1f} {with_.statements_each:5.1f}  "
            f"{without.cpu_ms:7.2f} {with_.cpu_ms:6.2f} {with_.cpu_ms / without.cpu_ms:5.2f}  "
            f"{rq.cpu_ms:9.2f} {rq.cpu_ms / without.cpu_ms:5.2f}  "
            f"{without.pg_cpu_ms:8.2f} {with_.pg_cpu_ms:6.2f}"
        )
    return "\n".join(lines)


def drain_report(drain) -> str:
    from outbox_runs import DRAIN_ORDERS, INLINE_ORDERS, NOOP_HANDLER

    def handlers(means: dict[str, float]) -> str:
        names = sorted(means, key=lambda handler: (handler == NOOP_HANDLER, handler))
        return ", ".join(f"{name.rsplit('.', 1)[1]} {means[name]:.1f}" for name in names)

    return "\n".join(
        [
            f"{'outbox backlog':38}{'events':>8} {'seconds':>8} {'events/s':>9} "
            f"{'CPU ms/event':>13}",
            f"{'one RQ worker (SimpleWorker, burst)':38}{drain.events:8,} {drain.total_s:8.1f} "
            f"{drain.rate:9.1f} {1000 * drain.worker_cpu_s / drain.events:13.2f}"
            f"  hand-over {drain.handover_s:.1f} s + worker {drain.worker_s:.1f} s "
            f"(its process: {drain.worker_total_s:.1f} s)",
            f"{'in-process (deliver in a loop)':38}{drain.inline_events:8,} {drain.inline_s:8.1f} "
            f"{drain.inline_rate:9.1f} {1000 * drain.inline_cpu_s / drain.inline_events:13.2f}"
            f"  {drain.inline_statements / drain.inline_events:.1f} statements/event",
            f"  each backlog: 5 events per paid order ({DRAIN_ORDERS:,} orders, {INLINE_ORDERS:,} "
            f"in-process), the rest no-op events (seeded in {drain.seed_s:.1f} s)",
            f"  ms per event, claim to done, on RQ: {handlers(drain.handler_ms)}; "
            f"RQ's own {drain.overhead_ms:.1f}",
            f"  ms per event, claim to done, in-process: {handlers(drain.inline_handler_ms)}",
            f"  the same backlog of real handlers' events only (estimated from these): "
            f"{drain.real_estimate_s():.0f} s, {drain.events / drain.real_estimate_s():.1f} "
            f"events/s",
        ]
    )


def append_result(
    hello: Load,
    page: Load,
    order: Load,
    share: Load,
    tps: float,
    settlement: Settlement,
    cost,
    drain,
    errors: int,
    load_avg: float,
    visitors: Visitors,
    floor: Floor,
) -> None:
    page_ratio, order_ratio = page.rate / hello.rate, order.rate / tps
    share_ratio = share.rate / hello.rate
    floor_ratio = order.rate / floor.tps

    def page_cell(load: Load) -> str:
        ratio = load.rate / hello.rate
        return f"{load.rate:.0f} ({ratio:.2f} {verdict(ratio, PRODUCT_TARGET)})"

    memory = " · ".join(f"{rss:.0f}/{uss:.0f}" for rss, uss in visitors.memory)
    memory += (
        f" {visitors.memory_verdict} (no preload: "
        + " · ".join(f"{rss:.0f}/{uss:.0f}" for rss, uss in visitors.memory_unshared)
        + ")"
    )
    row = (
        f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {commit_label()} | {load_avg:.2f} "
        f"| {hello.rate:.0f} | {page.rate:.0f} "
        f"| {page_cell(visitors.share)} | {page_cell(visitors.member)} "
        f"| {order.rate:.0f} | {share.rate:.0f} "
        f"| {tps:.0f} | {floor.tps:.0f} "
        f"| {page_ratio:.2f} {verdict(page_ratio, PRODUCT_TARGET)} "
        f"| {floor_ratio:.2f} {verdict(floor_ratio, FLOOR_TARGET)} "
        f"| {order_ratio:.2f} {verdict(order_ratio, ORDER_TARGET)} "
        f"| {share_ratio:.2f} {verdict(share_ratio, SHARE_TARGET)} "
        f"| {settlement.seconds:.1f} {settle_verdict(settlement.seconds)} "
        f"| {settlement.cpu_s:.1f} "
        f"| {hello.cpu_ms:.2f} / {page.cpu_ms:.2f} / {visitors.share.cpu_ms:.2f} / "
        f"{visitors.member.cpu_ms:.2f} / {order.cpu_ms:.2f} / {share.cpu_ms:.2f} "
        f"| {memory} "
        f"| {outbox_cell(cost.placement)} | {outbox_cell(cost.payment)} "
        f"| {drain.total_s:.0f} s, {drain.rate:.0f}/s (real ≈ {drain.real_estimate_s():.0f} s) "
        f"| {drain.inline_rate:.0f}/s "
        f"| {errors} "
        f"| {page_cell(visitors.viewer)}, {visitors.viewer.cpu_ms:.2f} ms |\n"
    )
    with open(BENCH / "RESULTS.md", "a", encoding="utf-8") as results:
        results.write(row)


def outbox_cell(modes) -> str:
    """Statements and app CPU ms per action, without → with the outbox (ratio)."""
    without, with_ = modes["without"], modes["with"]
    return (
        f"{without.statements_each:.0f} → {with_.statements_each:.0f} st, "
        f"{without.cpu_ms:.2f} → {with_.cpu_ms:.2f} ms ×{with_.cpu_ms / without.cpu_ms:.2f}"
    )


STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"bench [{time.monotonic() - STARTED:5.1f} s] {message}", flush=True)


def run_flash(app, seeded, env: dict[str, str], log: Path, pgbench_tool: str, tps: float | None):
    """The flash sale (bench/live_flash.py), with the raw transaction's tps of this run
    (measured here when the "tx" part did not)."""
    from live_flash import UNITS, measure_flash

    if tps is None:
        say("measuring the raw transaction (pgbench) for the flash sale's ratio")
        pgbench(pgbench_tool, seeded.variant_id, WARMUP_S)
        tps, _failed = pgbench(pgbench_tool, seeded.variant_id, DURATION_S)
    say(f"selling out a flash sale of {UNITS} live units with {CONNECTIONS} buyers")
    return measure_flash(
        app,
        seeded.store_id,
        DATABASE_URL,
        lambda probe: gunicorn("wsgi:app", env, log, probe, SHOP_CONFIG),
        tps,
        CONNECTIONS,
    )


def parse_parts(argv: list[str] | None) -> set[str]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        metavar="PART[,PART...]",
        help=f"run only these parts, of: {', '.join(PARTS)} (RESULTS.md is left alone)",
    )
    args = parser.parse_args(argv)
    if not args.only:
        return set(PARTS)
    parts = {part.strip() for part in args.only.split(",") if part.strip()}
    unknown = parts - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {PARTS}")
    if parts & {"page", "share"}:
        parts.add("hello")  # their ratios are to hello-world
    if "order" in parts:
        parts.add("tx")  # its ratio is to the raw transaction
    return parts


def main(argv: list[str] | None = None) -> int:
    parts = parse_parts(argv)
    everything = parts == set(PARTS)
    wrk_tool, pgbench_tool = require_tools(parts)
    load_avg = os.getloadavg()[0]
    if load_avg > os.cpu_count():
        say(f"the machine is busy (load average {load_avg:.1f}): expect noisy numbers")
    hello = page = order = share = tps = settlement = drain = cost = live_run = None
    visitors = floor = statements = None
    tx_failed, placed = 0, 0
    ledger_problems: list[str] = []
    trail_problems: list[str] = []
    viewer_problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="siyu-bench-") as tmp:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("REDIS_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")
        }
        env.update(
            DATABASE_URL=DATABASE_URL,
            WTF_CSRF_ENABLED="0",
            SECRET_KEY="bench-secret",
            INSTANCE_PATH=str(Path(tmp) / "instance"),
            SMS_SENDER="sms_capture.CaptureSender",  # sign-in codes, read by bench/visitors.py
            BENCH_SMS_FILE=str(Path(tmp) / "sms.txt"),
        )
        log = Path(tmp) / "gunicorn.log"
        worker_log = Path(tmp) / "rq-worker.log"
        say(f"recreating {DB_NAME}, migrating, seeding")
        recreate_database()
        app, seeded = migrate_and_seed(env)
        # The phase digit (3: warm-up, 4: measured) keeps keys and phones of the two runs apart.
        warmup_args = ["checkout", "3", str(seeded.variant_id), str(seeded.store_id)]
        order_args = ["checkout", "4", str(seeded.variant_id), str(seeded.store_id)]

        if "hello" in parts:
            say("starting gunicorn hello:app")
            with gunicorn("hello:app", env, log, "/") as server:
                say("measuring hello-world")
                hello = measure(wrk_tool, server, "/", ["get"], 200)
        page_path = f"/p/{seeded.slug}"
        share_path = f"/s/{seeded.share_code}"
        if parts & {"page", "order", "share"}:
            say(f"starting gunicorn wsgi:app (jobs on {REDIS_URL}, flushed; no worker runs them)")
            from outbox_runs import flush_redis

            flush_redis(REDIS_URL)
            shop_env = {**env, "REDIS_URL": REDIS_URL}
            with gunicorn("wsgi:app", shop_env, log, page_path, SHOP_CONFIG) as server:
                if "page" in parts:
                    say("measuring the product page")
                    page = measure_page(wrk_tool, server, page_path, None, "no cookies")
                    say("measuring the product page for a share-link visitor, a member, a viewer")
                    sms_file = Path(env["BENCH_SMS_FILE"])
                    cookies = visitor_cookies(server, seeded, page_path, sms_file)
                    visitors = measure_visitors(wrk_tool, server, page_path, cookies)
                    # The viewer's runs measured the live price's page only if it still holds.
                    viewer_problems = viewer_check(server, page_path, cookies[2])
                if "order" in parts:
                    say("measuring order placement")
                    order = measure(wrk_tool, server, "", order_args, 303, warmup_args)
                if "share" in parts:
                    trail_before = share_trail(seeded.share_code)
                    say("measuring the share-link open")
                    share = measure(wrk_tool, server, share_path, ["share", page_path], 302)
        if visitors is not None:
            say("the same visitors without the shop's gunicorn settings, for worker memory")
            with gunicorn("wsgi:app", env, log, page_path) as server:
                measure(wrk_tool, server, page_path, ["get"], 200)
                unshared = measure_visitors(wrk_tool, server, page_path, cookies, runs=1)
            visitors.memory_unshared = unshared.memory
        if hello is not None and parts & {"page", "share"}:
            # The baseline again, after the shop's runs: the machine's speed drifts (a shared
            # VM), and a slow baseline would flatter every ratio. The faster run is the one used.
            with gunicorn("hello:app", env, log, "/") as server:
                again = measure(wrk_tool, server, "/", ["get"], 200)
            hello = fastest("hello-world", [hello, again])
        if share is not None:
            trail_after = share_trail(seeded.share_code)
            trail_problems = check_share_trail(share, trail_before, trail_after)
        if "tx" in parts:
            say("measuring the raw transaction (pgbench)")
            pgbench(pgbench_tool, seeded.variant_id, WARMUP_S)
            tps, tx_failed = pgbench(pgbench_tool, seeded.variant_id, DURATION_S)
            say("measuring checkout's floor: one placement's statements replayed by pgbench")
            floor = measure_floor(pgbench_tool, app, seeded, Path(tmp) / "checkout_floor.sql")
        if visitors is not None:
            statements = statements_per_request(app, seeded)
        if "order" in parts or "tx" in parts:
            placed, ledger_problems = check_database(seeded.variant_id)
        if "settle" in parts:
            say(f"seeding {SETTLE_ENTRIES:,} pending commission entries, settling, verifying")
            settlement = settle(app, seeded)
        if "drain" in parts:
            from outbox_runs import DRAIN_EVENTS, INLINE_EVENTS, measure_drain

            say(
                f"draining {DRAIN_EVENTS:,} pending outbox events with one RQ worker "
                f"({REDIS_URL}), then {INLINE_EVENTS:,} in-process"
            )
            drain = measure_drain(app, seeded, env, REDIS_URL, worker_log)
        if "outbox" in parts:
            from outbox_runs import measure_cost

            say("measuring what the outbox adds to an order placement and a payment")
            cost = measure_cost(app, seeded, DB_NAME, REDIS_URL, cpu_seconds, proc_stat)
        if "live" in parts:
            from live_streams import STREAMS, measure_live

            say(f"opening {STREAMS} live-room streams, pinning ({REDIS_URL})")
            live_run = measure_live(app, env, REDIS_URL, log, free_port, stop)
        flash_run = None
        if "flash" in parts:
            flash_run = run_flash(app, seeded, env, log, pgbench_tool, tps)
        if drain is not None and drain.problems and worker_log.exists():
            print(f"the RQ worker said:\n{worker_log.read_text()[-3000:]}")
        if log.exists() and log.stat().st_size:
            print(f"gunicorn said:\n{log.read_text()[-3000:]}")

    print()
    print(
        report(hello, page, order, share, tps, tx_failed, settlement, visitors, floor, statements)
    )
    if cost is not None:
        print()
        print(cost_report(cost))
    if drain is not None:
        print()
        print(drain_report(drain))
    if live_run is not None:
        from live_streams import live_report

        print()
        print(live_report(live_run))
    if flash_run is not None:
        from live_flash import flash_report

        print()
        print(flash_report(flash_run))
    if order is not None or tps is not None:
        print(f"orders in the database from the checkout runs: {placed}; stock ledger: ", end="")
        print("; ".join(ledger_problems) or "balanced")
    if share is not None:
        print(
            f"share link: {share.answered} opens answered, each with its visit and binding: ",
            end="",
        )
        print("; ".join(trail_problems) or "yes")
    if visitors is not None:
        print("the live viewer's page after their runs: ", end="")
        print("; ".join(viewer_problems) or "shows the live price")
    if settlement is not None:
        print(f"commission ledger after settling {settlement.settled:,} entries: ", end="")
        print("; ".join(settlement.problems[:10]) or "verified")
    if drain is not None:
        print("outbox backlogs: ", end="")
        print("; ".join(drain.problems) or "every event delivered once, none failed")
    if cost is not None and cost.problems:
        print("outbox cost: " + "; ".join(cost.problems))
    loads = [load for load in (hello, page, order, share) if load is not None]
    loads += [visitors.share, visitors.member, visitors.viewer] if visitors else []
    problems = ledger_problems + trail_problems + viewer_problems
    problems += settlement.problems if settlement else []
    problems += (drain.problems if drain else []) + (cost.problems if cost else [])
    problems += live_run.problems if live_run else []
    problems += flash_run.problems if flash_run else []
    errors = sum(load.errors for load in loads) + tx_failed + len(problems)
    errors += floor.failed if floor else 0
    if everything:
        append_result(
            hello,
            page,
            order,
            share,
            tps,
            settlement,
            cost,
            drain,
            errors,
            load_avg,
            visitors,
            floor,
        )
        say("appended to bench/RESULTS.md")
    else:
        say(f"ran only {', '.join(p for p in PARTS if p in parts)}: RESULTS.md left alone")
    return 1 if errors else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup in finally blocks
    sys.exit(main())

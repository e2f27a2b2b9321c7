"""The flash sale's part of ``make bench`` (``--only flash``): a live product with ``UNITS``
units, sold out through HTTP on PostgreSQL.

One live session on air on the bench database, its shelf holding one product at a live price
with a session cap of ``UNITS`` and a per-customer limit of ``LIMIT``. ``clients`` buyers
(threads with keep-alive connections, as many as wrk's connections in the other parts) POST the
short checkout (buy now, pick-up, pay at store) as viewers of the session (its cookie, as the
room leaves it), each order from a new phone, until the shelf answers "sold out". Measured:

- flash-sale orders per second: ``UNITS`` orders from the first POST to the last order placed;
- its ratio to the raw stock transaction (bench/stock_tx.sql by pgbench, the same clients),
  measured in the same run.

Checked in the database afterwards: exactly ``UNITS`` units held by the session's orders and
its claims, no buyer over the limit, every order at the live price, no 5xx.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import psycopg

UNITS = 400
LIMIT = 2
LIVE_PRICE = 3900
GIVE_UP_S = 120


@dataclass
class FlashRun:
    units: int
    clients: int
    placed: int = 0
    refused: int = 0
    server_errors: int = 0
    seconds: float = 0.0
    raw_tps: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def orders_per_s(self) -> float:
        return self.placed / self.seconds if self.seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.orders_per_s / self.raw_tps if self.raw_tps else float("nan")


def seed_flash(app, store_id: int) -> dict:
    """A session on air with one shelf item capped at UNITS; the viewer's session cookie."""
    from distribution.factories import make_guide
    from live.factories import make_session, shelve
    from shop.catalog.models import Store
    from shop.demo.factories import make_product
    from shop.extensions import db

    with app.test_request_context():
        store = db.session.get(Store, store_id)
        guide = make_guide(store, "Flash Host", "bench-flash-host@siyu.test")
        product = make_product(
            "Flash Oolong", slug="bench-flash", price=6800, stock_qty=UNITS * 100, store=store
        )
        session = make_session(store, "Flash sale", host=guide, on_air=True)
        item = shelve(session, product, LIVE_PRICE, cap=UNITS, limit=LIMIT)
        db.session.commit()
        ids = {"session": session.id, "item": item.id, "variant": product.variants[0].id}
        db.session.remove()
    client = app.test_client()
    client.get(f"/live/{ids['session']}/enter")
    ids["cookie"] = client.get_cookie("session").value
    return ids


def _buy(run: FlashRun, port: int, ids: dict, store_id: int, tid: int, state: dict) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"session={ids['cookie']}",
    }
    n = 0
    while not state["stop"].is_set():
        n += 1
        body = urllib.parse.urlencode(
            {
                "variant": ids["variant"],
                "qty": 1,
                "fulfilment": "pickup",
                "payment_method": "store",
                "pickup_store": store_id,
                "name": "Flash Buyer",
                "phone": f"15{tid}{n:08d}",
                "idempotency_key": f"bench-flash-{tid}-{n:08d}",
            }
        )
        try:
            conn.request("POST", "/checkout", body, headers)
            answer = conn.getresponse()
            answer.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with state["lock"]:
                run.server_errors += 1
            continue
        at = time.perf_counter()
        with state["lock"]:
            if answer.status == 303 and "/o/" in (answer.getheader("Location") or ""):
                run.placed += 1
                state["last"] = at
            elif answer.status >= 500:
                run.server_errors += 1
            else:
                run.refused += 1
                if run.placed >= run.units:  # sold out: this buyer is done
                    break
            if at - state["start"] > GIVE_UP_S:
                state["stop"].set()
    conn.close()


def check(run: FlashRun, database_url: str, ids: dict) -> None:
    """Exactly UNITS units sold, nobody over the limit, the live price paid."""
    with psycopg.connect(database_url) as conn:
        sold = conn.execute(
            "SELECT sold FROM live_shelf_items WHERE id = %s", (ids["item"],)
        ).fetchone()[0]
        claimed = conn.execute(
            "SELECT coalesce(sum(quantity), 0) FROM live_claims "
            "WHERE shelf_item_id = %s AND released_at IS NULL",
            (ids["item"],),
        ).fetchone()[0]
        orders, units, off_price = conn.execute(
            "SELECT count(DISTINCT o.id), coalesce(sum(l.quantity), 0), "
            "count(*) FILTER (WHERE l.unit_price <> %s) "
            "FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.live_session_id = %s",
            (LIVE_PRICE, ids["session"]),
        ).fetchone()
        over = conn.execute(
            "SELECT count(*) FROM live_buyer_tallies WHERE shelf_item_id = %s AND units > %s",
            (ids["item"], LIMIT),
        ).fetchone()[0]
    if not sold == claimed == units == run.units:
        run.problems.append(
            f"{run.units} units on sale: shelf sold {sold}, claims {claimed}, order lines {units}"
        )
    if orders != run.placed:
        run.problems.append(f"{run.placed} orders answered, {orders} in the database")
    if over:
        run.problems.append(f"{over} buyers over the limit of {LIMIT}")
    if off_price:
        run.problems.append(f"{off_price} order lines not at the live price")
    if run.server_errors:
        run.problems.append(f"{run.server_errors} server errors or broken connections")


def measure_flash(
    app, store_id: int, database_url: str, serve, raw_tps: float, clients: int
) -> FlashRun:
    """Seed, serve (``serve(probe)``: run.py's gunicorn), sell out, check."""
    ids = seed_flash(app, store_id)
    run = FlashRun(units=UNITS, clients=clients, raw_tps=raw_tps)
    with serve(f"/live/{ids['session']}") as server:
        port = int(server.url.rsplit(":", 1)[1])
        state = {"stop": threading.Event(), "lock": threading.Lock(), "last": None}
        threads = [
            threading.Thread(target=_buy, args=(run, port, ids, store_id, t, state))
            for t in range(clients)
        ]
        state["start"] = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if state["last"] is not None:
            run.seconds = state["last"] - state["start"]
    check(run, database_url, ids)
    return run


def flash_report(run: FlashRun) -> str:
    return "\n".join(
        [
            f"flash sale: {run.units} live units (limit {LIMIT} per customer), {run.clients} "
            "buyers over HTTP on PostgreSQL",
            f"  {run.orders_per_s:.1f} orders/s ({run.placed} orders in {run.seconds:.1f} s; "
            f"{run.refused} refused once sold out or while units were held)",
            f"  raw stock transaction (pgbench): {run.raw_tps:.0f} tps; "
            f"flash orders / raw transaction = {run.ratio:.3f}",
            f"  exactly {run.units} sold, nobody over the limit, live price: "
            + ("; ".join(run.problems) or "yes"),
        ]
    )

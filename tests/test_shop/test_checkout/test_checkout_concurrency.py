"""Races on PostgreSQL: many buyers of the last units, crossing baskets, a form posted twice."""

from __future__ import annotations

import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from shop.catalog import stock
from shop.catalog.models import StockMovement, Variant
from shop.checkout.services import place_order
from shop.customers.models import Customer
from shop.demo.factories import make_product
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.orders.models import Order
from tests.support.shop import checkout_form, details, serve, small_catalog

pytestmark = pytest.mark.postgres

BUYERS = 200
UNITS = 50


@pytest.fixture
def app_config(app_config) -> dict:
    """Real CSRF-protected forms: each buyer's browser carries its own session and token."""
    return {**app_config, "WTF_CSRF_ENABLED": True}


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"{name} missing from the checkout form"
    return match.group(1)


def _open_checkout(session: requests.Session, base: str, variant_id: int) -> dict:
    """GET the "Buy now" checkout page as a browser does; returns its hidden fields."""
    page = session.get(f"{base}/checkout", params={"variant": variant_id, "qty": 1}, timeout=60)
    assert page.status_code == 200
    return {
        "csrf_token": _hidden(page.text, "csrf_token"),
        "idempotency_key": _hidden(page.text, "idempotency_key"),
    }


def _stock_and_ledger(variant_id: int) -> tuple[int, int]:
    db.session.expire_all()
    current = db.session.get(Variant, variant_id).stock
    moved = db.session.scalar(
        select(func.sum(StockMovement.delta)).where(StockMovement.variant_id == variant_id)
    )
    return current, moved


def test_200_buyers_of_50_units_over_http(app):
    with app.app_context():
        store, _, product = small_catalog(stock_qty=UNITS)
        variant_id, store_id = product.variants[0].id, store.id

    start = threading.Barrier(BUYERS, timeout=60)

    def buyer(n: int) -> tuple[int, str]:
        with requests.Session() as browser:
            hidden = _open_checkout(browser, base, variant_id)
            form = checkout_form(variant_id, store_id, phone=f"139{n:08d}", **hidden)
            start.wait()
            response = browser.post(
                f"{base}/checkout", data=form, allow_redirects=False, timeout=60
            )
            return response.status_code, response.text

    began = time.monotonic()
    with serve(app) as base, ThreadPoolExecutor(BUYERS) as pool:
        results = list(pool.map(buyer, range(BUYERS)))
    assert time.monotonic() - began < 30

    statuses = [status for status, _ in results]
    assert 500 not in statuses
    assert statuses.count(303) == UNITS
    refused = [text for status, text in results if status != 303]
    assert len(refused) == BUYERS - UNITS
    assert {status for status, _ in results if status != 303} == {422}
    assert all("Sorry, Green Tea is sold out." in text for text in refused)

    with app.app_context():
        orders = db.session.scalars(select(Order)).all()
        assert len(orders) == UNITS
        assert len({order.phone for order in orders}) == UNITS
        assert all(order.status == "awaiting_payment" for order in orders)
        assert _stock_and_ledger(variant_id) == (0, 0)
        reserved = db.session.scalar(
            select(func.count(StockMovement.id)).where(StockMovement.reason == "reserve")
        )
        assert reserved == UNITS
        assert db.session.scalar(select(func.count(Customer.id))) == UNITS


def test_crossing_multi_line_orders_do_not_deadlock(app, monkeypatch):
    """Baskets (A, B) and (B, A) at once: with a pause after each row lock, a buyer that locked
    in basket order would hold A while its competitor holds B, and PostgreSQL would abort one
    as a deadlock. Locks are taken in variant id order, so every order goes through."""
    with app.app_context():
        store, _, first = small_catalog(stock_qty=20)
        second = make_product("Oolong", price=5000, stock_qty=20, store=store)
        db.session.commit()
        a, b, store_id = first.variants[0].id, second.variants[0].id, store.id

    original = stock.change_stock

    def slow_change_stock(*args, **kwargs):
        changed = original(*args, **kwargs)
        time.sleep(0.15)  # hold the row lock while the competitor takes its first one
        return changed

    monkeypatch.setattr(stock, "change_stock", slow_change_stock)
    start = threading.Barrier(8, timeout=30)

    def buy(n: int) -> int:
        items = [(a, 1), (b, 1)] if n % 2 else [(b, 1), (a, 1)]
        with app.app_context():
            start.wait()
            with unit_of_work():
                order = place_order(
                    items, details(phone=f"137{n:08d}", pickup_store_id=store_id), uuid.uuid4().hex
                )
            return order.id

    with ThreadPoolExecutor(8) as pool:
        order_ids = list(pool.map(buy, range(8)))

    assert len(set(order_ids)) == 8
    with app.app_context():
        assert _stock_and_ledger(a) == (12, 12)
        assert _stock_and_ledger(b) == (12, 12)


def test_same_form_posted_twice_at_once_makes_one_order(app):
    """A double click: two identical posts race; both land on the one order's page."""
    with app.app_context():
        store, _, product = small_catalog(stock_qty=5)
        variant_id, store_id = product.variants[0].id, store.id

    with serve(app) as base, requests.Session() as browser:
        hidden = _open_checkout(browser, base, variant_id)
        form = checkout_form(variant_id, store_id, qty="2", **hidden)
        start = threading.Barrier(2, timeout=30)

        def submit(_n: int) -> requests.Response:
            start.wait()
            return requests.post(
                f"{base}/checkout",
                data=form,
                cookies=browser.cookies,
                allow_redirects=False,
                timeout=60,
            )

        with ThreadPoolExecutor(2) as pool:
            first, second = pool.map(submit, range(2))

    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    with app.app_context():
        order = db.session.scalars(select(Order)).one()
        assert first.headers["Location"].endswith(f"/o/{order.token}")
        assert order.lines[0].quantity == 2
        assert _stock_and_ledger(variant_id) == (3, 3)


def test_a_new_customer_ordering_twice_at_once_gets_both_orders(app):
    """Two tabs, two different forms, one phone number never seen before: the customer row
    is created once; the checkout that loses that race retries and finds it."""
    with app.app_context():
        store, _, product = small_catalog(stock_qty=5)
        variant_id, store_id = product.variants[0].id, store.id
    start = threading.Barrier(2, timeout=30)

    def buy(_n: int) -> int:
        with app.app_context():
            start.wait()
            with unit_of_work():
                order = place_order(
                    [(variant_id, 1)], details(pickup_store_id=store_id), uuid.uuid4().hex
                )
            return order.id

    with ThreadPoolExecutor(2) as pool:
        order_ids = set(pool.map(buy, range(2)))

    assert len(order_ids) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count(Customer.id))) == 1
        assert _stock_and_ledger(variant_id) == (3, 3)

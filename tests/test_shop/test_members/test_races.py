"""Races on PostgreSQL: a limited coupon claimed by many at once, one customer's coupon used by
simultaneous checkouts, the same points spent by simultaneous orders."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from shop.catalog.models import Store, Variant
from shop.customers.models import Customer
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.members import coupons
from shop.members.models import Coupon, CouponTemplate, PointsEntry
from shop.orders.models import Order
from tests.support.members import buy, ledger_sum, make_customer, make_template
from tests.support.races import all_at_once
from tests.support.shop import checkout_form, serve, small_catalog

pytestmark = pytest.mark.postgres


def _signed_in_cookie(app, customer_id: int) -> dict:
    """The session cookie of a browser where this customer signed in."""
    serializer = app.session_interface.get_signing_serializer(app)
    return {app.config["SESSION_COOKIE_NAME"]: serializer.dumps({"customer_id": customer_id})}


def test_a_coupon_of_10_claimed_by_50_customers_at_once(app):
    with app.app_context():
        template_id = make_template("Flash", value=5000, total_quantity=10).id
        cookies = [_signed_in_cookie(app, make_customer().id) for _ in range(50)]

    def claim(i):
        with requests.Session() as browser:
            browser.cookies.update(cookies[i])
            response = browser.post(
                f"{base}/coupons/{template_id}", allow_redirects=False, timeout=60
            )
            return response.status_code, response.text

    with serve(app) as base:
        results = all_at_once(50, claim)

    statuses = [status for status, _ in results]
    assert statuses.count(303) == 10
    assert statuses.count(422) == 40
    assert all(
        "Sorry, all of these coupons have been claimed." in text
        for status, text in results
        if status == 422
    )
    with app.app_context():
        assert db.session.get(CouponTemplate, template_id).claimed_count == 10
        holders = db.session.scalars(select(Coupon.customer_id)).all()
        assert len(holders) == len(set(holders)) == 10


def test_a_once_per_customer_coupon_used_by_20_simultaneous_checkouts(app):
    with app.app_context():
        store, _category, product = small_catalog(stock_qty=50)
        customer = make_customer()
        with unit_of_work():
            coupon_id = coupons.issue(make_template("Once", value=1000).id, customer.id).id
        cookie = _signed_in_cookie(app, customer.id)
        variant_id, store_id, phone = product.variants[0].id, store.id, customer.phone

    def checkout(_i):
        with requests.Session() as browser:
            browser.cookies.update(cookie)
            form = checkout_form(variant_id, store_id, phone=phone, coupon=str(coupon_id))
            response = browser.post(f"{base}/checkout", data=form, allow_redirects=False)
            return response.status_code, response.text

    with serve(app) as base:
        results = all_at_once(20, checkout)

    statuses = [status for status, _ in results]
    assert statuses.count(303) == 1
    assert statuses.count(422) == 19
    assert all(
        "This coupon has already been used." in text for status, text in results if status == 422
    )
    with app.app_context():
        (order,) = db.session.scalars(select(Order)).all()
        assert order.coupon_id == coupon_id and order.coupon_discount == 1000
        assert db.session.get(Coupon, coupon_id).used_order_id == order.id


def test_100_points_spent_by_10_simultaneous_orders(app):
    with app.app_context():
        store, _category, product = small_catalog(stock_qty=50)
        customer_id = make_customer(points_=100).id
        variant_id, store_id = product.variants[0].id, store.id

    def spend(_i):
        with app.app_context():
            try:
                order = buy(
                    db.session.get(Variant, variant_id),
                    db.session.get(Store, store_id),
                    db.session.get(Customer, customer_id),
                    coupon="none",
                    points=100,
                )
                return order.points_spent
            except InvalidInput as refused:
                return refused.message
            finally:
                db.session.remove()

    results = all_at_once(10, spend)

    assert results.count(100) == 1
    assert results.count("You do not have enough points.") == 9
    with app.app_context():
        assert db.session.get(Customer, customer_id).points_balance == 0
        assert ledger_sum(customer_id) == 0
        assert db.session.scalar(select(func.count(Order.id))) == 1
        spends = db.session.scalars(select(PointsEntry.amount).where(PointsEntry.kind == "spend"))
        assert list(spends) == [-100]
        minimum = db.session.scalar(select(func.min(Customer.points_balance)))
        assert minimum >= 0


def test_one_customer_claiming_a_limit_1_coupon_twice_at_once_gets_one(app, monkeypatch):
    """The per-customer count is read once: a claim that read it before another committed
    numbers its coupon from that read, and the unique (template, customer, seq) refuses it."""
    with app.app_context():
        template_id = make_template("Once", value=500, per_customer_limit=1).id
        customer_id = make_customer().id
    both_read = threading.Barrier(2, timeout=30)
    first_committed = threading.Event()
    reads = threading.local()
    real_held = coupons.held

    def held(template, customer):
        count = real_held(template, customer)
        if not getattr(reads, "seen", False):
            reads.seen = True
            both_read.wait()  # each claim has read the count before either writes
            if reads.index == 1:
                first_committed.wait(30)  # the second goes on once the first committed
        return count

    monkeypatch.setattr(coupons, "held", held)

    def claim(i):
        reads.index = i
        with app.app_context():
            try:
                with unit_of_work():
                    coupons.issue(template_id, customer_id)
                return "ok"
            except InvalidInput as refused:
                return refused.message
            finally:
                if i == 0:
                    first_committed.set()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(claim, range(2)))

    assert sorted(results) == ["You already have this coupon.", "ok"]
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(Coupon.id)).where(Coupon.customer_id == customer_id)
            )
            == 1
        )


def test_twenty_claims_by_one_customer_at_once_give_one_coupon(app):
    with app.app_context():
        template_id = make_template("Once", value=500, per_customer_limit=1).id
        customer_id = make_customer().id

    def claim(_i):
        with app.app_context():
            try:
                with unit_of_work():
                    coupons.issue(template_id, customer_id)
                return True
            except InvalidInput:
                return False

    assert sum(all_at_once(20, claim)) == 1
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(Coupon.id)).where(Coupon.customer_id == customer_id)
            )
            == 1
        )

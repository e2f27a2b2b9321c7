"""The Stripe webhook: signatures checked by Stripe's library, one effect per event, any order.

Events are built from the fake's own sessions and charges and signed with Stripe's signing code
(``tests/fakestripe.py``).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select, update

from shop.catalog.models import StockMovement, Variant
from shop.errors import InvalidTransition
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus
from shop.payments import stripe_gateway
from shop.payments.models import Payment, StripeEvent
from shop.signals import order_paid
from tests.support.fakestripe import WEBHOOK_SECRET, deliver, event, signed
from tests.support.shop import (
    make_owner,
    order_for,
    received,
    serve,
    small_catalog,
    stripe_checkout,
)


@pytest.fixture
def app_config(app_config, fake_stripe) -> dict:
    return {**app_config, **fake_stripe.app_config()}


@pytest.fixture
def placed(ctx, client):
    """A Stripe order of 2 × 9900 awaiting payment, its session open in the fake."""
    store, _, product = small_catalog(stock_qty=5)
    response, order = stripe_checkout(client, product.variants[0].id, store.id, qty="2")
    assert response.status_code == 303
    return order


def _reload(order_id: int) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order_id)


def _stock(order: Order) -> int:
    return db.session.scalar(select(Variant.stock).where(Variant.id == order.lines[0].variant_id))


def _count(column) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(column)))


def test_completed_session_pays_the_order(client, fake_stripe, placed):
    session = fake_stripe.pay(placed.stripe_session_id)

    with received(order_paid) as paid:
        response = deliver(client, event("checkout.session.completed", session, event_id="evt_1"))

    assert response.status_code == 200
    assert response.get_json() == {"result": "paid"}
    order = _reload(placed.id)
    assert order.status == OrderStatus.PAID
    assert order.paid_at is not None
    assert order.stripe_payment_intent == session["payment_intent"]
    assert not order.needs_review
    (payment,) = db.session.scalars(select(Payment))
    assert (payment.order_id, payment.provider, payment.external_id) == (
        order.id,
        "stripe",
        session["payment_intent"],
    )
    assert (payment.amount, payment.currency) == (19800, "CNY")
    assert paid == [order.id]
    assert db.session.get(StripeEvent, "evt_1").type == "checkout.session.completed"
    assert _stock(order) == 3  # the reservation became the sale


def test_replayed_event_has_one_effect(client, fake_stripe, placed):
    completed = event("checkout.session.completed", fake_stripe.pay(placed.stripe_session_id))

    with received(order_paid) as paid:
        replies = [deliver(client, completed) for _ in range(5)]

    assert [r.status_code for r in replies] == [200] * 5
    assert [r.get_json()["result"] for r in replies] == ["paid"] + ["duplicate"] * 4
    assert paid == [placed.id]
    assert _count(Payment.id) == 1
    assert _count(StripeEvent.id) == 1


def _post_at_once(base: str, bodies: list[tuple[bytes, str]]) -> list[tuple[int, str]]:
    """POST each signed body to the webhook from its own thread, all released together."""
    start = threading.Barrier(len(bodies), timeout=30)

    def post(body: tuple[bytes, str]) -> tuple[int, str]:
        payload, header = body
        start.wait()
        reply = requests.post(
            f"{base}/stripe/webhook",
            data=payload,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            timeout=30,
        )
        return reply.status_code, reply.json().get("result", "")

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def _stripe_order_over_http(app, fake_stripe) -> tuple[int, str]:
    with app.app_context():
        store, _, product = small_catalog(stock_qty=5)
        _, order = stripe_checkout(app.test_client(), product.variants[0].id, store.id)
        return order.id, order.stripe_session_id


@pytest.mark.postgres
def test_same_event_delivered_five_times_at_once(app, fake_stripe):
    order_id, session_id = _stripe_order_over_http(app, fake_stripe)
    body = signed(event("checkout.session.completed", fake_stripe.pay(session_id)))

    with received(order_paid) as paid, serve(app) as base:
        results = _post_at_once(base, [body] * 5)

    assert sorted(results) == [(200, "duplicate")] * 4 + [(200, "paid")]
    assert paid == [order_id]
    with app.app_context():
        assert _count(Payment.id) == 1
        assert _count(StripeEvent.id) == 1
        assert db.session.get(Order, order_id).status == OrderStatus.PAID


@pytest.mark.postgres
def test_completed_and_async_succeeded_at_once_pay_once(app, fake_stripe):
    """Two different events about the same payment race each other: still one payment."""
    order_id, session_id = _stripe_order_over_http(app, fake_stripe)
    session = fake_stripe.pay(session_id)
    bodies = [
        signed(event(kind, session))
        for kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded")
    ] * 3

    with received(order_paid) as paid, serve(app) as base:
        results = _post_at_once(base, bodies)

    assert [status for status, _ in results] == [200] * 6
    assert [outcome for _, outcome in results].count("paid") == 1
    assert paid == [order_id]
    with app.app_context():
        assert _count(Payment.id) == 1
        order = db.session.get(Order, order_id)
        assert order.status == OrderStatus.PAID
        assert not order.needs_review


def test_async_success_before_completed(client, fake_stripe, placed):
    pending = fake_stripe.pay(placed.stripe_session_id, async_pending=True)
    settled = fake_stripe.settle(placed.stripe_session_id)

    with received(order_paid) as paid:
        first = deliver(client, event("checkout.session.async_payment_succeeded", settled))
        then = deliver(client, event("checkout.session.completed", pending))

    assert first.get_json() == {"result": "paid"}
    assert then.get_json() == {"result": "awaiting async payment"}
    assert paid == [placed.id]
    assert _reload(placed.id).status == OrderStatus.PAID
    assert _count(Payment.id) == 1


def test_completed_unpaid_then_async_success(client, fake_stripe, placed):
    pending = fake_stripe.pay(placed.stripe_session_id, async_pending=True)

    with received(order_paid) as paid:
        first = deliver(client, event("checkout.session.completed", pending))
        assert _reload(placed.id).status == OrderStatus.AWAITING_PAYMENT
        assert _count(Payment.id) == 0
        settled = fake_stripe.settle(placed.stripe_session_id)
        then = deliver(client, event("checkout.session.async_payment_succeeded", settled))

    assert first.get_json() == {"result": "awaiting async payment"}
    assert then.get_json() == {"result": "paid"}
    assert paid == [placed.id]
    assert _reload(placed.id).status == OrderStatus.PAID


def test_async_failure_cancels_and_releases_stock(client, fake_stripe, placed):
    pending = fake_stripe.pay(placed.stripe_session_id, async_pending=True)
    deliver(client, event("checkout.session.completed", pending))
    assert _stock(placed) == 3

    response = deliver(client, event("checkout.session.async_payment_failed", pending))

    assert response.get_json() == {"result": "cancelled"}
    assert _reload(placed.id).status == OrderStatus.CANCELLED
    assert _stock(placed) == 5
    assert _count(Payment.id) == 0


def test_expired_session_cancels_and_releases_stock(client, fake_stripe, placed):
    response = deliver(
        client, event("checkout.session.expired", fake_stripe.expire(placed.stripe_session_id))
    )

    assert response.get_json() == {"result": "cancelled"}
    assert _reload(placed.id).status == OrderStatus.CANCELLED
    assert _stock(placed) == 5
    reasons = db.session.scalars(select(StockMovement.reason).order_by(StockMovement.id)).all()
    assert reasons == ["initial", "reserve", "release"]


def test_expired_after_completed_changes_nothing(client, fake_stripe, placed):
    session = fake_stripe.pay(placed.stripe_session_id)
    deliver(client, event("checkout.session.completed", session))

    response = deliver(client, event("checkout.session.expired", {**session, "status": "expired"}))

    assert response.status_code == 200
    assert response.get_json() == {"result": "unchanged"}
    assert _reload(placed.id).status == OrderStatus.PAID
    assert _stock(placed) == 3


def _outlive_reservation(order_id: int) -> int:
    """Move the end of the order's reservation into the past and run the expiry sweep."""
    db.session.execute(
        update(Order).where(Order.id == order_id).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    return orders.expire_due_each_in_own_transaction()


def test_payment_after_expiry_reserves_the_stock_again(client, fake_stripe, placed):
    assert _outlive_reservation(placed.id) == 1
    assert _stock(placed) == 5

    with received(order_paid) as paid:
        response = deliver(
            client, event("checkout.session.completed", fake_stripe.pay(placed.stripe_session_id))
        )

    assert response.get_json() == {"result": "paid"}
    order = _reload(placed.id)
    assert (order.status, order.needs_review) == (OrderStatus.PAID, False)
    assert paid == [order.id]
    assert _stock(order) == 3
    reasons = db.session.scalars(select(StockMovement.reason).order_by(StockMovement.id)).all()
    assert reasons == ["initial", "reserve", "release", "reserve"]


def test_payment_after_expiry_without_stock_is_flagged(client, fake_stripe, placed):
    assert _outlive_reservation(placed.id) == 1
    variant = db.session.get(Variant, placed.lines[0].variant_id)
    order_for(variant, placed.store, quantity=5)  # someone else bought what was released
    assert _stock(placed) == 0

    with received(order_paid) as paid:
        response = deliver(
            client, event("checkout.session.completed", fake_stripe.pay(placed.stripe_session_id))
        )

    assert response.get_json() == {"result": "not paid"}
    order = _reload(placed.id)
    assert (order.status, order.needs_review) == (OrderStatus.CANCELLED, True)
    assert "stock is gone" in order.review_reason
    assert paid == []
    assert _stock(order) == 0
    (payment,) = db.session.scalars(select(Payment))  # the money arrived: staff must return it
    assert (payment.order_id, payment.amount) == (order.id, 19800)


@pytest.mark.parametrize(
    "change", [{"amount_total": 19799}, {"currency": "usd"}], ids=["amount", "currency"]
)
def test_mismatched_payment_is_flagged_and_fulfils_nothing(client, fake_stripe, placed, change):
    session = {**fake_stripe.pay(placed.stripe_session_id), **change}

    with received(order_paid) as paid:
        response = deliver(client, event("checkout.session.completed", session))

    assert response.get_json() == {"result": "not paid"}
    order = _reload(placed.id)
    assert order.status == OrderStatus.AWAITING_PAYMENT
    assert order.needs_review
    assert "does not match" in order.review_reason
    assert paid == []
    with pytest.raises(InvalidTransition):
        with unit_of_work():
            orders.fulfil(order.id, make_owner())
    assert _outlive_reservation(order.id) == 0  # a flagged order waits for a person
    assert _reload(order.id).status == OrderStatus.AWAITING_PAYMENT
    assert _stock(order) == 3  # held for the person who reviews it


def _tampered(payload: bytes, header: str) -> tuple[bytes, dict]:
    changed = payload.replace(b'"amount_total": 19800', b'"amount_total": 19801', 1)
    assert sum(a != b for a, b in zip(payload, changed, strict=True)) == 1
    return changed, {"Stripe-Signature": header}


BAD_SIGNATURES = {
    "missing": lambda evt: (signed(evt)[0], {}),
    "wrong secret": lambda evt: _headers(*signed(evt, secret="whsec_someone_else")),
    "one byte changed": lambda evt: _tampered(*signed(evt)),
    "too old": lambda evt: _headers(
        *signed(evt, timestamp=int(time.time()) - stripe_gateway.WEBHOOK_TOLERANCE - 1)
    ),
    "no v1": lambda evt: _headers(signed(evt)[0], signed(evt)[1].replace("v1=", "v0=")),
    "malformed": lambda evt: _headers(signed(evt)[0], "t=yesterday,v1"),
    "not a header": lambda evt: _headers(signed(evt)[0], "garbage"),
}


def _headers(payload: bytes, header: str) -> tuple[bytes, dict]:
    return payload, {"Stripe-Signature": header}


@pytest.mark.parametrize("forge", BAD_SIGNATURES.values(), ids=BAD_SIGNATURES.keys())
def test_bad_signature_is_refused_and_changes_nothing(client, fake_stripe, placed, forge):
    evt = event("checkout.session.completed", fake_stripe.pay(placed.stripe_session_id))
    payload, headers = forge(evt)

    with received(order_paid) as paid:
        response = client.post(
            "/stripe/webhook",
            data=payload,
            headers={**headers, "Content-Type": "application/json"},
        )

    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid signature"}
    assert _count(StripeEvent.id) == 0
    assert _count(Payment.id) == 0
    order = _reload(placed.id)
    assert (order.status, order.needs_review) == (OrderStatus.AWAITING_PAYMENT, False)
    assert paid == []


def test_a_well_signed_old_timestamp_inside_the_tolerance_is_accepted(client, fake_stripe, placed):
    evt = event("checkout.session.completed", fake_stripe.pay(placed.stripe_session_id))

    response = deliver(
        client, evt, timestamp=int(time.time()) - stripe_gateway.WEBHOOK_TOLERANCE + 30
    )

    assert response.get_json() == {"result": "paid"}


def test_unhandled_event_type_is_acknowledged(client, fake_stripe, placed):
    response = deliver(client, event("customer.created", {"id": "cus_1", "object": "customer"}))

    assert response.status_code == 200
    assert response.get_json() == {"result": "ignored"}
    assert _count(StripeEvent.id) == 1


class TestWithoutWebhookSecret:
    @pytest.fixture
    def app_config(self, app_config) -> dict:
        return {**app_config, "STRIPE_WEBHOOK_SECRET": ""}

    def test_every_delivery_is_refused(self, client, fake_stripe, placed):
        evt = event("checkout.session.completed", fake_stripe.pay(placed.stripe_session_id))

        for secret in (WEBHOOK_SECRET, ""):
            assert deliver(client, evt, secret=secret).status_code == 400

        assert _count(StripeEvent.id) == 0
        assert _reload(placed.id).status == OrderStatus.AWAITING_PAYMENT


def test_expiry_of_a_session_the_order_no_longer_uses_changes_nothing(client, fake_stripe, placed):
    """A session created for the order whose reply never arrived (so the customer never saw
    it) expires on its own; the order, paid through its current session, stays open."""
    orphan = fake_stripe.duplicate_session(placed.stripe_session_id)
    response = deliver(client, event("checkout.session.expired", fake_stripe.expire(orphan["id"])))

    assert response.get_json() == {"result": "not an order's current session"}
    assert _reload(placed.id).status == OrderStatus.AWAITING_PAYMENT
    assert _stock(placed) == 3


@pytest.mark.postgres
def test_a_dashboard_refund_reported_by_two_events_at_once_is_recorded_once(app, fake_stripe):
    order_id, session_id = _stripe_order_over_http(app, fake_stripe)
    session = fake_stripe.pay(session_id)
    with app.app_context():
        client = app.test_client()
        assert deliver(client, event("checkout.session.completed", session)).status_code == 200
    fake_stripe.dashboard_refund(session["payment_intent"], session["amount_total"])
    charge = fake_stripe.charge(session["payment_intent"])
    bodies = [signed(event("charge.refunded", charge)) for _ in range(4)]

    with serve(app) as base:
        results = _post_at_once(base, bodies)

    assert [status for status, _ in results] == [200] * 4
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert (order.status, order.refunded_amount) == (OrderStatus.REFUNDED, order.total)
        assert not order.needs_review, order.review_reason
        assert _count(Payment.id) == 2

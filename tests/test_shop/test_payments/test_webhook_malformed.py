"""A validly signed but malformed Stripe event is recorded and answered 400, never 500, and
changes nothing else; a signature dated more than 300 s in the future is refused."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.orders.models import Order, OrderStatus
from shop.payments.models import Payment, StripeEvent
from tests.support.fakestripe import deliver, event
from tests.support.shop import small_catalog, stripe_checkout


@pytest.fixture
def app_config(app_config, fake_stripe) -> dict:
    return {**app_config, **fake_stripe.app_config()}


@pytest.fixture
def placed(ctx, client):
    store, _, product = small_catalog(stock_qty=5)
    response, order = stripe_checkout(client, product.variants[0].id, store.id)
    assert response.status_code == 303
    return order


def _payments() -> int:
    return db.session.scalar(select(func.count()).select_from(Payment))


def _recorded(event_id: str) -> bool:
    db.session.expire_all()
    return db.session.get(StripeEvent, event_id) is not None


@pytest.mark.parametrize(
    "damage",
    [
        lambda evt: evt.pop("data"),
        lambda evt: evt["data"].pop("object"),
        lambda evt: evt["data"]["object"].pop("id"),
        lambda evt: evt["data"].update(object="not an object"),
    ],
    ids=["no data", "no object", "no object id", "object is text"],
)
def test_an_event_missing_its_parts_is_recorded_and_refused(placed, client, fake_stripe, damage):
    paid = event("checkout.session.completed", fake_stripe.pay(placed.stripe_session_id))
    damage(paid)
    response = deliver(client, paid)
    assert response.status_code == 400
    assert response.get_json() == {"error": "malformed event"}
    assert _recorded(paid["id"])
    assert _payments() == 0
    assert db.session.get(Order, placed.id).status == OrderStatus.AWAITING_PAYMENT
    assert deliver(client, paid).status_code == 400  # Stripe's retry: the same answer
    assert db.session.scalar(select(func.count()).select_from(StripeEvent)) == 1
    assert _payments() == 0


@pytest.mark.parametrize(
    "field, value", [("amount_total", "ninety-nine"), ("currency", 156), ("amount_total", 1.5)]
)
def test_text_where_a_number_belongs_is_recorded_and_refused(
    placed, client, fake_stripe, field, value
):
    session = fake_stripe.pay(placed.stripe_session_id)
    session[field] = value
    paid = event("checkout.session.completed", session)
    response = deliver(client, paid)
    assert response.status_code == 400
    assert _recorded(paid["id"])
    assert _payments() == 0
    db.session.expire_all()
    assert db.session.get(Order, placed.id).status == OrderStatus.AWAITING_PAYMENT


def test_a_signature_dated_in_the_future_is_refused(placed, client, fake_stripe):
    paid = event("checkout.session.completed", fake_stripe.pay(placed.stripe_session_id))
    response = deliver(client, paid, timestamp=int(time.time()) + 400)
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid signature"}
    assert not _recorded(paid["id"])
    ok = deliver(client, paid, timestamp=int(time.time()) + 60)  # clocks drift a little
    assert ok.get_json() == {"result": "paid"}

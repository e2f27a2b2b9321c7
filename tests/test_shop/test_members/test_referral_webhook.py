"""Bring a friend through Stripe: the payment webhook delivered twice (the same event, then
another event for the same session) rewards the referrer exactly once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.members import points
from shop.members.models import ReferralReward
from shop.orders.models import OrderStatus
from tests.support.fakestripe import deliver, event
from tests.support.members import (
    balance,
    coupons_of,
    ledger_sum,
    make_customer,
    make_template,
    sign_in,
)
from tests.support.shop import small_catalog, stripe_checkout


@pytest.fixture
def app_config(app_config, fake_stripe) -> dict:
    return {**app_config, **fake_stripe.app_config()}


def test_reward_exactly_once_when_the_payment_webhook_arrives_twice(ctx, client, fake_stripe):
    store, _category, product = small_catalog(stock_qty=5)
    rules = points.settings()
    rules.referral_reward_points = 500
    rules.referral_reward_template_id = make_template("Thank you", claimable=False).id
    db.session.commit()
    referrer = make_customer()
    friend = make_customer(referrer_id=referrer.id)
    sign_in(client, friend)
    response, order = stripe_checkout(client, product.variants[0].id, store.id)
    assert response.status_code == 303 and order.customer_id == friend.id

    session = fake_stripe.pay(order.stripe_session_id)
    completed = event("checkout.session.completed", session, event_id="evt_paid")
    assert deliver(client, completed).get_json() == {"result": "paid"}
    assert deliver(client, completed).get_json() == {"result": "duplicate"}
    again = event("checkout.session.async_payment_succeeded", session, event_id="evt_again")
    assert deliver(client, again).get_json() == {"result": "not paid"}

    db.session.expire_all()
    assert db.session.get(type(order), order.id).status == OrderStatus.PAID
    assert balance(referrer.id) == ledger_sum(referrer.id) == 500
    assert [c.source for c in coupons_of(referrer.id)] == ["referral"]
    assert db.session.scalar(select(func.count(ReferralReward.id))) == 1
    assert balance(friend.id) == 99  # the friend's own points, earned once

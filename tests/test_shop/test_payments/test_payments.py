"""Stripe Checkout and refunds, through the real ``stripe`` library against a local fake."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta

import pytest
from sqlalchemy import func, select

from shop.catalog.models import StockMovement, Variant
from shop.demo.factories import make_product
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus, Refund, RefundStatus
from shop.payments.models import Payment, StripeEvent
from shop.signals import order_refunded
from shop.staff.models import AuditLog
from tests.support.fakestripe import deliver, event
from tests.support.shop import make_owner, received, refund_now, small_catalog, stripe_checkout


@pytest.fixture
def app_config(app_config, fake_stripe) -> dict:
    return {**app_config, **fake_stripe.app_config()}


def _epoch(naive_utc) -> int:
    return int(naive_utc.replace(tzinfo=UTC).timestamp())


def _reload(order_id: int) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order_id)


def _pay(client, fake_stripe, order: Order) -> str:
    """The customer pays in Stripe and the webhook confirms it; returns the payment intent."""
    session = fake_stripe.pay(order.stripe_session_id)
    response = deliver(client, event("checkout.session.completed", session))
    assert response.get_json() == {"result": "paid"}
    return session["payment_intent"]


HANGZHOU = {"province": "浙江省", "city": "杭州市", "district": "西湖区"}


def _stripe_order(client, fake_stripe, **overrides) -> Order:
    """A paid Stripe delivery order of two lines plus shipping: 2 × 3300 + 1 × 2900 + 1000."""
    store, category, product = small_catalog(stock_qty=10, price=3300)
    other = make_product("Oolong", price=2900, stock_qty=10, category=category, store=store)
    db.session.commit()
    client.post("/cart/add", data={"variant": product.variants[0].id, "qty": 2})
    client.post("/cart/add", data={"variant": other.variants[0].id, "qty": 1})
    response, order = stripe_checkout(
        client,
        "",
        store.id,
        fulfilment="delivery",
        **HANGZHOU,
        address="2 Canal St",
        **overrides,
    )
    assert response.status_code == 303
    assert (order.subtotal, order.shipping, order.total) == (9500, 1000, 10500)
    _pay(client, fake_stripe, order)
    return _reload(order.id)


@pytest.mark.parametrize("fulfilment", ["pickup", "delivery"])
def test_checkout_redirects_to_a_session_that_expires_with_the_reservation(
    ctx, client, fake_stripe, fulfilment
):
    store, _, product = small_catalog(stock_qty=5, price=4500)
    address = {**HANGZHOU, "address": "2 Canal St"} if fulfilment == "delivery" else {}
    response, order = stripe_checkout(
        client, product.variants[0].id, store.id, qty="2", fulfilment=fulfilment, **address
    )

    assert response.status_code == 303
    (session_id,) = fake_stripe.sessions
    session = fake_stripe.sessions[session_id]
    assert response.headers["Location"] == session["url"]
    assert order.stripe_session_id == session_id
    assert order.status == OrderStatus.AWAITING_PAYMENT

    # Stripe's minimum is 30 minutes: the reservation was stretched to the session, not cut.
    assert order.expires_at - order.created_at >= timedelta(minutes=30)
    assert session["expires_at"] == _epoch(order.expires_at)

    items = fake_stripe.line_items[session_id]
    paid_for = sum(int(i["quantity"]) * int(i["price_data"]["unit_amount"]) for i in items)
    assert paid_for == session["amount_total"] == order.total
    assert order.total == 2 * 4500 + (1000 if fulfilment == "delivery" else 0)
    assert {i["price_data"]["currency"] for i in items} == {"cny"}
    assert session["client_reference_id"] == str(order.id)
    assert session["metadata"] == {"order_id": str(order.id)}
    assert session["success_url"].endswith(f"/o/{order.token}?paid=1")

    (create,) = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert (
        create.headers["Authorization"] == "Bearer " + fake_stripe.app_config()["STRIPE_SECRET_KEY"]
    )
    assert create.idempotency_key


def test_paying_again_reuses_the_session(ctx, client, fake_stripe):
    store, _, product = small_catalog(stock_qty=5)
    first, order = stripe_checkout(client, product.variants[0].id, store.id)
    expires_at = order.expires_at

    again = client.post(f"/o/{order.token}/pay")

    assert again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]
    assert len(fake_stripe.sessions) == 1
    creates = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert len(creates) == 2
    assert creates[0].idempotency_key == creates[1].idempotency_key
    assert [c.status for c in creates] == [200, 200]
    order = _reload(order.id)
    assert order.expires_at == expires_at
    assert fake_stripe.sessions[order.stripe_session_id]["expires_at"] == _epoch(expires_at)


def test_paid_order_cannot_open_a_new_session(ctx, client, fake_stripe):
    store, _, product = small_catalog(stock_qty=5)
    _, order = stripe_checkout(client, product.variants[0].id, store.id)
    _pay(client, fake_stripe, order)

    response = client.post(f"/o/{order.token}/pay")

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/o/{order.token}")
    assert len(fake_stripe.calls("POST", "/v1/checkout/sessions")) == 1


def test_refund_goes_through_stripe_with_an_idempotency_key(ctx, client, fake_stripe):
    staff = make_owner()
    order = _stripe_order(client, fake_stripe)
    line = order.lines[0]

    with received(order_refunded) as refunded:
        record = refund_now(
            order.id, {line.id: 1}, staff=staff, idempotency_key="r-" + uuid.uuid4().hex
        )

    (call,) = fake_stripe.calls("POST", "/v1/refunds")
    assert call.idempotency_key == f"refund-{record.idempotency_key}"
    assert call.params["payment_intent"] == order.stripe_payment_intent
    assert call.params["amount"] == str(record.amount) == "3300"
    assert call.params["metadata"]["siyu_refund"] == record.idempotency_key
    (stripe_refund,) = fake_stripe.refunds.values()
    assert record.stripe_refund_id == stripe_refund["id"]
    payment = db.session.scalar(select(Payment).where(Payment.external_id == stripe_refund["id"]))
    assert (payment.amount, payment.currency, payment.provider) == (-3300, "CNY", "stripe")
    assert refunded == [order.id]
    order = _reload(order.id)
    assert (order.status, order.refunded_amount) == (OrderStatus.PAID, 3300)


def test_refunding_line_by_line_adds_up_to_the_total(ctx, client, fake_stripe):
    staff = make_owner()
    order = _stripe_order(client, fake_stripe)
    tea, oolong = order.lines

    first = refund_now(order.id, {tea.id: 2}, staff=staff, idempotency_key="r-first-" + "a" * 8)
    second = refund_now(
        order.id, {oolong.id: 1}, staff=staff, idempotency_key="r-second-" + "b" * 8
    )

    assert (first.amount, second.amount) == (6600, 2900 + 1000)  # the last one carries shipping
    order = _reload(order.id)
    assert order.status == OrderStatus.REFUNDED
    assert order.refunded_amount == order.total == first.amount + second.amount
    intent = fake_stripe.payment_intents[order.stripe_payment_intent]
    assert intent["amount_refunded"] == intent["amount"] == order.total
    payments = db.session.scalars(select(Payment.amount).where(Payment.order_id == order.id))
    assert sum(payments) == 0


def test_a_refund_interrupted_after_stripe_answered_is_finished_once(
    ctx, client, fake_stripe, monkeypatch
):
    """Stripe refunded but applying its answer failed (a crash): the refund stays requested,
    and the sweep asks Stripe again with the same key and gets the first refund back."""
    staff = make_owner()
    order = _stripe_order(client, fake_stripe)
    line = order.lines[1]
    record_audit = orders.audit.record
    calls = []

    def fail_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return record_audit(*args, **kwargs)

    with unit_of_work():
        record = orders.refund(
            order.id, {line.id: 1}, staff=staff, idempotency_key="r-retry-12345678"
        )
    assert record.status == RefundStatus.REQUESTED  # committed before Stripe is asked
    monkeypatch.setattr(orders.audit, "record", fail_once)
    with pytest.raises(RuntimeError):
        orders.settle_refund(record.id)
    db.session.rollback()
    assert db.session.get(Refund, record.id).status == RefundStatus.REQUESTED
    assert _reload(order.id).refunded_amount == 2900  # held: nobody can refund it twice

    assert orders.settle_requested_refunds_each_in_own_transaction(timedelta(0)) == 1
    assert orders.settle_requested_refunds_each_in_own_transaction(timedelta(0)) == 0

    first, second = fake_stripe.calls("POST", "/v1/refunds")
    assert first.idempotency_key == second.idempotency_key
    assert len(fake_stripe.refunds) == 1
    record = db.session.get(Refund, record.id)
    assert record.status == RefundStatus.SUCCEEDED
    assert record.stripe_refund_id in fake_stripe.refunds
    assert fake_stripe.payment_intents[order.stripe_payment_intent]["amount_refunded"] == 2900
    payments = db.session.scalars(select(Payment.amount).where(Payment.order_id == order.id))
    assert sorted(payments) == [-2900, 10500]


def test_stripe_not_answering_leaves_the_refund_requested_for_the_sweep(
    ctx, client, fake_stripe, monkeypatch
):
    from shop.payments import stripe_gateway

    staff = make_owner()
    order = _stripe_order(client, fake_stripe)
    line = order.lines[0]

    def unreachable(**_kwargs):
        raise stripe_gateway.GatewayError("Network error", retryable=True)

    monkeypatch.setattr(stripe_gateway, "create_refund", unreachable)
    record = refund_now(order.id, {line.id: 1}, staff=staff, idempotency_key="r-net-12345678")
    assert record.status == RefundStatus.REQUESTED
    monkeypatch.undo()
    assert orders.settle_requested_refunds_each_in_own_transaction(timedelta(0)) == 1
    record = db.session.get(Refund, record.id)
    assert record.status == RefundStatus.SUCCEEDED
    assert len(fake_stripe.refunds) == 1


def test_stripe_refusing_a_refund_gives_the_order_its_amount_back(ctx, client, fake_stripe):
    staff = make_owner()
    order = _stripe_order(client, fake_stripe)
    # Someone refunded part of the payment in the Stripe dashboard; its webhook is not here yet.
    fake_stripe.dashboard_refund(order.stripe_payment_intent, 5000)
    before = {
        "stock": db.session.scalars(select(Variant.stock).order_by(Variant.id)).all(),
        "movements": db.session.scalar(select(func.count(StockMovement.id))),
        "payments": db.session.scalar(select(func.count(Payment.id))),
    }

    record = refund_now(
        order.id,
        {line.id: line.quantity for line in order.lines},
        staff=staff,
        idempotency_key="r-refused-1234567",
        restock=True,
    )

    assert record.status == RefundStatus.FAILED
    assert "greater than unrefunded amount" in record.failure
    (call,) = fake_stripe.calls("POST", "/v1/refunds")
    assert call.status == 400
    order = _reload(order.id)
    assert (order.status, order.refunded_amount) == (OrderStatus.PAID, 0)
    assert [line.refunded_quantity for line in order.lines] == [0, 0]
    assert [line.refunded_amount for line in order.lines] == [0, 0]
    assert before == {
        "stock": db.session.scalars(select(Variant.stock).order_by(Variant.id)).all(),
        "movements": db.session.scalar(select(func.count(StockMovement.id))),
        "payments": db.session.scalar(select(func.count(Payment.id))),
    }
    assert db.session.scalar(
        select(AuditLog.action).where(AuditLog.action == "order.refund_failed")
    )


def test_charge_refunded_for_our_own_refund_is_ignored(ctx, client, fake_stripe):
    staff = make_owner()
    order = _stripe_order(client, fake_stripe)
    refund_now(order.id, {order.lines[0].id: 1}, staff=staff, idempotency_key="r-own-12345678")

    with received(order_refunded) as refunded:
        response = deliver(
            client, event("charge.refunded", fake_stripe.charge(order.stripe_payment_intent))
        )

    assert response.status_code == 200
    assert response.get_json() == {"result": "0 refunds recorded"}
    assert refunded == []
    assert db.session.scalar(select(func.count(Refund.id))) == 1
    assert _reload(order.id).refunded_amount == 3300


def test_dashboard_refund_is_recorded_once(ctx, client, fake_stripe):
    order = _stripe_order(client, fake_stripe)
    stripe_refund = fake_stripe.dashboard_refund(order.stripe_payment_intent, 1200)
    refunded_event = event("charge.refunded", fake_stripe.charge(order.stripe_payment_intent))

    with received(order_refunded) as refunded:
        replies = [deliver(client, refunded_event).get_json() for _ in range(2)]
        # Stripe may also announce the same refund again in a later event of its own.
        later = event("charge.refunded", fake_stripe.charge(order.stripe_payment_intent))
        replies.append(deliver(client, later).get_json())

    assert replies == [
        {"result": "1 refunds recorded"},
        {"result": "duplicate"},
        {"result": "0 refunds recorded"},
    ]
    assert refunded == [order.id]
    (record,) = db.session.scalars(select(Refund))
    assert (record.stripe_refund_id, record.amount) == (stripe_refund["id"], 1200)
    payment = db.session.scalar(select(Payment).where(Payment.external_id == stripe_refund["id"]))
    assert payment.amount == -1200
    assert _reload(order.id).refunded_amount == 1200
    assert db.session.scalar(select(func.count(StripeEvent.id))) == 3  # completed + 2 refunds
    # It names no items: its money is spread over the lines and shipping in proportion
    # (6600 : 2900 : 1000), no item comes back.
    assert sorted((ln.quantity, ln.amount) for ln in record.lines) == [(0, 332), (0, 754)]
    order = _reload(order.id)
    assert [(ln.refunded_quantity, ln.refunded_amount) for ln in order.lines] == [
        (0, 754),
        (0, 332),
    ]


def test_an_item_refund_after_a_dashboard_refund_returns_only_what_is_left(
    ctx, client, fake_stripe
):
    staff = make_owner()
    order = _stripe_order(client, fake_stripe)
    fake_stripe.dashboard_refund(order.stripe_payment_intent, 1200)
    deliver(client, event("charge.refunded", fake_stripe.charge(order.stripe_payment_intent)))
    tea, oolong = _reload(order.id).lines

    first = refund_now(order.id, {tea.id: 1}, staff=staff, idempotency_key="r-after-dash-1")
    assert first.amount == (6600 - 754) // 2  # half of what is left of the line

    everything = refund_now(
        order.id,
        {tea.id: 1, oolong.id: 1},
        staff=staff,
        idempotency_key="r-after-dash-2",
    )
    order = _reload(order.id)
    assert (order.status, order.refunded_amount) == (OrderStatus.REFUNDED, 10500)
    assert 1200 + first.amount + everything.amount == 10500
    assert fake_stripe.payment_intents[order.stripe_payment_intent]["amount_refunded"] == 10500
    assert [ln.refunded_amount for ln in order.lines] == [6600, 2900]


class TestZeroDecimalCurrency:
    @pytest.fixture
    def app_config(self, app_config) -> dict:
        return {**app_config, "SHOP_CURRENCY": "JPY"}

    def test_yen_amounts_go_to_stripe_as_they_are(self, ctx, client, fake_stripe):
        staff = make_owner()
        store, _, product = small_catalog(stock_qty=5, price=1500)
        response, order = stripe_checkout(client, product.variants[0].id, store.id, qty="3")

        assert response.status_code == 303
        session = fake_stripe.sessions[order.stripe_session_id]
        (item,) = fake_stripe.line_items[order.stripe_session_id]
        assert item["price_data"] == {
            "currency": "jpy",
            "unit_amount": "1500",
            "product_data": {"name": "Green Tea"},
        }
        assert (order.currency, order.total, session["amount_total"]) == ("JPY", 4500, 4500)

        _pay(client, fake_stripe, order)
        order = _reload(order.id)
        assert order.status == OrderStatus.PAID
        payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id))
        assert (payment.amount, payment.currency) == (4500, "JPY")

        refund = refund_now(
            order.id, {order.lines[0].id: 1}, staff=staff, idempotency_key="r-yen-12345678"
        )
        assert refund.amount == 1500
        assert fake_stripe.calls("POST", "/v1/refunds")[0].params["amount"] == "1500"


class TestStripeRefusingTheShop:
    @pytest.fixture
    def app_config(self, app_config) -> dict:
        return {**app_config, "STRIPE_SECRET_KEY": "sk_test_revoked"}

    def test_the_order_is_kept_and_the_customer_told(self, ctx, client, fake_stripe):
        store, _, product = small_catalog(stock_qty=5)
        response, order = stripe_checkout(client, product.variants[0].id, store.id)

        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"/o/{order.token}")
        (call,) = fake_stripe.calls("POST", "/v1/checkout/sessions")
        assert call.status == 401
        assert (order.status, order.stripe_session_id) == (OrderStatus.AWAITING_PAYMENT, None)
        page = client.get(f"/o/{order.token}")
        assert "Online payment is unavailable right now" in page.get_data(as_text=True)

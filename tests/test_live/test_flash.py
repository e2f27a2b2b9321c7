"""Live prices and flash units through the one checkout: the live price only while the session
is live plus the grace, the per-customer limit, the cap, expiry and a late payment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from live import flash
from live.models import BuyerTally, LiveClaim, LiveSession, ShelfItem
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.orders.models import Order, OrderLine, OrderStatus
from tests.support.live import on_air, watching
from tests.support.members import SENT, pay
from tests.support.shop import checkout_form


@pytest.fixture
def app_config(app_config) -> dict:
    return {**app_config, "SMS_SENDER": "tests.support.members.CapturingSender"}


@pytest.fixture
def live(app):
    with app.app_context():
        return on_air(cap=3, limit=2)


def _buy(client, live, phone="13900000001", qty=1, language="en"):
    store_id, variant_id, *_ = live
    form = checkout_form(variant_id, store_id, phone=phone, qty=str(qty))
    return client.post("/checkout", data=form, headers={"Accept-Language": language})


def _orders():
    return db.session.scalars(select(Order).order_by(Order.id)).all()


def _sold(item_id: int) -> int:
    db.session.expire_all()
    return db.session.get(ShelfItem, item_id).sold


def test_a_viewer_buys_at_the_live_price_and_the_order_carries_the_session(client, live, app):
    _, variant_id, _, session_id, item_id = live
    watching(client, session_id)
    page = client.get(f"/checkout?variant={variant_id}&qty=1")
    assert "59.00" in page.get_data(as_text=True)
    assert _buy(client, live).status_code == 303
    with app.app_context():
        (order,) = _orders()
        assert order.live_session_id == session_id
        assert order.lines[0].unit_price == 5900 and order.total == 5900
        assert _sold(item_id) == 1
        claim = db.session.scalar(select(LiveClaim))
        assert (claim.order_id, claim.quantity, claim.released_at) == (order.id, 1, None)


def test_without_the_session_the_product_costs_its_price(client, live, app):
    assert _buy(client, live).status_code == 303
    with app.app_context():
        (order,) = _orders()
        assert order.total == 9900 and order.live_session_id is None
        assert _sold(live[4]) == 0


def test_the_live_price_ends_with_the_grace_after_the_last_heartbeat(client, live, app):
    _, variant_id, _, session_id, item_id = live
    watching(client, session_id)
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        session.last_heartbeat_at = utcnow() - timedelta(minutes=16)
        db.session.commit()
    # The room shows the product's own price now, and its buy button leads to checkout at it.
    to_checkout = client.get(f"/live/{session_id}/buy/{item_id}")
    assert f"/checkout?variant={variant_id}" in to_checkout.headers["Location"]
    assert _buy(client, live).status_code == 303
    with app.app_context():
        (order,) = _orders()
        assert order.total == 9900  # a replay order: the session's, at the product's price
        assert order.live_session_id == session_id
        assert _sold(item_id) == 0


def test_a_live_price_that_ended_after_checkout_showed_it_is_refused_not_charged_more(
    client, live, app
):
    """Checkout showed the live ¥59; the grace ran out before the buyer submitted: the order
    is refused with the new price (nothing placed, no unit taken), not placed at ¥99."""
    store_id, variant_id, _, session_id, item_id = live
    watching(client, session_id)
    page = client.get(f"/checkout?variant={variant_id}").get_data(as_text=True)
    seen = page.split('name="seen_prices" value="', 1)[1].split('"', 1)[0]
    assert seen.split() == [f"{variant_id}:5900"]
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        session.last_heartbeat_at = utcnow() - timedelta(minutes=16)
        db.session.commit()
    form = checkout_form(variant_id, store_id, seen_prices=seen)
    refused = client.post("/checkout", data=form)
    assert refused.status_code == 422
    assert "now costs ¥99.00, up from the ¥59.00 shown" in refused.get_data(as_text=True)
    with app.app_context():
        assert _orders() == [] and _sold(item_id) == 0


def test_within_the_grace_the_live_price_still_holds(client, live, app):
    _, _, _, session_id, item_id = live
    watching(client, session_id)
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        session.last_heartbeat_at = utcnow() - timedelta(minutes=14)
        db.session.commit()
    assert _buy(client, live).status_code == 303
    with app.app_context():
        assert _orders()[0].total == 5900


def test_the_shelf_window_bounds_the_live_price(client, live, app):
    _, _, _, session_id, item_id = live
    watching(client, session_id)
    with app.app_context():
        db.session.get(ShelfItem, item_id).starts_at = utcnow() + timedelta(minutes=5)
        db.session.commit()
    client.get(f"/live/{session_id}/buy/{item_id}")
    assert "has not started yet" in client.get("/").get_data(as_text=True)
    assert _buy(client, live).status_code == 303
    with app.app_context():
        assert _orders()[0].total == 9900


def test_over_the_per_customer_limit_is_refused_and_changes_nothing(client, live, app):
    watching(client, live[3])
    assert _buy(client, live, qty=2).status_code == 303
    refused = _buy(client, live, qty=1)
    assert refused.status_code == 422
    assert "You can buy at most 2 of Green Tea in this live session." in refused.get_data(
        as_text=True
    )
    with app.app_context():
        assert len(_orders()) == 1
        assert _sold(live[4]) == 2
        assert db.session.scalar(select(BuyerTally.units)) == 2
    with app.app_context():  # named as the reader reads it
        product = db.session.get(ShelfItem, live[4]).product
        product.name, product.name_en = "绿茶", "Green Tea"
        db.session.commit()
    english = _buy(client, live, qty=1).get_data(as_text=True)
    assert "You can buy at most 2 of Green Tea in this live session." in english
    chinese = _buy(client, live, qty=1, language="zh-CN").get_data(as_text=True)
    assert "本场直播每人最多购买 2 件 绿茶。" in chinese


def test_more_than_the_cap_is_refused_with_what_is_left(client, live, app):
    watching(client, live[3])
    assert _buy(client, live, phone="13900000001", qty=2).status_code == 303
    refused = _buy(client, live, phone="13900000002", qty=2)
    assert refused.status_code == 422
    assert "Only 1 of Green Tea are left in this live session." in refused.get_data(as_text=True)
    assert _buy(client, live, phone="13900000002", qty=1).status_code == 303
    refused = _buy(client, live, phone="13900000003", qty=1)
    assert "Green Tea is sold out in this live session." in refused.get_data(as_text=True)
    with app.app_context():
        assert len(_orders()) == 2
        assert _sold(live[4]) == 3


def test_an_unpaid_order_gives_its_units_back_after_the_live_reservation(client, live, app):
    watching(client, live[3])
    _buy(client, live, qty=2)
    with app.app_context():
        assert flash.release_due(utcnow() + timedelta(minutes=14)) == 0
        assert _sold(live[4]) == 2
        assert flash.release_due(utcnow() + timedelta(minutes=16)) == 1
        assert _sold(live[4]) == 0
        assert db.session.scalar(select(BuyerTally.units)) == 0
        assert db.session.scalar(select(LiveClaim.released_at)) is not None
        assert flash.release_due(utcnow() + timedelta(minutes=17)) == 0  # once


def test_the_order_page_says_how_long_the_live_units_are_kept(client, live, app):
    """The order waits days for payment at the store; its live units only the reservation."""
    watching(client, live[3])
    order_page = _buy(client, live).headers["Location"]
    with app.app_context():
        (claim,) = db.session.scalars(select(LiveClaim)).all()
        kept_until = claim.created_at + timedelta(minutes=15)
    page = client.get(order_page).get_data(as_text=True)
    assert 'id="live-hold"' in page
    # The shop's time zone (Asia/Shanghai by default) as the page shows it.
    local = kept_until + timedelta(hours=8)
    assert f"{local:%-I:%M}" in page.split('id="live-hold"')[1]
    with app.app_context():
        assert flash.release_due(utcnow() + timedelta(minutes=16)) == 1
    assert 'id="live-hold"' not in client.get(order_page).get_data(as_text=True)


def test_a_paid_order_keeps_its_units(client, live, app):
    watching(client, live[3])
    _buy(client, live, qty=2)
    with app.app_context():
        pay(_orders()[0])
        assert flash.release_due(utcnow() + timedelta(minutes=16)) == 0
        assert _sold(live[4]) == 2


def test_a_late_payment_takes_the_units_again_when_they_are_still_there(client, live, app):
    watching(client, live[3])
    _buy(client, live, qty=2)
    with app.app_context():
        flash.release_due(utcnow() + timedelta(minutes=16))
        assert pay(_orders()[0])
        assert _sold(live[4]) == 2
        order = _orders()[0]
        assert order.status == OrderStatus.PAID and order.refunded_amount == 0


def test_a_late_payment_for_units_sold_meanwhile_is_refunded_and_the_customer_told(
    client, live, app
):
    watching(client, live[3])
    _buy(client, live, phone="13900000001", qty=2)
    with app.app_context():
        flash.release_due(utcnow() + timedelta(minutes=16))
    _buy(client, live, phone="13900000002", qty=2)
    _buy(client, live, phone="13900000003", qty=1)
    SENT.clear()
    with app.app_context():
        late = _orders()[0]
        assert pay(late)
        db.session.expire_all()
        late = db.session.get(Order, late.id)
        assert late.status == OrderStatus.REFUNDED
        assert late.refunded_amount == late.total
        assert _sold(live[4]) == 3  # the other buyers keep theirs
        assert [phone for phone, _ in SENT] == ["13900000001"]
        assert "refunded" in SENT[0][1]
        assert flash.settle_paid(late.id) == "refunded"  # a second delivery: nothing more
        assert len(SENT) == 1
        units = db.session.scalar(
            select(func.sum(OrderLine.quantity - OrderLine.refunded_quantity))
            .join(Order)
            .where(Order.status != OrderStatus.CANCELLED)
        )
        assert units == 3


def test_a_cancelled_order_gives_its_units_back_at_once(client, live, app):
    from shop.orders import services as orders

    watching(client, live[3])
    _buy(client, live, qty=2)
    with app.app_context():
        with unit_of_work():
            orders.cancel(_orders()[0].id, "changed mind")
        assert _sold(live[4]) == 0


def test_a_tampered_price_is_never_read(client, live, app):
    watching(client, live[3])
    store_id, variant_id, *_ = live
    form = checkout_form(variant_id, store_id, unit_price="1", price="1", total="1")
    assert client.post("/checkout", data=form).status_code == 303
    with app.app_context():
        assert _orders()[0].total == 5900


def test_the_session_is_carried_for_a_day_after_entering(client, live, app, monkeypatch):
    import time

    from live import attribution_session

    client.get(f"/live/{live[3]}/enter")
    later = time.time() + attribution_session.CARRIED_FOR + 60
    monkeypatch.setattr(attribution_session, "_now", lambda: later)
    assert _buy(client, live).status_code == 303
    with app.app_context():
        assert _orders()[0].live_session_id is None and _orders()[0].total == 9900

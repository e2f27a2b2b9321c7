"""Tips: off by default (a tip then changes nothing and says why); switched on by staff for a
session or the shop; preset amounts; an adult-confirmation before a customer's first tip;
paid on Stripe Checkout and confirmed by the shop's Stripe webhook; a ledger entry of its own
kind for the host guide; no amount shown in the room; refundable; in the session report."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from distribution.commission import balances, verify_ledger
from distribution.models import Bucket, CommissionEntry, EntryKind
from live import reports, tips
from live.models import AdultConfirmation, LiveSession, LiveTip, TipStatus
from shop.extensions import db
from tests.support.fakestripe import deliver, event
from tests.support.live_room import make_room
from tests.support.members import make_customer, sign_in


@pytest.fixture
def app_config(app_config, fake_stripe):
    return {**app_config, **fake_stripe.app_config()}


@pytest.fixture
def room(app):
    with app.app_context():
        made = make_room(status="live")
        customer = make_customer("Mei", phone="13900000077")
        db.session.commit()
        made.customer_id = customer.id
        made.host_id = db.session.get(LiveSession, made.session_id).host_id
        return made


def _tips_on(app, session_id, on=True):
    with app.app_context():
        db.session.get(LiveSession, session_id).tips = on
        db.session.commit()


def _count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count(model.id)))


def _signed_in(app, room):
    client = app.test_client()
    with app.app_context():
        from shop.customers.models import Customer

        sign_in(client, db.session.get(Customer, room.customer_id))
    return client


def test_a_tip_when_tips_are_off_is_refused_and_changes_nothing(app, room):
    client = _signed_in(app, room)
    assert 'id="tip"' not in client.get(f"/live/{room.session_id}").get_data(as_text=True)
    answer = client.post(
        f"/live/{room.session_id}/tip", data={"amount": "1800", "adult": "y"}, follow_redirects=True
    )
    assert "Tips are off for this session." in answer.get_data(as_text=True)
    assert _count(app, LiveTip) == 0 and _count(app, AdultConfirmation) == 0


def test_the_first_tip_asks_for_the_adult_confirmation_then_pays_on_stripe(app, room, fake_stripe):
    _tips_on(app, room.session_id)
    client = _signed_in(app, room)
    page = client.get(f"/live/{room.session_id}").get_data(as_text=True)
    assert 'id="tip"' in page and "I am 18 or older" in page and "¥18.00" in page

    refused = client.post(
        f"/live/{room.session_id}/tip", data={"amount": "1800"}, follow_redirects=True
    )
    assert "Please confirm that you are 18 or older to tip." in refused.get_data(as_text=True)
    odd = client.post(
        f"/live/{room.session_id}/tip", data={"amount": "1234", "adult": "y"}, follow_redirects=True
    )
    assert "Choose one of the tip amounts." in odd.get_data(as_text=True)
    assert _count(app, LiveTip) == 0 and _count(app, AdultConfirmation) == 0

    paying = client.post(f"/live/{room.session_id}/tip", data={"amount": "1800", "adult": "y"})
    assert paying.status_code == 303
    assert paying.headers["Location"].startswith("https://checkout.stripe.com/")
    with app.app_context():
        tip = db.session.scalar(select(LiveTip))
        assert (tip.amount, tip.status, tip.host_id) == (1800, TipStatus.PENDING, room.host_id)
        stripe_session = tip.stripe_session_id
    sent = fake_stripe.calls("POST", "/v1/checkout/sessions")[-1].params
    assert sent["metadata"] == {"purpose": "live_tip", "id": str(tip.id)}
    assert sent["line_items"][0]["price_data"]["unit_amount"] == "1800"

    # The adult-confirmation is asked once per customer.
    page = client.get(f"/live/{room.session_id}").get_data(as_text=True)
    assert "I am 18 or older" not in page
    assert _count(app, AdultConfirmation) == 1

    paid = fake_stripe.pay(stripe_session)
    webhook = app.test_client()
    assert deliver(webhook, event("checkout.session.completed", paid)).get_json() == {
        "result": "tip paid"
    }
    assert deliver(webhook, event("checkout.session.completed", paid)).get_json() == {
        "result": "already paid"
    }
    with app.app_context():
        assert db.session.get(LiveTip, tip.id).status == TipStatus.PAID
        entries = db.session.scalars(
            select(CommissionEntry).where(CommissionEntry.kind == EntryKind.TIP)
        ).all()
        assert [(e.sharer_id, e.amount, e.bucket) for e in entries] == [
            (room.host_id, 1800, Bucket.SETTLED)
        ]
        assert balances(room.host_id)[Bucket.SETTLED] == 1800
        assert verify_ledger() == []
        report = reports.session_report(db.session.get(LiveSession, room.session_id))
        assert report.tips == {"paid": 1, "net": 1800, "refunded": 0, "refunded_amount": 0}
        assert "tips_net,1800" in reports.csv_export(report)
        assert report.total.paid_gmv == 0  # a tip is not a sale
    thanked = client.get(f"/live/{room.session_id}?tipped=1").get_data(as_text=True)
    assert "Thank you: your tip goes to the host" in thanked
    # No public ranking, no amount in the room.
    room_page = app.test_client().get(f"/live/{room.session_id}").get_data(as_text=True)
    assert "Mei" not in room_page


def test_staff_refund_a_tip_and_the_host_ledger_gives_it_back(app, room, fake_stripe):
    _tips_on(app, room.session_id)
    client = _signed_in(app, room)
    client.post(f"/live/{room.session_id}/tip", data={"amount": "600", "adult": "y"})
    with app.app_context():
        tip = db.session.scalar(select(LiveTip))
    deliver(
        app.test_client(),
        event("checkout.session.completed", fake_stripe.pay(tip.stripe_session_id)),
    )
    with app.app_context():
        refunded = tips.refund(tip.id)
        assert refunded.status == TipStatus.REFUNDED
        assert balances(room.host_id)[Bucket.SETTLED] == 0
        assert verify_ledger() == []
        with pytest.raises(Exception, match="Only a paid tip can be refunded."):
            tips.refund(tip.id)
        report = reports.session_report(db.session.get(LiveSession, room.session_id))
        assert report.tips["refunded_amount"] == 600 and report.tips["net"] == 0
    refunds = fake_stripe.calls("POST", "/v1/refunds")
    assert [r.params["amount"] for r in refunds] == ["600"]


def test_the_shop_setting_switches_tips_on_and_a_session_may_switch_them_off(app, room):
    from live.services import settings_row

    with app.app_context():
        settings_row().tips_enabled = True
        db.session.commit()
        session = db.session.get(LiveSession, room.session_id)
        assert tips.tips_on(session) is True
        session.tips = False
        assert tips.tips_on(session) is False
        db.session.rollback()


def test_staff_see_tips_in_the_admin_and_refund_one_there(app, room, fake_stripe):
    from shop.demo.factories import make_staff

    _tips_on(app, room.session_id)
    client = _signed_in(app, room)
    client.post(f"/live/{room.session_id}/tip", data={"amount": "6600", "adult": "y"})
    with app.app_context():
        tip = db.session.scalar(select(LiveTip))
        tip_id, paid_on = tip.id, tip.stripe_session_id
        make_staff("owner@siyu.test", "pw-123456789", "owner")
        db.session.commit()
    deliver(app.test_client(), event("checkout.session.completed", fake_stripe.pay(paid_on)))
    staff = app.test_client()
    staff.post("/admin/login", data={"email": "owner@siyu.test", "password": "pw-123456789"})
    listing = staff.get("/admin/live-tips/").get_data(as_text=True)
    assert "¥66.00" in listing and "Paid" in listing
    done = staff.post(
        "/admin/live-tips/action/",
        data={"action": "refund", "rowid": str(tip_id)},
        follow_redirects=True,
    )
    assert "1 tip refunded." in done.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(LiveTip, tip_id).status == TipStatus.REFUNDED
        report = staff.get(f"/admin/live/report/{room.session_id}").get_data(as_text=True)
        assert "0 paid, ¥0.00 net" in report and "1 refunded, ¥66.00" in report

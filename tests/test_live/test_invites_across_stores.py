"""Chains run sessions across stores: a guide of another store finds the session on their
workbench while it is live or scheduled, gets an invite link and QR for it, and the orders
that come through it are credited to them by the distribution engine, with the explanation,
and counted on their line of the session report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from distribution.attribution import explain
from distribution.factories import make_guide
from distribution.models import Attribution, AttributionRule, ShareLink
from live import reports
from live.factories import make_session, shelve
from live.models import LiveSession
from shop.demo.factories import make_store
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.orders.models import Order
from tests.support.shop import checkout_form, small_catalog

OTHER_EMAIL = "zhou@guides.test"


@pytest.fixture
def chain(app):
    with app.app_context():
        store, _, product = small_catalog(stock_qty=100)
        host = make_guide(store, "Anna")
        other_store = make_store("West Store", "Suzhou", "2 Canal St")
        make_guide(other_store, "Zhou", email=OTHER_EMAIL)
        live = make_session(store, "Anna's tea live", host=host, on_air=True)
        shelve(live, product, 5900, cap=40, limit=2)
        soon = make_session(
            store, "Friday tasting", host=host, scheduled_at=utcnow() + timedelta(days=1)
        )
        done = make_session(store, "Last week", host=host)
        done.status = "ended"
        db.session.commit()
        return {
            "store": store.id,
            "variant": product.variants[0].id,
            "live": live.id,
            "soon": soon.id,
            "done": done.id,
        }


def _signed_in(app):
    client = app.test_client()
    answer = client.post(
        "/guide/login", data={"email": OTHER_EMAIL, "password": "guide-password-1"}
    )
    assert answer.status_code == 302
    return client


def test_a_guide_of_another_store_gets_an_invite_for_live_and_scheduled_sessions(app, chain):
    zhou = _signed_in(app)
    home = zhou.get("/guide/").get_data(as_text=True)
    assert "Anna&#39;s tea live" in home and "Friday tasting" in home
    listing = zhou.get("/guide/live/").get_data(as_text=True)
    assert "Anna&#39;s tea live" in listing and "Friday tasting" in listing
    assert "Last week" not in listing  # ended, no replay, never invited to

    for key in ("live", "soon"):
        page = zhou.get(f"/guide/live/{chain[key]}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "My invite link" in html and "/qr.png" in html
        assert "Open the host console" not in html and 'id="report"' not in html
    assert zhou.get(f"/guide/live/{chain['done']}").status_code == 404


def test_orders_through_the_other_store_guides_invite_are_credited_to_them(app, chain):
    zhou = _signed_in(app)
    html = zhou.get(f"/guide/live/{chain['live']}").get_data(as_text=True)
    with app.app_context():
        code = db.session.scalar(select(ShareLink.code).where(ShareLink.target_id == chain["live"]))
    assert f"/s/{code}" in html

    buyer = app.test_client()
    assert buyer.get(f"/s/{code}").headers["Location"] == f"/live/{chain['live']}/enter"
    buyer.get(f"/live/{chain['live']}/enter")
    form = checkout_form(chain["variant"], chain["store"], phone="13900000021")
    assert buyer.post("/checkout", data=form).status_code == 303
    with app.app_context():
        order = db.session.scalar(select(Order).where(Order.phone == "13900000021"))
        assert (order.live_session_id, order.total) == (chain["live"], 5900)
        attribution = db.session.get(Attribution, order.id)
        assert attribution.sharer.name == "Zhou"
        # The invite's visit bound the buyer to Zhou: the binding and the invite agree.
        assert attribution.link_id == db.session.scalar(
            select(ShareLink.id).where(ShareLink.code == code)
        )
        assert attribution.rule == AttributionRule.FIRST_SHARER_PROTECTED
        assert attribution.store_id == attribution.sharer.store_id  # Zhou's own store
        assert "Zhou" in explain(attribution)
        report = reports.session_report(db.session.get(LiveSession, chain["live"]))
        assert [row.label for row in report.inviters] == ["Zhou"]

    # The session ends: Zhou still finds it, since he holds an invite to it.
    with app.app_context():
        db.session.get(LiveSession, chain["live"]).status = "ended"
        db.session.commit()
    assert zhou.get(f"/guide/live/{chain['live']}").status_code == 200

"""Invites: orders in a session are attributed by the distribution engine; A → B → C credits
B for C when B is a promoter; anyone else's re-share keeps A's invite; the precedence setting
and the explanation that says which applied."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from distribution.attribution import explain
from distribution.factories import make_guide, make_promoter
from distribution.models import Attribution, AttributionRule, LinkTarget
from distribution.sharing import link_for, settings
from live import invites
from live.factories import make_session, shelve
from live.models import LiveSession
from shop.extensions import db
from shop.orders.models import Order
from tests.support.shop import checkout_form, small_catalog


@pytest.fixture
def world(app):
    with app.app_context():
        store, _, product = small_catalog(stock_qty=100)
        anna = make_guide(store, "Anna")
        xu = make_guide(store, "Xu")
        bo = make_promoter("Bo", "13700000002", parent=anna)
        bo.token = "bo-secret-token-0001"
        session = make_session(store, host=anna, on_air=True)
        shelve(session, product, 5900, cap=40, limit=2)
        a_link = invites.invite_link(anna, session)
        x_link = link_for(xu, LinkTarget.PRODUCT, product.id)
        db.session.commit()
        return {
            "store": store.id,
            "variant": product.variants[0].id,
            "session": session.id,
            "a_code": a_link.code,
            "x_code": x_link.code,
        }


def _buy(client, world, phone: str) -> Attribution:
    form = checkout_form(world["variant"], world["store"], phone=phone)
    assert client.post("/checkout", data=form).status_code == 303
    order = db.session.scalar(select(Order).where(Order.phone == phone))
    assert order.live_session_id == world["session"]
    assert order.total == 5900
    return db.session.get(Attribution, order.id)


def _share_url(client, world) -> str:
    return client.get(f"/live/{world['session']}/share").json["url"]


def _code(url: str) -> str:
    return url.rsplit("/s/", 1)[1]


def test_a_promoter_who_re_shares_is_credited_for_their_friend(app, world):
    b, c = app.test_client(), app.test_client()
    b.get(f"/s/{world['a_code']}")
    b.get("/guide/p/bo-secret-token-0001")  # Bo is a promoter, signed in to his workbench
    shared = _share_url(b, world)
    assert _code(shared) != world["a_code"]
    assert c.get(f"/s/{_code(shared)}").headers["Location"] == f"/live/{world['session']}/enter"
    c.get(f"/live/{world['session']}/enter")
    with app.app_context():
        attribution = _buy(c, world, "13900000003")
        assert attribution.sharer.name == "Bo"
        assert attribution.live_session_id == world["session"]
        assert "Bo" in explain(attribution)


def test_a_viewer_who_is_no_promoter_passes_the_first_invite_on(app, world):
    b, c = app.test_client(), app.test_client()
    b.get(f"/s/{world['a_code']}")
    shared = _share_url(b, world)
    assert _code(shared) == world["a_code"]
    c.get(f"/s/{_code(shared)}")
    c.get(f"/live/{world['session']}/enter")
    with app.app_context():
        assert _buy(c, world, "13900000004").sharer.name == "Anna"


def _bound_to_xu_then_invited_by_anna(app, world):
    d = app.test_client()
    d.get(f"/s/{world['x_code']}")  # bound to Xu first, protected
    d.get(f"/s/{world['a_code']}")
    d.get(f"/live/{world['session']}/enter")
    return d


def test_by_default_an_existing_binding_outranks_the_live_invite(app, world):
    d = _bound_to_xu_then_invited_by_anna(app, world)
    with app.app_context():
        attribution = _buy(d, world, "13900000005")
        assert attribution.sharer.name == "Xu"
        assert attribution.rule == AttributionRule.FIRST_SHARER_PROTECTED
        assert "Anna's live invite did not outrank the binding" in explain(attribution)


def test_the_setting_lets_the_live_invite_outrank_the_binding(app, world):
    with app.app_context():
        settings().live_invite_outranks_binding = True
        db.session.commit()
    d = _bound_to_xu_then_invited_by_anna(app, world)
    with app.app_context():
        attribution = _buy(d, world, "13900000006")
        assert attribution.sharer.name == "Anna"
        assert attribution.rule == AttributionRule.LIVE_INVITE
        text = explain(attribution)
        assert "came through their live invite" in text and "Xu" in text


def test_an_invite_to_an_unknown_session_lands_home(app, world):
    with app.app_context():
        assert db.session.get(LiveSession, 999) is None
    client = app.test_client()
    assert client.get("/live/999/enter").headers["Location"] == "/"

"""Sessions: "live" comes from the host console's heartbeat, silence ends them, pins are
recorded, the guide starts one in one tap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from distribution.factories import make_guide
from live import services
from live.factories import make_session, shelve
from live.models import LiveSession, Pin, SessionStatus
from shop.errors import InvalidInput, InvalidTransition
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from tests.support.shop import small_catalog

PASSWORD = "guide-password-1"


@pytest.fixture
def world(app):
    with app.app_context():
        store, _, product = small_catalog()
        guide = make_guide(store, "Li Na", email="li@guides.test")
        other_store = small_catalog()[0]
        other = make_guide(other_store, "Wang Fang", email="wang@guides.test")
        session = make_session(store, host=guide)
        item = shelve(session, product, 5900)
        db.session.commit()
        return {"session": session.id, "item": item.id, "guide": guide.id, "other": other.id}


def _session(session_id: int) -> LiveSession:
    db.session.expire_all()
    return db.session.get(LiveSession, session_id)


def test_a_scheduled_session_is_not_live_by_the_clock(app, world):
    with app.app_context():
        session = _session(world["session"])
        session.scheduled_at = utcnow() - timedelta(hours=1)
        db.session.commit()
        services.end_silent_sessions()
        assert _session(world["session"]).status == SessionStatus.SCHEDULED


def test_the_first_heartbeat_starts_it_and_pause_and_end_follow(app, world):
    with app.app_context():
        with unit_of_work():
            assert services.heartbeat(world["session"]) == SessionStatus.LIVE
        started = _session(world["session"]).started_at
        assert started is not None
        with unit_of_work():
            assert services.heartbeat(world["session"], paused=True) == SessionStatus.PAUSED
        assert _session(world["session"]).started_at == started
        with unit_of_work():
            assert services.end(world["session"])
        with pytest.raises(InvalidTransition), unit_of_work():
            services.heartbeat(world["session"])
        assert _session(world["session"]).status == SessionStatus.ENDED


def test_a_silent_session_ends_itself_as_of_its_last_heartbeat(app, world):
    with app.app_context():
        last = utcnow() - timedelta(minutes=29)
        with unit_of_work():
            services.heartbeat(world["session"], now=last)
        assert services.end_silent_sessions() == 0
        assert services.end_silent_sessions(utcnow() + timedelta(minutes=2)) == 1
        session = _session(world["session"])
        assert session.status == SessionStatus.ENDED and session.ended_at == last


def test_pins_are_recorded_one_open_at_a_time(app, world):
    with app.app_context():
        product = small_catalog()[2]
        second = shelve(_session(world["session"]), product, 100).id
        db.session.commit()
        with unit_of_work():
            services.pin(world["session"], world["item"])
        with unit_of_work():
            services.pin(world["session"], second)
        with unit_of_work():
            assert services.unpin(world["session"]) is not None
        pins = db.session.scalars(select(Pin).order_by(Pin.id)).all()
        assert [p.shelf_item_id for p in pins] == [world["item"], second]
        assert all(p.unpinned_at is not None for p in pins)
        assert pins[0].unpinned_at == pins[1].pinned_at
        with pytest.raises(InvalidInput), unit_of_work():
            services.pin(world["session"], 999)


def _sign_in(client, email):
    return client.post("/guide/login", data={"email": email, "password": PASSWORD})


def test_only_the_host_sends_heartbeats(client, app, world):
    url = f"/live/{world['session']}/heartbeat"
    assert client.post(url).status_code == 403
    _sign_in(client, "wang@guides.test")
    assert client.post(url).status_code == 403
    client.post("/guide/logout")
    _sign_in(client, "li@guides.test")
    answer = client.post(url, json={"paused": False})
    assert answer.status_code == 200 and answer.json["result"] == "live"
    pinned = client.post(f"/live/{world['session']}/pin", json={"shelf_item_id": world["item"]})
    assert pinned.status_code == 200
    assert client.post(f"/live/{world['session']}/end").json["result"] is True
    refused = client.post(url)
    assert refused.status_code == 409
    assert refused.json["message"] == "This live session has ended."


def test_the_guide_starts_a_session_in_one_tap(client, app, world):
    _sign_in(client, "wang@guides.test")
    response = client.post("/guide/live/start")
    assert response.status_code == 302
    with app.app_context():
        session = db.session.scalar(select(LiveSession).order_by(LiveSession.id.desc()))
        assert session.host_id == world["other"]
        assert session.store_id == db.session.get(services.Sharer, world["other"]).store_id
        assert session.status == SessionStatus.SCHEDULED  # until the console's heartbeat
    page = client.get("/guide/live")
    assert page.status_code == 200
    assert "Wang Fang is live" in page.get_data(as_text=True)


def test_an_embed_from_a_host_not_allowed_is_refused(app, world):
    with app.app_context(), pytest.raises(InvalidInput):
        services.check_stream("embed", "https://player.example.com/x")


def test_the_store_manager_may_run_the_console_but_not_another_stores(client, app, world):
    from shop.demo.factories import make_staff
    from shop.staff.models import Role

    with app.app_context():
        session = db.session.get(LiveSession, world["session"])
        mine = make_staff("m1@test.example", "manager-password-1", Role.MANAGER, [session.store])
        other = make_staff("m2@test.example", "manager-password-2", Role.MANAGER, [])
        db.session.commit()
        assert services.may_host(session, None, mine)
        assert not services.may_host(session, None, other)


def test_every_status_change_is_an_event_of_its_own(app, world):
    """Live, paused, live again, ended: four events for the room, not one (the outbox drops a
    publication whose arguments repeat an earlier one)."""
    from shop.infra.outbox import OutboxEvent

    with app.app_context():
        for paused in (False, True, False):
            with unit_of_work():
                services.heartbeat(world["session"], paused=paused)
        with unit_of_work():
            services.heartbeat(world["session"], paused=False)  # no change: no event
        with unit_of_work():
            services.end(world["session"])
        changes = db.session.scalars(
            select(OutboxEvent.args).where(
                OutboxEvent.topic == "live.status",
                OutboxEvent.handler == "live.room_jobs.announce_status",
            )
        ).all()
        assert [args[1].split(":")[0] for args in changes] == ["live", "paused", "live", "ended"]

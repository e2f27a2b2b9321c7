""" "Remind me" on a scheduled session: recorded once per phone; texted once, through the shop's
message sender and the outbox, when the host console's heartbeat takes the session live."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from live import reminders, services
from live.models import LiveReminder, LiveSession
from shop.customers.sms import SendFailed
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from tests.support import members
from tests.support.live_room import make_room, sign_in_host
from tests.support.members import SENT, make_customer, sign_in


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SMS_SENDER": "tests.support.members.CapturingSender"}


@pytest.fixture
def room(app):
    SENT.clear()
    with app.app_context():
        return make_room(status="scheduled")


def _reminders(app, session_id):
    with app.app_context():
        return db.session.scalar(
            select(func.count(LiveReminder.id)).where(LiveReminder.session_id == session_id)
        )


def _texts(session_id):
    return [(phone, text) for phone, text in SENT if f"/live/{session_id}" in text]


def test_a_guest_asks_once_with_a_phone_and_asking_again_changes_nothing(client, room, app):
    page = client.get(f"/live/{room.session_id}").get_data(as_text=True)
    assert "Remind me" in page
    for _ in range(2):
        answer = client.post(f"/live/{room.session_id}/remind", data={"phone": "138 1234 5678"})
        assert answer.status_code == 302
    assert _reminders(app, room.session_id) == 1
    assert "We will text you when the session goes live." in client.get(
        f"/live/{room.session_id}"
    ).get_data(as_text=True)
    other_browser = app.test_client()
    other_browser.post(f"/live/{room.session_id}/remind", data={"phone": "+8613812345678"})
    assert _reminders(app, room.session_id) == 1  # the same phone


def test_a_bad_phone_or_a_live_session_is_refused_with_a_reason(client, room, app):
    answer = client.post(
        f"/live/{room.session_id}/remind", data={"phone": "123"}, follow_redirects=True
    )
    assert "Enter a valid mobile number" in answer.get_data(as_text=True)
    with app.app_context():
        db.session.get(LiveSession, room.session_id).status = "live"
        db.session.commit()
    answer = client.post(
        f"/live/{room.session_id}/remind", data={"phone": "13812345678"}, follow_redirects=True
    )
    assert "This session is live already: watch it now." in answer.get_data(as_text=True)
    assert _reminders(app, room.session_id) == 0


def test_a_signed_in_customer_taps_once_and_is_reminded_in_their_language(client, room, app):
    with app.app_context():
        customer = make_customer("Mei", phone="13900000042")
        db.session.commit()
        customer_id = customer.id
    sign_in(client, customer)
    page = client.get(f"/live/{room.session_id}").get_data(as_text=True)
    assert 'name="phone"' not in page  # their own phone
    client.post(f"/live/{room.session_id}/remind", headers={"Accept-Language": "zh-CN"})
    with app.app_context():
        reminder = db.session.scalar(select(LiveReminder))
        assert (reminder.phone, reminder.customer_id) == ("13900000042", customer_id)
    page = client.get(f"/live/{room.session_id}").get_data(as_text=True)
    assert "We will text you when the session goes live." in page

    host = app.test_client()
    sign_in_host(host)
    assert host.post(f"/live/{room.session_id}/host/start").get_json()["status"] == "live"
    assert _texts(room.session_id) == [
        ("13900000042", f"Spring tea live 开播了：http://localhost/live/{room.session_id}")
    ]


def test_going_live_texts_each_reminder_once(client, room, app):
    for phone in ("13800000001", "13800000002"):
        app.test_client().post(f"/live/{room.session_id}/remind", data={"phone": phone})
    sign_in_host(client)
    client.post(f"/live/{room.session_id}/host/start")
    sent = _texts(room.session_id)
    assert sorted(p for p, _ in sent) == ["13800000001", "13800000002"]
    assert sent[0][1] == f"Spring tea live is live now: http://localhost/live/{room.session_id}"

    client.post(f"/live/{room.session_id}/host/pause")
    client.post(f"/live/{room.session_id}/host/start")  # live again: nobody is texted twice
    with app.app_context():
        # The handler delivered once more (a retry, a second worker): nothing more goes out.
        assert reminders.send_due(room.session_id, "live:again") == 0
    assert len(_texts(room.session_id)) == 2


class FailingOnce:
    """A sender whose gateway refuses the first text it is given."""

    failed = False

    def __init__(self, config) -> None:
        pass

    def send(self, phone, message):
        if not FailingOnce.failed:
            FailingOnce.failed = True
            raise SendFailed("gateway down")
        members.SENT.append((phone, message))


def test_a_text_the_sender_could_not_hand_over_is_sent_on_the_retry(room, app, ctx):
    app.config["SMS_SENDER"] = "tests.test_live.test_reminders.FailingOnce"
    app.extensions.pop("sms_sender", None)
    session = db.session.get(LiveSession, room.session_id)
    with unit_of_work():
        reminders.remind_me(session, phone="13800000003")
        reminders.remind_me(session, phone="13800000004")
    with unit_of_work():
        services.heartbeat(room.session_id)  # the outbox's handler: one text fails
    assert [p for p, _ in _texts(room.session_id)] == ["13800000004"]
    assert reminders.send_due(room.session_id, "live:retry") == 1
    assert sorted(p for p, _ in _texts(room.session_id)) == ["13800000003", "13800000004"]
    assert reminders.send_due(room.session_id, "live:retry") == 0


@pytest.mark.postgres
def test_taps_at_the_same_moment_leave_one_reminder(room, app):
    from tests.support.races import all_at_once

    def tap(_i):
        with app.test_request_context():
            with unit_of_work():
                session = db.session.get(LiveSession, room.session_id)
                return reminders.remind_me(session, phone="13800000009")[1]

    made = all_at_once(8, tap)
    assert made.count(True) == 1
    assert _reminders(app, room.session_id) == 1

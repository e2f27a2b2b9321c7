"""Customer sign-in by a one-time code: sent through the pluggable sender, expiring,
rate-limited, spent once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from shop.customers.models import LoginCode
from shop.extensions import db
from shop.infra.clock import utcnow
from tests.support.shop import order_for, small_catalog

SENT: list[tuple[str, str]] = []


class CapturingSender:
    def __init__(self, config) -> None:
        pass

    def send(self, phone: str, message: str) -> None:
        SENT.append((phone, message))


@pytest.fixture
def app_config(app_config):
    SENT.clear()
    return {
        **app_config,
        "SMS_SENDER": "tests.test_shop.test_customers.test_signin.CapturingSender",
    }


def last_code() -> str:
    return re.search(r"\b(\d{6})\b", SENT[-1][1]).group(1)


def ask(client, phone="138 1234 1234"):
    return client.post("/signin", data={"phone": phone})


def test_sign_in_with_the_code_and_see_my_orders(client, app):
    with app.app_context():
        store, _c, product = small_catalog()
        order = order_for(product.variants[0], store)
        order_id, token = order.id, order.token
    assert client.get(f"/orders/{order_id}").status_code == 404  # another browser
    response = ask(client)
    assert response.status_code == 302
    assert "13812341234" not in response.headers["Location"]  # not in the address bar
    assert SENT[-1][0] == "13812341234"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "We sent a code to 138****1234." in page and "13812341234" in page  # form field
    response = client.post("/signin/verify", data={"phone": "13812341234", "code": last_code()})
    assert response.status_code == 302 and response.headers["Location"] == "/me"
    page = client.get("/me").get_data(as_text=True)
    assert f"/o/{token}" in page
    assert "138****1234" in page
    assert client.get(f"/orders/{order_id}").status_code == 302


def test_logged_sender_is_the_default(app, caplog):
    from shop.customers import signin

    app.config["SMS_SENDER"] = "shop.customers.sms.LogSender"
    app.extensions.pop("sms_sender", None)
    with app.test_request_context(), caplog.at_level("WARNING", logger="siyu.sms"):
        signin.request_code("13812341234", "127.0.0.1")
    assert re.search(r"SMS to 13812341234: .*\d{6}", caplog.text)


def test_wrong_code_then_too_many_attempts(client):
    ask(client)
    good = last_code()
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(5):
        response = client.post("/signin/verify", data={"phone": "13812341234", "code": wrong})
        assert response.status_code == 422
        assert "That code is wrong. Check the text message" in response.get_data(as_text=True)
    response = client.post("/signin/verify", data={"phone": "13812341234", "code": good})
    assert "Too many wrong codes" in response.get_data(as_text=True)
    assert client.get("/me").status_code == 302


def test_code_is_spent_once_and_expires(client, app):
    ask(client)
    code = last_code()
    assert (
        client.post("/signin/verify", data={"phone": "13812341234", "code": code}).status_code
        == 302
    )
    other = app.test_client()
    response = other.post("/signin/verify", data={"phone": "13812341234", "code": code})
    assert response.status_code == 422
    with app.app_context():
        db.session.execute(update(LoginCode).values(created_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()
    ask(other)
    with app.app_context():
        db.session.execute(update(LoginCode).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    response = other.post("/signin/verify", data={"phone": "13812341234", "code": last_code()})
    assert response.status_code == 422
    assert "That code has expired, or was used. Request a new one." in response.get_data(
        as_text=True
    )


def test_sends_are_rate_limited(client, app):
    assert ask(client).status_code == 302
    response = ask(client)
    assert response.status_code == 422
    assert "wait a minute" in response.get_data(as_text=True)
    assert len(SENT) == 1


def test_asking_again_within_a_minute_leads_to_the_code_already_sent(app):
    """Another browser (or the same after going back) asks again: it is refused, and shown
    the way to type the code the first request sent, which signs in."""
    assert ask(app.test_client()).status_code == 302
    again = app.test_client()
    page = ask(again).get_data(as_text=True)
    assert "wait a minute" in page and 'href="/signin/verify?next="' in page
    form = again.get("/signin/verify").get_data(as_text=True)
    assert 'name="phone" value="13812341234"' in form
    response = again.post("/signin/verify", data={"phone": "13812341234", "code": last_code()})
    assert response.status_code == 302 and response.headers["Location"] == "/me"


@pytest.mark.parametrize("phone", ["", "123", "abc", "+1", "1381234123456789"])
def test_bad_phone(client, phone):
    response = ask(client, phone)
    assert response.status_code == 422
    assert "valid mobile number" in response.get_data(as_text=True)
    assert SENT == []


def test_signin_next_stays_in_the_shop(client):
    ask(client)
    response = client.post(
        "/signin/verify",
        data={"phone": "13812341234", "code": last_code(), "next": "//evil.example/x"},
    )
    assert response.headers["Location"] == "/me"


def test_the_right_code_spent_meanwhile_by_another_tap_says_it_was_used(client, app, monkeypatch):
    """Two taps on 登录 at once: the second finds the code spent between its check and its
    spend, and is told the code was used, not that it is wrong."""
    from shop.customers import signin
    from shop.customers.models import LoginCode

    ask(client)
    code = last_code()
    with app.app_context():
        engine = db.engine
    digest = signin._digest

    def spent_by_the_other_tap(phone, typed):  # checked right after this, then spent
        with engine.begin() as other:  # the other tap spends the code, and commits first
            other.execute(update(LoginCode).values(used_at=utcnow()))
        return digest(phone, typed)

    monkeypatch.setattr(signin, "_digest", spent_by_the_other_tap)
    response = client.post("/signin/verify", data={"phone": "13812341234", "code": code})
    assert response.status_code == 422
    assert "That code has expired, or was used." in response.get_data(as_text=True)

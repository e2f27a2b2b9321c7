"""Staff sign-in: hashed passwords, the failed-login limit, inactive accounts, sign-out, CSRF."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shop.catalog.models import Category
from shop.demo.factories import make_category
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.orders.models import Order, OrderStatus
from shop.staff.models import LoginAttempt, Role, Staff
from tests.test_admin.conftest import EMAILS, PASSWORD, csrf_token, login, make_fast_staff


def test_admin_pages_send_visitors_to_sign_in(client, shop_data):
    response = client.get("/admin/orders/?page=1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=/admin/orders/")


def test_sign_in_goes_to_the_page_asked_for(client, shop_data, app):
    with app.app_context():
        stored = db.session.get(Staff, shop_data.staff[Role.OWNER]).password_hash
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))

    response = client.post(
        "/admin/login",
        data={"email": "  OWNER@test.example ", "password": PASSWORD, "next": "/admin/orders/"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/orders/"
    page = client.get("/admin/").get_data(as_text=True)
    assert "Orders today" in page and "owner" in page


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/shop"])
def test_sign_in_never_redirects_outside_the_admin(client, shop_data, target):
    response = client.post(
        "/admin/login", data={"email": EMAILS[Role.OWNER], "password": PASSWORD, "next": target}
    )
    assert response.headers["Location"] == "/admin/"


def test_wrong_password_is_refused_and_counted(client, shop_data, app):
    response = login(client, Role.OWNER, "wrong-password")
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LoginAttempt)) == 1


def test_too_many_failures_lock_the_email_without_checking_the_password(
    client, shop_data, app, monkeypatch
):
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        assert login(client, Role.OWNER, "guess").status_code == 401

    def must_not_be_called(self, password):
        raise AssertionError("the password was checked while locked")

    monkeypatch.setattr(Staff, "check_password", must_not_be_called)
    response = login(client, Role.OWNER, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_one_address_cannot_lock_every_staff_member_out(client, shop_data, app):
    for n in range(app.config["LOGIN_MAX_FAILURES"]):
        login(client, f"nobody{n}@test.example", "guess")
    assert login(client, Role.FINANCE).status_code == 302


def test_a_locked_out_email_still_signs_in_from_another_address(client, shop_data, app):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        login(client, Role.FINANCE, "guess")
    assert login(client, Role.FINANCE).status_code == 429
    response = app.test_client().post(
        "/admin/login",
        data={"email": EMAILS[Role.FINANCE], "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert response.status_code == 302


def _guess_via(app, forwarded_for: str):
    return app.test_client().post(
        "/admin/login",
        data={"email": EMAILS[Role.OWNER], "password": "guess"},
        headers={"X-Forwarded-For": forwarded_for},
    )


def test_a_forwarded_address_is_not_trusted_without_a_proxy(client, shop_data, app):
    """Without TRUSTED_PROXIES, a guesser cannot dodge the lock-out by inventing addresses."""
    for n in range(app.config["LOGIN_MAX_FAILURES"]):
        assert _guess_via(app, f"203.0.113.{n}").status_code == 401
    assert _guess_via(app, "203.0.113.99").status_code == 429


class TestBehindAProxy:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "TRUSTED_PROXIES": 1}

    def test_the_forwarded_address_is_the_one_locked_out(self, client, shop_data, app):
        for _ in range(app.config["LOGIN_MAX_FAILURES"]):
            assert _guess_via(app, "203.0.113.7").status_code == 401
        assert _guess_via(app, "203.0.113.7").status_code == 429
        response = app.test_client().post(
            "/admin/login",
            data={"email": EMAILS[Role.OWNER], "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.4"},
        )
        assert response.status_code == 302


def test_old_failures_no_longer_count(client, shop_data, app):
    with app.app_context():
        long_ago = utcnow() - app.config["LOGIN_WINDOW"] - timedelta(minutes=1)
        for _ in range(app.config["LOGIN_MAX_FAILURES"]):
            db.session.add(
                LoginAttempt(email=EMAILS[Role.OWNER], ip="127.0.0.1", created_at=long_ago)
            )
        db.session.commit()
    assert login(client, Role.OWNER).status_code == 302


def test_inactive_staff_cannot_sign_in_or_stay_signed_in(client, shop_data, app):
    assert login(client, Role.SUPPORT).status_code == 302
    with app.app_context():
        db.session.get(Staff, shop_data.staff[Role.SUPPORT]).active = False
        db.session.commit()
    assert client.get("/admin/orders/").status_code == 302
    response = login(client, Role.SUPPORT)
    assert response.status_code == 401
    assert "deactivated" in response.get_data(as_text=True)


def test_store_guides_cannot_use_the_admin(client, shop_data, app):
    with app.app_context():
        make_fast_staff("guide@test.example", Role.GUIDE)
        db.session.commit()
    response = login(client, "guide@test.example")
    assert response.status_code == 401
    assert "cannot use the admin panel" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_sign_out(client, shop_data):
    login(client, Role.OWNER)
    assert client.get("/admin/").status_code == 200
    response = client.post("/admin/logout")
    assert response.headers["Location"] == "/admin/login"
    assert client.get("/admin/").status_code == 302


@pytest.mark.csrf
class TestWithCsrf:
    def test_sign_in_without_token_is_refused(self, client, shop_data):
        response = login(client, Role.OWNER)
        assert response.status_code == 400
        assert client.get("/admin/").status_code == 302

    def test_order_action_without_token_is_refused(self, as_role, shop_data, app):
        client = as_role(Role.OWNER)
        forged = client.post("/admin/orders/act/", data={"id": shop_data.order_a, "verb": "cancel"})
        assert forged.status_code == 302
        with app.app_context():
            assert db.session.get(Order, shop_data.order_a).status == OrderStatus.AWAITING_PAYMENT

        details = client.get(f"/admin/orders/details/?id={shop_data.order_a}")
        token = csrf_token(details.get_data(as_text=True))
        done = client.post(
            "/admin/orders/act/",
            data={"id": shop_data.order_a, "verb": "cancel", "csrf_token": token},
        )
        assert done.status_code == 302
        with app.app_context():
            assert db.session.get(Order, shop_data.order_a).status == OrderStatus.CANCELLED

    def test_list_action_and_edit_form_without_token_are_refused(self, as_role, app):
        with app.app_context():
            spare = make_category("Spare").id
            db.session.commit()
        client = as_role(Role.OWNER)
        forged = {"action": "delete", "rowid": str(spare)}
        assert client.post("/admin/categories/action/", data=forged).status_code == 302
        client.post(f"/admin/categories/edit/?id={spare}", data={"name": "Hacked", "slug": "x"})
        with app.app_context():
            assert db.session.get(Category, spare).name == "Spare"

        token = csrf_token(client.get("/admin/categories/").get_data(as_text=True))
        client.post("/admin/categories/action/", data={**forged, "csrf_token": token})
        with app.app_context():
            assert db.session.get(Category, spare) is None

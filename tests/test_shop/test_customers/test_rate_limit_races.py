"""Rate limits hold under simultaneous requests (PostgreSQL): thirty staff passwords posted at
once get ``LOGIN_MAX_FAILURES`` checked; five code requests for one phone at once send one."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shop.customers import signin
from shop.customers.models import LoginCode
from shop.errors import InvalidInput
from shop.extensions import db
from shop.staff import auth
from shop.staff.models import Role, Staff
from tests.support.races import all_at_once
from tests.support.shop import make_owner

pytestmark = pytest.mark.postgres


def test_thirty_passwords_at_once_get_the_limit_checked(app, monkeypatch):
    with app.app_context():
        make_owner()
        limit = app.config["LOGIN_MAX_FAILURES"]
    checked = []
    real_check = Staff.check_password

    def counting_check(self, password):
        checked.append(password)
        return real_check(self, password)

    monkeypatch.setattr(Staff, "check_password", counting_check)

    def guess(i):
        with app.app_context():
            staff, _message = auth.authenticate(
                "owner@example.com", f"guess-{i}", "198.51.100.1", {Role.OWNER}, "no"
            )
            return staff

    assert all_at_once(30, guess) == [None] * 30
    assert len(checked) == limit


def test_five_code_requests_for_one_phone_at_once_send_one(app, monkeypatch):
    sent = []
    monkeypatch.setattr(
        signin, "sender", lambda: type("S", (), {"send": lambda _s, p, m: sent.append(p)})()
    )

    def ask(i):
        with app.app_context():
            try:
                return signin.request_code("13812345678", f"198.51.100.{i}")
            except InvalidInput:
                return None

    results = all_at_once(5, ask)
    assert sum(result is not None for result in results) == 1
    assert sent == ["13812345678"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LoginCode)) == 1
